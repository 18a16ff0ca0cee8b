package clientbookemu

import (
	"encoding/json"
	"fmt"

	"github.com/edgesync/edgesync/sim/emulator"
)

// state is what MarshalState keeps: the data, the webhooks with the events
// still queued for them, not counters.
type state struct {
	Webhooks    []emulator.SavedWebhook `json:"webhooks,omitempty"`
	Clients     []Client                `json:"clients"`
	Products    []Product               `json:"products"`
	Collections []*Collection           `json:"collections"`
	Purchases   []*Purchase             `json:"purchases"`
	Activities  []*Activity             `json:"activities"`
	Messages    []Message               `json:"messages"`
}

// MarshalState returns the emulator's data for persistence.
func (e *Emulator) MarshalState() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := state{Messages: e.messages, Webhooks: e.hooks.Saved()}
	for _, id := range e.order {
		s.Clients = append(s.Clients, *e.clients[id])
	}
	for _, p := range e.products {
		s.Products = append(s.Products, *p)
	}
	for _, c := range e.collections {
		s.Collections = append(s.Collections, c)
	}
	for _, p := range e.purchases {
		s.Purchases = append(s.Purchases, p)
	}
	for _, id := range e.actOrder {
		s.Activities = append(s.Activities, e.activities[id])
	}
	return json.Marshal(s)
}

// UnmarshalState restores data written by MarshalState.
func (e *Emulator) UnmarshalState(body []byte) error {
	var s state
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("clientbook emulator state: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range s.Clients {
		c := s.Clients[i]
		e.clients[c.ID] = &c
		e.order = append(e.order, c.ID)
		if c.ExternalID != "" {
			e.byExternal[c.ExternalID] = c.ID
		}
	}
	for i := range s.Products {
		p := s.Products[i]
		e.products[p.ExternalID] = &p
	}
	for _, c := range s.Collections {
		e.collections[c.ClientID+"/"+c.Name] = c
	}
	for _, p := range s.Purchases {
		e.purchases[p.ClientID+"/"+p.ExternalID] = p
	}
	for _, a := range s.Activities {
		e.activities[a.ID] = a
		e.actOrder = append(e.actOrder, a.ID)
	}
	e.messages = s.Messages
	e.hooks.Restore(s.Webhooks)
	return nil
}

// Persist keeps the emulator's state in path from now on, written before
// each change is acknowledged (see emulator.Core.PersistTo).
func (e *Emulator) Persist(path string) { e.PersistTo(path, e.MarshalState, e.hooks) }
