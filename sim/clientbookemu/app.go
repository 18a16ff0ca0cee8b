package clientbookemu

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// What a person does in the Clientbook app: each change is stored and
// delivered to the webhooks subscribed to its type.

// emit queues a webhook event in Clientbook's envelope.
func (e *Emulator) emit(eventType string, data any) {
	body, _ := json.Marshal(map[string]any{
		"id": "ev_" + uuid.NewString(), "type": eventType, "occurredAt": e.now().UTC().Format(time.RFC3339Nano), "data": data,
	})
	e.hooks.Emit(eventType, "", body)
}

// CreateClientInApp adds a client as a store associate would.
func (e *Emulator) CreateClientInApp(c Client) Client {
	e.mu.Lock()
	c.ID = "cl_" + uuid.NewString()
	c.ExternalID = ""
	c.UpdatedAt = e.now().UTC()
	if c.Preferences == nil {
		c.Preferences = map[string]string{}
	}
	e.clients[c.ID] = &c
	e.order = append(e.order, c.ID)
	out := c
	e.mu.Unlock()
	e.emit("client.created", out)
	return out
}

// EditClientInApp changes a client as a store associate would.
func (e *Emulator) EditClientInApp(id string, edit func(*Client)) bool {
	e.mu.Lock()
	c, ok := e.clients[id]
	if !ok {
		e.mu.Unlock()
		return false
	}
	edit(c)
	c.UpdatedAt = e.now().UTC()
	out := *c
	e.mu.Unlock()
	e.emit("client.updated", out)
	return true
}

// EditCollectionInApp changes a client's named collection; new items get
// ids and no external id, as items added by hand do.
func (e *Emulator) EditCollectionInApp(clientID, name string, edit func([]CollectionItem) []CollectionItem) bool {
	e.mu.Lock()
	c, ok := e.clients[clientID]
	if !ok {
		e.mu.Unlock()
		return false
	}
	col := e.collection(clientID, name)
	items := edit(append([]CollectionItem(nil), col.Items...))
	for i := range items {
		if items[i].ID == "" {
			items[i].ID = "ci_" + uuid.NewString()
		}
	}
	col.Items = items
	data := struct {
		Collection
		ClientExternalID string `json:"clientExternalId"`
	}{*col, c.ExternalID}
	e.mu.Unlock()
	e.emit("collection.updated", data)
	return true
}

type activityEvent struct {
	Activity
	ClientExternalID string `json:"clientExternalId"`
}

// AddActivityInApp writes a note on a client's recent activity.
func (e *Emulator) AddActivityInApp(clientID, text string) (Activity, bool) {
	e.mu.Lock()
	c, ok := e.clients[clientID]
	if !ok {
		e.mu.Unlock()
		return Activity{}, false
	}
	a := &Activity{ID: "ac_" + uuid.NewString(), ClientID: clientID,
		ActivityBody: ActivityBody{Type: "note", Text: text, OccurredAt: e.now().UTC()}}
	e.activities[a.ID] = a
	e.actOrder = append(e.actOrder, a.ID)
	data := activityEvent{*a, c.ExternalID}
	e.mu.Unlock()
	e.emit("activity.created", data)
	return *a, true
}

// EditActivityInApp changes the text of an activity entry, whoever wrote it.
func (e *Emulator) EditActivityInApp(id, text string) bool {
	e.mu.Lock()
	a, ok := e.activities[id]
	if !ok {
		e.mu.Unlock()
		return false
	}
	a.Text = text
	data := activityEvent{*a, e.clients[a.ClientID].ExternalID}
	e.mu.Unlock()
	e.emit("activity.updated", data)
	return true
}

// SendMessageInApp sends an email or text to a client from the app.
func (e *Emulator) SendMessageInApp(clientID, channel, subject, body string) bool {
	e.mu.Lock()
	c, ok := e.clients[clientID]
	e.mu.Unlock()
	if !ok {
		return false
	}
	e.emit("message.sent", messageEvent{
		ID: "ms_" + uuid.NewString(), ClientID: clientID, ClientExternalID: c.ExternalID, Channel: channel,
		Direction: "outbound", Subject: subject, Body: body, SentAt: e.now().UTC(),
	})
	return true
}
