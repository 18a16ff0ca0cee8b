package schemas

import "time"

// Entity names an Edge aggregate. It is the second token of an Edge subject.
type Entity string

// The Edge aggregates that capture publishes.
const (
	EntityCustomer     Entity = "customer"
	EntityWishList     Entity = "wishlist"
	EntityNote         Entity = "note"
	EntitySale         Entity = "sale"
	EntityAppointment  Entity = "appointment"
	EntityService      Entity = "service"
	EntityItem         Entity = "item"
	EntityNotification Entity = "notification"
)

// Entities lists every Edge aggregate in the order capture snapshots them:
// customers first, so a consumer that links other aggregates to customers
// usually sees the customer before anything that refers to it.
var Entities = []Entity{
	EntityCustomer, EntityWishList, EntityNote, EntitySale,
	EntityAppointment, EntityService, EntityItem, EntityNotification,
}

// Valid reports whether e is one of Entities.
func (e Entity) Valid() bool {
	for _, k := range Entities {
		if e == k {
			return true
		}
	}
	return false
}

// Contact method kinds, as The Edge stores them.
const (
	MethodPhone   = "PHONE"
	MethodEmail   = "EMAIL"
	MethodAddress = "ADDRESS"
	MethodSocial  = "SOCIAL"
)

// Customer is the whole customer aggregate: the record, its contact methods,
// custom fields, acquisition and linked associate. Events carry it entire so
// that consumers never query Edge.
type Customer struct {
	Key            string            `json:"key"` // "001-000652": store + customer number
	Store          string            `json:"store"`
	Title          string            `json:"title,omitempty"`
	FirstName      string            `json:"firstName"`
	MiddleName     string            `json:"middleName,omitempty"`
	LastName       string            `json:"lastName,omitempty"`
	Company        string            `json:"company,omitempty"`
	Gender         string            `json:"gender,omitempty"` // M, F or U
	Birthday       string            `json:"birthday,omitempty"`
	Anniversary    string            `json:"anniversary,omitempty"`
	AccountKey     string            `json:"accountKey,omitempty"` // primary of a couple; equals Key when single
	AssociateID    int               `json:"associateId,omitempty"`
	Acquisition    string            `json:"acquisition,omitempty"`  // the first why-in
	CustomFields   map[string]string `json:"customFields,omitempty"` // Key1..Key8
	ContactMethods []ContactMethod   `json:"contactMethods"`
	SyncEnabled    bool              `json:"syncEnabled"`
	Inactive       bool              `json:"inactive"`
	DateEntered    time.Time         `json:"dateEntered"`
}

// ContactMethod is one phone, email, address or social handle of a customer.
type ContactMethod struct {
	ID        int      `json:"id"`
	Method    string   `json:"method"`         // PHONE, EMAIL, ADDRESS, SOCIAL
	Type      string   `json:"type,omitempty"` // Home, Work, Cell...
	Value     string   `json:"value,omitempty"`
	Address   *Address `json:"address,omitempty"`
	Preferred bool     `json:"preferred"`
	CanText   bool     `json:"canText,omitempty"`
	OptedOut  bool     `json:"optedOut,omitempty"`
	Source    string   `json:"source,omitempty"` // EDGE, PODIUM, CLIENTBOOK...
	Inactive  bool     `json:"inactive,omitempty"`
}

// Address is a postal address contact method.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postalCode,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Preferred returns the preferred active contact method of the given kind,
// else the first active one, else nil.
func (c *Customer) Preferred(method string) *ContactMethod {
	var first *ContactMethod
	for i := range c.ContactMethods {
		m := &c.ContactMethods[i]
		if m.Method != method || m.Inactive {
			continue
		}
		if m.Preferred {
			return m
		}
		if first == nil {
			first = m
		}
	}
	return first
}

// WishList is a customer's whole wish list: one aggregate per customer, so a
// partner collection can be kept equal to it.
type WishList struct {
	CustomerKey string `json:"customerKey"`
	Store       string `json:"store"`
	Wishes      []Wish `json:"wishes"`
}

// Wish kinds.
const (
	WishStock    = "STOCK"
	WishNonStock = "NONSTOCK"
	WishGeneric  = "GENERIC"
)

// Wish is one wish list entry.
type Wish struct {
	ID            int        `json:"id"`
	Kind          string     `json:"kind"` // STOCK, NONSTOCK, GENERIC
	ItemKey       string     `json:"itemKey,omitempty"`
	VendorID      string     `json:"vendorId,omitempty"`
	VendStyleCode string     `json:"vendStyleCode,omitempty"`
	Description   string     `json:"description"`
	BuyFor        string     `json:"buyFor,omitempty"`
	EventDesc     string     `json:"eventDesc,omitempty"`
	EventDate     *time.Time `json:"eventDate,omitempty"`
	AssociateID   int        `json:"associateId,omitempty"`
	DateEntered   time.Time  `json:"dateEntered"`
	Source        string     `json:"source,omitempty"`
}

// Note is one customer note.
type Note struct {
	ID          int       `json:"id"`
	CustomerKey string    `json:"customerKey"`
	Store       string    `json:"store"`
	AssociateID int       `json:"associateId,omitempty"`
	Date        time.Time `json:"date"`
	Text        string    `json:"text"`
	Locked      bool      `json:"locked,omitempty"`
	Source      string    `json:"source,omitempty"`
}

