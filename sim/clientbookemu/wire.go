package clientbookemu

import "time"

// The bodies of docs/clientbook-api.md, declared here from the document
// rather than taken from the connector's client: a field the client names
// wrongly is then missing at the emulator, and a test fails, instead of
// being mirrored by it.

// Contact is one email or phone of a client.
type Contact struct {
	Value     string `json:"value"`
	Type      string `json:"type,omitempty"`
	Preferred bool   `json:"preferred,omitempty"`
	CanText   bool   `json:"canText,omitempty"`
}

// Address is a client's postal address.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postalCode,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Client is what Clientbook holds for one client.
type Client struct {
	ID          string            `json:"id,omitempty"`
	ExternalID  string            `json:"externalId,omitempty"`
	StoreID     string            `json:"storeId,omitempty"`
	FirstName   string            `json:"firstName"`
	LastName    string            `json:"lastName"`
	Emails      []Contact         `json:"emails"`
	Phones      []Contact         `json:"phones"`
	Addresses   []Address         `json:"addresses"`
	Preferences map[string]string `json:"preferences"`
	AssociateID string            `json:"associateId,omitempty"`
	UpdatedAt   time.Time         `json:"updatedAt,omitzero"`
}

// ProductBody is a product upsert: it merges the fields it sets.
type ProductBody struct {
	ExternalID  string `json:"externalId"`
	SKU         string `json:"sku,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Price       int64  `json:"price,omitempty"`
	Category    string `json:"category,omitempty"`
	Vendor      string `json:"vendor,omitempty"`
	StyleCode   string `json:"styleCode,omitempty"`
	Status      string `json:"status"`
	Kind        string `json:"kind"`
	ClientID    string `json:"clientId,omitempty"`
}

// Product statuses and kinds.
const (
	ProductActive    = "active"
	ProductArchived  = "archived"
	ProductInventory = "inventory"
	ProductWish      = "wish"
	ProductSold      = "sold"
	ProductService   = "service"
)

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

// ActivityBody is a recent-activity entry as written.
type ActivityBody struct {
	Type        string    `json:"type"`
	Text        string    `json:"text"`
	OccurredAt  time.Time `json:"occurredAt"`
	AssociateID string    `json:"associateId,omitempty"`
}

// PurchaseBody is a client purchase as written.
type PurchaseBody struct {
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

// TextBody is a text to send.
type TextBody struct {
	StoreID    string `json:"storeId,omitempty"`
	Phone      string `json:"phone"`
	Body       string `json:"body"`
	ExternalID string `json:"externalId"`
}

// messageEvent is a message.sent webhook's data.
type messageEvent struct {
	ID               string    `json:"id"`
	ClientID         string    `json:"clientId"`
	ClientExternalID string    `json:"clientExternalId"`
	Channel          string    `json:"channel"`
	Direction        string    `json:"direction"`
	Subject          string    `json:"subject"`
	Body             string    `json:"body"`
	SentAt           time.Time `json:"sentAt"`
}
