// Package podiumapi is Podium's API as edgesync's client speaks it: the
// bodies it sends and reads (../shared/design/podium-api.md). The rules in
// projectors make them, the client in connectors/podium sends them; the
// emulator (sim/podiumemu) declares its own from the same document, so a
// field named wrong here fails a test instead of being mirrored.
package podiumapi

import "time"

// Address is Podium's contact address.
type Address struct {
	AddressLine1 string `json:"addressLine1,omitempty"`
	AddressLine2 string `json:"addressLine2,omitempty"`
	City         string `json:"city,omitempty"`
	State        string `json:"state,omitempty"`
	PostalCode   string `json:"postalCode,omitempty"`
	Country      string `json:"country,omitempty"`
}

// Attribute is one contact attribute value.
type Attribute struct {
	UID   string `json:"uid"`
	Value string `json:"value"`
}

// Contact is the contact body edgesync sends: the fields Edge owns.
type Contact struct {
	Name        string      `json:"name,omitempty"` // always set on a create; an update may leave it out
	Locations   []string    `json:"locations,omitempty"`
	PhoneNumber string      `json:"phoneNumber,omitempty"`
	Email       string      `json:"email,omitempty"`
	Address     *Address    `json:"address,omitempty"`
	Attributes  []Attribute `json:"attributes,omitempty"`
}

// FeedEvent is one data-feed event.
type FeedEvent struct {
	EventID     string            `json:"eventId"` // edgesync's event id: a resend is recognisable
	Type        string            `json:"type"`
	OccurredAt  time.Time         `json:"occurredAt"`
	LocationUID string            `json:"locationUid"`
	Contact     *FeedContact      `json:"contact,omitempty"`
	Purchase    *Purchase         `json:"purchase,omitempty"`
	Appointment *AppointmentEntry `json:"appointment,omitempty"`
	ServiceJob  *ServiceEntry     `json:"serviceJob,omitempty"`
	Product     *Product          `json:"product,omitempty"`
}

// FeedContact names the contact an activity belongs to.
type FeedContact struct {
	Identifier  string `json:"identifier"`
	Name        string `json:"name"`
	PhoneNumber string `json:"phoneNumber,omitempty"`
	Email       string `json:"email,omitempty"`
}

// Purchase is a client purchase (an Edge sale). Amounts are decimal strings.
type Purchase struct {
	SaleNumber string         `json:"saleNumber"`
	Date       time.Time      `json:"date"`
	Subtotal   string         `json:"subtotal"`
	Tax        string         `json:"tax"`
	Total      string         `json:"total"`
	Void       bool           `json:"void"`
	Lines      []PurchaseLine `json:"lines"`
}

// PurchaseLine is one line of a purchase.
type PurchaseLine struct {
	Type        string `json:"type"`
	ItemNumber  string `json:"itemNumber,omitempty"`
	Description string `json:"description,omitempty"`
	Quantity    int    `json:"quantity"`
	Amount      string `json:"amount"`
}

// AppointmentEntry is a timeline entry for an appointment.
type AppointmentEntry struct {
	Number             string     `json:"number"`
	StatusName         string     `json:"statusName"` // created, updated, completed, cancelled, no_show
	TypeName           string     `json:"typeName"`
	Description        string     `json:"description,omitempty"`
	StartDateTimeInUTC time.Time  `json:"startDateTimeInUtc"`
	EndDateTimeInUTC   *time.Time `json:"endDateTimeInUtc,omitempty"`
	IsCancelled        bool       `json:"isCancelled"`
	Result             string     `json:"result,omitempty"`
}

// ServiceEntry is a timeline entry for a service job.
type ServiceEntry struct {
	Number          string     `json:"number"`
	JobType         string     `json:"jobType"`
	Status          string     `json:"status"` // Not Ready, Done, Picked Up
	Summary         string     `json:"summary,omitempty"`
	ItemDescription string     `json:"itemDescription,omitempty"`
	DateEntered     time.Time  `json:"dateEntered"`
	PromisedDate    *time.Time `json:"promisedDate,omitempty"`
	EstimatedPrice  string     `json:"estimatedPrice,omitempty"`
}

// Product is an Edge item as a Podium product, searchable by item number.
type Product struct {
	XID        string `json:"xid"` // the Edge item number
	ItemNumber string `json:"itemNumber"`
	Name       string `json:"name"`
	Category   string `json:"category,omitempty"`
	Vendor     string `json:"vendor,omitempty"`
	StyleCode  string `json:"styleCode,omitempty"`
	StockType  string `json:"stockType"`
	Price      string `json:"price"`
	Archived   bool   `json:"archived"` // sold or no longer on hand
}

// ReviewInvite asks Podium for a review invitation.
type ReviewInvite struct {
	LocationUID  string `json:"locationUid"`
	PhoneNumber  string `json:"phoneNumber,omitempty"`
	Email        string `json:"email,omitempty"`
	CustomerName string `json:"customerName,omitempty"`
}

// SMS is a text Podium sends as The Edge's SMS provider.
type SMS struct {
	LocationUID string `json:"locationUid"`
	Body        string `json:"body"`
	Phone       string `json:"phone"`
	ContactName string `json:"contactName,omitempty"`
}
