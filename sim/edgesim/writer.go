package edgesim

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
)

// Activity is an entry of a customer's Activity tab written by edgesync
// (messages sent in a partner).
type Activity = projectors.Activity

func linkKey(partner, entity, partnerID string) string {
	return partner + "/" + entity + "/" + partnerID
}

// Customer lookups for the Edge writer; they satisfy writer.EdgeStore.

// CustomerByKey returns a copy of a customer, or nil.
func (db *DB) CustomerByKey(_ context.Context, key string) (*schemas.Customer, error) {
	return db.Customer(key), nil
}

// CustomerByEmail returns the key of the customer with that email
// (trimmed, case-insensitive), or "".
func (db *DB) CustomerByEmail(_ context.Context, email string) (string, error) {
	var key string
	_, err := db.Update("", func(tx *Tx) error { key = tx.CustomerByEmail(email); return nil })
	return key, err
}

// LinkedKey returns the Edge key a partner record is linked to, or "".
func (db *DB) LinkedKey(_ context.Context, partner, entity, partnerID string) (string, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.links[linkKey(partner, entity, partnerID)], nil
}

// NoteByKey returns a copy of a note, or nil.
func (db *DB) NoteByKey(_ context.Context, key string) (*schemas.Note, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	n := db.notes.get(key)
	if n == nil {
		return nil, nil
	}
	cp := *n
	return &cp, nil
}

// WishLinks maps a partner's item ids to the customer's linked wish ids.
func (db *DB) WishLinks(_ context.Context, partner, customerKey string) (map[string]int, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := map[string]int{}
	prefix := linkKey(partner, "wish", "")
	wl := db.wishlists.get(customerKey)
	for k, v := range db.links {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		c, idStr, _ := strings.Cut(v, "#")
		id, _ := strconv.Atoi(idStr)
		if c != customerKey || wl == nil {
			continue
		}
		for _, w := range wl.Wishes {
			if w.ID == id {
				out[strings.TrimPrefix(k, prefix)] = id
			}
		}
	}
	return out, nil
}

// Applied reports whether an event is in the ledger.
func (db *DB) Applied(eventID string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	_, ok := db.ledger[eventID]
	return ok
}

// Activities returns a customer's activity entries.
func (db *DB) Activities(customerKey string) []Activity {
	db.mu.Lock()
	defer db.mu.Unlock()
	return append([]Activity(nil), db.activities[customerKey]...)
}

// Apply runs an event's commands in one transaction on behalf of origin,
// with its id in the ledger: an event already there changes nothing and
// reports applied false.
func (db *DB) Apply(_ context.Context, origin, eventID string, cmds []projectors.Command) (bool, error) {
	applied := false
	_, err := db.Update(origin, func(tx *Tx) error {
		if _, done := tx.db.ledger[eventID]; done {
			return nil
		}
		created := ""
		target := func(key string) string {
			if key == "" {
				return created
			}
			return key
		}
		for _, c := range cmds {
			if err := tx.apply(c, &created, target); err != nil {
				return fmt.Errorf("apply %T: %w", c, err)
			}
		}
		at := tx.Now()
		if tx.own.Ledger == nil {
			tx.own.Ledger = map[string]time.Time{}
		}
		tx.own.Ledger[eventID] = at
		applied = true
		return nil
	})
	if err != nil {
		return false, rejected{err}
	}
	return applied, nil
}

// rejected is a command the database refuses (a missing customer, a bad
// field): retrying will not help, so the writer dead-letters the event.
type rejected struct{ error }

func (r rejected) Unwrap() error { return r.error }
func (rejected) Permanent() bool { return true }

func (tx *Tx) link(partner, entity, partnerID, value string) {
	if tx.own.Links == nil {
		tx.own.Links = map[string]string{}
	}
	tx.own.Links[linkKey(partner, entity, partnerID)] = value
}

func (tx *Tx) apply(c projectors.Command, created *string, target func(string) string) error {
	switch c := c.(type) {
	case projectors.CreateCustomer:
		key, err := tx.NewCustomer(c.Store, c.Customer)
		*created = key
		return err
	case projectors.AddContactMethod:
		cust := tx.Customer(target(c.CustomerKey))
		if cust == nil {
			return fmt.Errorf("customer %s not found", c.CustomerKey)
		}
		for _, m := range cust.ContactMethods {
			if m.Method == c.Method.Method && strings.EqualFold(m.Value, c.Method.Value) && m.Address == nil && !m.Inactive {
				return nil // already there (a redelivery under a new id, or the user typed it)
			}
		}
		_, err := tx.AddContactMethod(cust.Key, c.Method)
		return err
	case projectors.SetSyncEnabled:
		cust := tx.Customer(target(c.CustomerKey))
		if cust == nil {
			return nil // an UPDATE of a row that is not there changes nothing, as in SQL Server
		}
		cust.SyncEnabled = true
		return tx.PutCustomer(cust)
	case projectors.SetCustomField:
		if len(c.Field) != 4 || !strings.HasPrefix(c.Field, "Key") || c.Field[3] < '1' || c.Field[3] > '8' {
			return fmt.Errorf("custom field %q: want Key1..Key8", c.Field)
		}
		cust := tx.Customer(target(c.CustomerKey))
		if cust == nil {
			return nil // an UPDATE of a row that is not there changes nothing
		}
		if cust.CustomFields == nil {
			cust.CustomFields = map[string]string{}
		}
		cust.CustomFields[c.Field] = c.Value
		return tx.PutCustomer(cust)
	case projectors.AddWish:
		id, err := tx.AddWish(target(c.CustomerKey), c.Wish)
		if err == nil && c.PartnerID != "" {
			tx.link(partnerOf(c.Wish.Source), "wish", c.PartnerID, target(c.CustomerKey)+"#"+strconv.Itoa(id))
		}
		return err
	case projectors.RemoveWish:
		tx.RemoveWish(target(c.CustomerKey), c.WishID)
		return nil
	case projectors.PutNote:
		n := c.Note
		n.CustomerKey = target(n.CustomerKey)
		key, err := tx.PutNote(n)
		if err == nil && c.PartnerID != "" && c.Note.ID == 0 {
			tx.link(partnerOf(n.Source), "note", c.PartnerID, key)
		}
		return err
	case projectors.AddActivity:
		key := target(c.CustomerKey)
		if tx.Customer(key) == nil {
			return fmt.Errorf("customer %s not found", key)
		}
		a := c.Activity
		tx.own.Activities = append(tx.own.Activities, keyedActivity{Customer: key, Activity: a})
		return nil
	case projectors.SetNotificationStatus:
		n := tx.Notification(c.NotificationKey)
		if n == nil {
			return nil // an UPDATE of a row that is not there changes nothing
		}
		n.Status = c.Status
		tx.PutNotification(*n)
		return nil
	case projectors.Link:
		tx.link(c.Partner, c.Entity, c.PartnerID, target(c.EdgeKey))
		return nil
	}
	return fmt.Errorf("unknown command %T", c)
}

func partnerOf(source string) string { return strings.ToLower(source) }
