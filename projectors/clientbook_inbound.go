package projectors

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"
)

// ClientbookClientEvent is a client.created or client.updated webhook.
type ClientbookClientEvent struct {
	Person PartnerPerson
	// ExternalID is the Edge key of a client edgesync wrote; "" for a client
	// made in Clientbook and not yet written by edgesync.
	ExternalID string
}

// ParseClientbookClient reads a client webhook's data. The acquisition is
// the preference named acquisitionPreference.
func ParseClientbookClient(data json.RawMessage, acquisitionPreference string) (ClientbookClientEvent, error) {
	var c clientbookapi.Client
	if err := json.Unmarshal(data, &c); err != nil {
		return ClientbookClientEvent{}, fmt.Errorf("clientbook client event: %w", err)
	}
	if c.ID == "" {
		return ClientbookClientEvent{}, errors.New("clientbook client event: the client has no id")
	}
	p := PartnerPerson{PartnerID: c.ID, FirstName: strings.TrimSpace(c.FirstName), LastName: strings.TrimSpace(c.LastName),
		Location: c.StoreID, Preferences: map[string]string{}}
	for _, e := range c.Emails {
		p.Emails = append(p.Emails, e.Value)
	}
	for _, ph := range c.Phones {
		p.Phones = append(p.Phones, ph.Value)
	}
	if len(c.Addresses) > 0 {
		a := c.Addresses[0]
		p.Address = &a
	}
	for name, v := range c.Preferences {
		p.Preferences[name] = strings.TrimSpace(v)
	}
	p.Acquisition = p.Preferences[acquisitionPreference]
	return ClientbookClientEvent{Person: p, ExternalID: c.ExternalID}, nil
}

// ClientbookCollectionEvent is a collection.updated webhook.
type ClientbookCollectionEvent struct {
	ID               string                         `json:"id"`
	ClientID         string                         `json:"clientId"`
	ClientExternalID string                         `json:"clientExternalId"`
	Name             string                         `json:"name"`
	Items            []clientbookapi.CollectionItem `json:"items"`
}

// ParseClientbookCollection reads a collection webhook's data.
func ParseClientbookCollection(data json.RawMessage) (ClientbookCollectionEvent, error) {
	var ev ClientbookCollectionEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("clientbook collection event: %w", err)
	}
	if ev.ClientID == "" {
		return ev, errors.New("clientbook collection event: clientId is required")
	}
	for i, it := range ev.Items {
		if it.ID == "" {
			return ev, fmt.Errorf("clientbook collection event: item %d has no id", i)
		}
	}
	return ev, nil
}

// CollectionItems turns a collection's items into what MergeCollection
// reads: a SKU naming an Edge item makes a stock wish.
func (ev ClientbookCollectionEvent) CollectionItems() []CollectionItem {
	out := make([]CollectionItem, 0, len(ev.Items))
	for _, it := range ev.Items {
		out = append(out, CollectionItem{PartnerID: it.ID, Description: it.Name, ItemKey: it.SKU, VendorID: it.Vendor, VendStyleCode: it.StyleCode})
	}
	return out
}

// ClientbookActivityEvent is an activity.created or activity.updated webhook.
type ClientbookActivityEvent struct {
	ID               string    `json:"id"`
	ClientID         string    `json:"clientId"`
	ClientExternalID string    `json:"clientExternalId"`
	ExternalID       string    `json:"externalId"` // the Edge note key of a note edgesync wrote
	Type             string    `json:"type"`
	Text             string    `json:"text"`
	OccurredAt       time.Time `json:"occurredAt"`
}

// ParseClientbookActivity reads an activity webhook's data.
func ParseClientbookActivity(data json.RawMessage) (ClientbookActivityEvent, error) {
	var ev ClientbookActivityEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("clientbook activity event: %w", err)
	}
	if ev.ID == "" || ev.ClientID == "" {
		return ev, errors.New("clientbook activity event: id and clientId are required")
	}
	return ev, nil
}

// ClientbookMessageEvent is a message.sent webhook.
type ClientbookMessageEvent struct {
	ID               string    `json:"id"`
	ClientID         string    `json:"clientId"`
	ClientExternalID string    `json:"clientExternalId"`
	Channel          string    `json:"channel"`   // sms, email
	Direction        string    `json:"direction"` // outbound, inbound
	Subject          string    `json:"subject"`
	Body             string    `json:"body"`
	SentAt           time.Time `json:"sentAt"`
}

// ParseClientbookMessage reads a message webhook's data.
func ParseClientbookMessage(data json.RawMessage) (ClientbookMessageEvent, error) {
	var ev ClientbookMessageEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("clientbook message event: %w", err)
	}
	if ev.ID == "" || ev.ClientID == "" {
		return ev, errors.New("clientbook message event: id and clientId are required")
	}
	switch ev.Channel {
	case "sms", "email":
	default:
		return ev, fmt.Errorf("clientbook message event: channel %q: want sms or email", ev.Channel)
	}
	return ev, nil
}

// Activity is the Edge activity entry of the message.
func (ev ClientbookMessageEvent) Activity() Activity {
	body := ev.Body
	if ev.Subject != "" {
		body = ev.Subject + "\n" + body
	}
	dir := "OUTBOUND"
	if ev.Direction == "inbound" {
		dir = "INBOUND"
	}
	return Activity{At: ev.SentAt, Kind: "MESSAGE", Channel: strings.ToUpper(ev.Channel), Direction: dir, Body: body,
		Source: partnerSource(PartnerClientbook), PartnerID: ev.ID}
}

// WishOwner reads the Edge wish an "Edge" collection item stands for: an
// item edgesync wrote carries the wish's product id as external id.
func WishOwner(it clientbookapi.CollectionItem) (customerKey string, wishID int, ok bool) {
	return ParseWishProductID(it.ExternalID)
}
