// Package clientbookapi is Clientbook's API as edgesync's client speaks
// it: the bodies it sends and reads (docs/clientbook-api.md). The rules in
// projectors make them, the client in connectors/clientbook sends them;
// the emulator (sim/clientbookemu) declares its own from the same
// document, so a field named wrong here fails a test instead of being
// mirrored.
package clientbookapi

import (
	"time"

	"github.com/edgesync/edgesync/schemas"
)

// Contact is one email or phone of a client.
type Contact struct {
	Value     string `json:"value"`
	Type      string `json:"type,omitempty"`
	Preferred bool   `json:"preferred,omitempty"`
	CanText   bool   `json:"canText,omitempty"`
}

// Client is a Clientbook client as edgesync writes and reads it
// (docs/clientbook-api.md).
type Client struct {
	ID          string            `json:"id,omitempty"`
	ExternalID  string            `json:"externalId,omitempty"`
	StoreID     string            `json:"storeId,omitempty"`
	FirstName   string            `json:"firstName"`
	LastName    string            `json:"lastName"`
	Emails      []Contact         `json:"emails"`
	Phones      []Contact         `json:"phones"`
	Addresses   []schemas.Address `json:"addresses"`
	Preferences map[string]string `json:"preferences"`
	AssociateID string            `json:"associateId,omitempty"`
	UpdatedAt   time.Time         `json:"updatedAt,omitzero"` // Clientbook's; never sent
}

// Product is a product; the upsert merges the fields it sets.
type Product struct {
	ExternalID  string `json:"externalId"`
	SKU         string `json:"sku,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Price       int64  `json:"price,omitempty"`
	Category    string `json:"category,omitempty"`
	Vendor      string `json:"vendor,omitempty"`
	StyleCode   string `json:"styleCode,omitempty"`
	Status      string `json:"status"` // active, archived
	Kind        string `json:"kind"`   // inventory, wish, sold, service
	ClientID    string `json:"clientId,omitempty"`
}

// CollectionItem is one entry of a client's collection.
type CollectionItem struct {
	ID                string `json:"id,omitempty"`
	ExternalID        string `json:"externalId,omitempty"`
	ProductExternalID string `json:"productExternalId,omitempty"`
	Name              string `json:"name"`
	SKU               string `json:"sku,omitempty"`
	Vendor            string `json:"vendor,omitempty"`
	StyleCode         string `json:"styleCode,omitempty"`
}

// Activity is a recent-activity entry.
type Activity struct {
	Type        string    `json:"type"` // note
	Text        string    `json:"text"`
	OccurredAt  time.Time `json:"occurredAt"`
	AssociateID string    `json:"associateId,omitempty"`
}

// Purchase is a client purchase.
type Purchase struct {
	Date        time.Time      `json:"date"`
	StoreID     string         `json:"storeId,omitempty"`
	AssociateID string         `json:"associateId,omitempty"`
	Total       int64          `json:"total"`
	Status      string         `json:"status,omitempty"` // void
	Items       []PurchaseItem `json:"items"`
}

// PurchaseItem is one line of a purchase.
type PurchaseItem struct {
	SKU               string `json:"sku,omitempty"`
	Description       string `json:"description"`
	Quantity          int    `json:"quantity"`
	Price             int64  `json:"price"`
	ProductExternalID string `json:"productExternalId,omitempty"`
}

// SMS is a text Clientbook sends for Edge.
type SMS struct {
	StoreID    string `json:"storeId,omitempty"`
	Phone      string `json:"phone"`
	Body       string `json:"body"`
	ExternalID string `json:"externalId"`
}