// Sale is a sale with its lines. Amounts are in cents.
type Sale struct {
	Key          string     `json:"key"` // "001-126396"
	Store        string     `json:"store"`
	SaleNo       int        `json:"saleNo"`
	Date         time.Time  `json:"date"`
	CustomerKey  string     `json:"customerKey,omitempty"` // empty for a cash sale
	Station      string     `json:"station,omitempty"`
	AssociateIDs []int      `json:"associateIds,omitempty"`
	Subtotal     int64      `json:"subtotal"`
	Tax          int64      `json:"tax"`
	Total        int64      `json:"total"`
	Void         bool       `json:"void,omitempty"`
	Lines        []SaleLine `json:"lines"`
}

// SaleLine is one line of a sale.
type SaleLine struct {
	LineNo      int    `json:"lineNo"`
	Type        string `json:"type"` // MERCH, REPAIR, CUSTOM, APPRAISAL, SPECORDER, PICKUP, RETURN...
	ItemKey     string `json:"itemKey,omitempty"`
	JobKey      string `json:"jobKey,omitempty"`
	Qty         int    `json:"qty"`
	Amount      int64  `json:"amount"`
	Description string `json:"description,omitempty"`
}

// Appointment is one appointment with its current status.
type Appointment struct {
	ID          int        `json:"id"`
	ChainID     int        `json:"chainId,omitempty"`
	Store       string     `json:"store"`
	CustomerKey string     `json:"customerKey"`
	AssociateID int        `json:"associateId,omitempty"`
	Type        string     `json:"type"` // WISHLIST, SALESOPP, FOLLOWUP, REPAIR, OTHER
	Description string     `json:"description,omitempty"`
	Priority    string     `json:"priority,omitempty"` // H, M, L
	ContactVia  string     `json:"contactVia,omitempty"`
	BeginAt     time.Time  `json:"beginAt"`
	EndAt       *time.Time `json:"endAt,omitempty"`
	Status      string     `json:"status"` // OPEN, STARTED, SUCCESS, UNSUCCESS, CANCELLED, NOSHOW
	Result      string     `json:"result,omitempty"`
	DateCreated time.Time  `json:"dateCreated"`
}

// ServiceJob is a repair, custom job, special order or appraisal.
type ServiceJob struct {
	Key             string         `json:"key"` // "001-126396-002"
	Store           string         `json:"store"`
	SaleNo          int            `json:"saleNo"`
	JobNo           int            `json:"jobNo"`
	JobType         string         `json:"jobType"` // REPAIR, CUSTOM, SPECORDER, APPRAISAL
	CustomerKey     string         `json:"customerKey"`
	EnvelopeNo      string         `json:"envelopeNo,omitempty"`
	ItemDescription string         `json:"itemDescription,omitempty"`
	Summary         string         `json:"summary,omitempty"`
	DateEntered     time.Time      `json:"dateEntered"`
	PromisedDate    *time.Time     `json:"promisedDate,omitempty"`
	Status          string         `json:"status"` // NOTREADY, INPROCESS, DONE, PICKEDUP, CANCELLED
	DateDone        *time.Time     `json:"dateDone,omitempty"`
	DatePickedUp    *time.Time     `json:"datePickedUp,omitempty"`
	EstimatedPrice  int64          `json:"estimatedPrice,omitempty"`
	History         []StatusChange `json:"history,omitempty"`
}

// StatusChange is one entry of a service job's status history.
type StatusChange struct {
	At   time.Time `json:"at"`
	From string    `json:"from,omitempty"`
	To   string    `json:"to"`
}

// Item is one inventory item.
type Item struct {
	Key               string    `json:"key"` // "001-100-05199": store, category, stock number
	Store             string    `json:"store"`
	CategoryID        int       `json:"categoryId"`
	Category          string    `json:"category,omitempty"`
	StockNo           int       `json:"stockNo"`
	VendorID          string    `json:"vendorId,omitempty"`
	VendStyleCode     string    `json:"vendStyleCode,omitempty"`
	StockType         string    `json:"stockType"` // STOCK, MEMO, CONSIGNMENT, TRADE, SAMPLE, ASSEMBLED, BUILT
	Status            string    `json:"status"`    // I in stock, S sold, L layaway, M memo out, R returned, X missing
	Description       string    `json:"description"`
	RetailPrice       int64     `json:"retailPrice"`
	CurrentPrice      int64     `json:"currentPrice"`
	SoldToCustomerKey string    `json:"soldToCustomerKey,omitempty"`
	SaleKey           string    `json:"saleKey,omitempty"`
	DateStatusChanged time.Time `json:"dateStatusChanged"`
}

// Notification is an outgoing text or email The Edge asks a provider to send.
type Notification struct {
	ID          int       `json:"id"`
	Store       string    `json:"store"`
	CustomerKey string    `json:"customerKey,omitempty"`
	Channel     string    `json:"channel"`  // SMS, EMAIL
	Provider    string    `json:"provider"` // PODIUM, CLIENTBOOK, SMTP...
	To          string    `json:"to"`
	Reason      string    `json:"reason,omitempty"` // JOBREADY, WISHINSTOCK, APPTREMIND...
	RelatedKey  string    `json:"relatedKey,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Body        string    `json:"body"`
	Status      string    `json:"status"` // QUEUED, SENT, FAILED, OPTEDOUT
	QueuedAt    time.Time `json:"queuedAt"`
}
