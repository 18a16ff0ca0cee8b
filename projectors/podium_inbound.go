package projectors

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/edgesync/edgesync/schemas"
)

// podiumContact is the part of Podium's contact object the rules read.
type podiumContact struct {
	UID          string   `json:"uid"`
	Name         string   `json:"name"`
	Emails       []string `json:"emails"`
	PhoneNumbers []string `json:"phoneNumbers"`
	Address      *struct {
		AddressLine1 *string `json:"addressLine1"`
		AddressLine2 *string `json:"addressLine2"`
		City         *string `json:"city"`
		State        *string `json:"state"`
		PostalCode   *string `json:"postalCode"`
		Country      *string `json:"country"`
	} `json:"address"`
	Attributes []struct {
		Label string `json:"label"`
		Value any    `json:"value"`
	} `json:"attributes"`
	Locations     []struct{ UID string } `json:"locations"`
	Conversations []struct{ UID string } `json:"conversations"`
}

// PodiumContactEvent is a contact.created or contact.updated webhook.
type PodiumContactEvent struct {
	Person PartnerPerson
	// Identifiers are every id the contact answers to (conversation uid,
	// phones, emails): edgesync links a contact by the identifier Podium
	// gave it, which may be any of them.
	Identifiers []string
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ParsePodiumContact reads the "after" contact of a Podium contact webhook's
// data. acquisitionLabel names the attribute holding the acquisition.
func ParsePodiumContact(data json.RawMessage, acquisitionLabel string) (PodiumContactEvent, error) {
	var body struct {
		After *podiumContact `json:"after"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return PodiumContactEvent{}, fmt.Errorf("podium contact event: %w", err)
	}
	c := body.After
	if c == nil {
		return PodiumContactEvent{}, errors.New("podium contact event: no \"after\" contact")
	}
	if c.UID == "" {
		return PodiumContactEvent{}, errors.New("podium contact event: contact has no uid")
	}
	p := PartnerPerson{PartnerID: c.UID, Name: strings.TrimSpace(c.Name), Emails: c.Emails, Phones: c.PhoneNumbers}
	if len(c.Locations) > 0 {
		p.Location = c.Locations[0].UID
	}
	if a := c.Address; a != nil {
		addr := schemas.Address{Line1: str(a.AddressLine1), Line2: str(a.AddressLine2), City: str(a.City), State: str(a.State), PostalCode: str(a.PostalCode), Country: str(a.Country)}
		if addressKey(addr) != "" {
			p.Address = &addr
		}
	}
	for _, a := range c.Attributes {
		if a.Label == acquisitionLabel && acquisitionLabel != "" {
			if s, ok := a.Value.(string); ok {
				p.Acquisition = s
			}
		}
	}
	ev := PodiumContactEvent{Person: p}
	for _, cv := range c.Conversations {
		ev.Identifiers = append(ev.Identifiers, cv.UID)
	}
	ev.Identifiers = append(ev.Identifiers, c.PhoneNumbers...)
	ev.Identifiers = append(ev.Identifiers, c.Emails...)
	return ev, nil
}
