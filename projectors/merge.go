package projectors

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/edgesync/edgesync/schemas"
)

// Command is one write the Edge writer applies, all of an event's commands
// in one transaction. Commands only add or change what the merge rules
// allow: none of them erases an Edge contact method.
type Command interface{ command() }

// CreateCustomer adds a customer a partner created. Later commands of the
// same event that name no customer apply to it.
type CreateCustomer struct {
	Store    string
	Customer schemas.Customer
}

// AddContactMethod adds a contact method (never replacing one).
type AddContactMethod struct {
	CustomerKey string
	Method      schemas.ContactMethod
}

// SetSyncEnabled sets a customer to synchronize.
type SetSyncEnabled struct{ CustomerKey string }

// SetCustomField sets one of Key1..Key8.
type SetCustomField struct {
	CustomerKey string
	Field       string
	Value       string
}

// AddWish adds a wish to a customer's wish list; PartnerID links it.
type AddWish struct {
	CustomerKey string
	Wish        schemas.Wish
	PartnerID   string
}

// RemoveWish removes a wish (a wish the partner removed from its "Edge" collection).
type RemoveWish struct {
	CustomerKey string
	WishID      int
}

// PutNote adds a note (ID 0) or changes an existing note's text.
type PutNote struct {
	Note      schemas.Note
	PartnerID string
}

// AddActivity records a partner message on the customer's Activity tab.
type AddActivity struct {
	CustomerKey string
	Activity    Activity
}

// Activity is one entry of a customer's activity.
type Activity struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`      // MESSAGE
	Channel   string    `json:"channel"`   // SMS, EMAIL
	Direction string    `json:"direction"` // INBOUND, OUTBOUND
	Body      string    `json:"body"`
	Source    string    `json:"source"`
	PartnerID string    `json:"partnerId"`
}

// SetNotificationStatus records what the SMS provider did with an Edge text.
type SetNotificationStatus struct {
	NotificationKey string
	Status          string
	Reason          string
	ProviderID      string
}

// Link records that a partner id is an Edge key (a customer created or
// matched from the partner), in the Edge transaction, so the next event of
// that partner record finds it.
type Link struct {
	Partner   string
	Entity    string // customer, note, wish
	PartnerID string
	EdgeKey   string // empty: the customer CreateCustomer makes
}

// EdgeRecord names, for the log, the Edge record commands write: the
// customer most of them name, a note or a text, or "new customer in store
// NNN" for one they create.
func EdgeRecord(cmds []Command) string {
	for _, c := range cmds {
		switch c := c.(type) {
		case CreateCustomer:
			return "new customer in store " + c.Store
		case AddContactMethod:
			return c.CustomerKey
		case SetSyncEnabled:
			return c.CustomerKey
		case SetCustomField:
			return c.CustomerKey
		case AddWish:
			return c.CustomerKey
		case RemoveWish:
			return c.CustomerKey
		case AddActivity:
			return c.CustomerKey
		case PutNote:
			if c.Note.CustomerKey != "" {
				return c.Note.CustomerKey
			}
		case SetNotificationStatus:
			return c.NotificationKey
		}
	}
	return ""
}

func (CreateCustomer) command()        {}
func (AddContactMethod) command()      {}
func (SetSyncEnabled) command()        {}
func (SetCustomField) command()        {}
func (AddWish) command()               {}
func (RemoveWish) command()            {}
func (PutNote) command()               {}
func (AddActivity) command()           {}
func (SetNotificationStatus) command() {}
func (Link) command()                  {}

// PartnerPerson is a partner's customer record, reduced to what the merge
// rules read: Podium contacts and Clientbook clients both map to it.
type PartnerPerson struct {
	PartnerID   string
	Name        string
	FirstName   string
	LastName    string
	Emails      []string
	Phones      []string
	Address     *schemas.Address
	Acquisition string            // the partner's acquisition value, if any
	Preferences map[string]string // Clientbook preferences by name
	Location    string            // partner location / store, for new customers
}

// MergeOptions are the inbound settings of one partner.
type MergeOptions struct {
	Partner string // podium, clientbook
	// Download is false for Podium's "upload only" option: nothing comes back.
	Download bool
	// Stores maps a partner location to the Edge store that gets customers
	// created there.
	Stores map[string]string
	// Preferences maps a partner preference name to an Edge custom field
	// (Key1..Key8); AcquisitionPreference names the one holding acquisition.
	Preferences           map[string]string
	AcquisitionPreference string
}

// EdgeMatch is what the writer found in Edge for a partner person.
type EdgeMatch struct {
	Customer *schemas.Customer // nil: none
	Linked   bool              // found through a link (a known partner record), not by email
	// Pushed holds, per custom field, the value edgesync last sent to the
	// partner: a partner value equal to it is our own echo, not a change.
	Pushed map[string]string
}

func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func partnerSource(partner string) string { return strings.ToUpper(partner) }

// SourceOf is the Source the Edge writer gives the records a partner
// creates in Edge (contact methods, notes, wishes): "PODIUM", "CLIENTBOOK".
func SourceOf(partner string) string { return partnerSource(partner) }

// WithoutSource is c without the contact methods of source: the customer as
// Edge's own data has it, apart from what a partner added.
func WithoutSource(c *schemas.Customer, source string) *schemas.Customer {
	out := *c
	out.ContactMethods = nil
	for _, m := range c.ContactMethods {
		if !strings.EqualFold(m.Source, source) {
			out.ContactMethods = append(out.ContactMethods, m)
		}
	}
	return &out
}

// MergePerson turns a partner's new or changed customer into Edge commands.
//
// "In Podium, newly added customers are automatically downloaded to Edge.
// Before adding them as a new record, ECon attempts to match to an existing
// Edge customer based on email ... Customers originating from Podium in this
// manner are automatically set to synchronize."
// "Contact Method changes made in Podium will import as new Edge contact
// methods rather than updating/erasing existing."
// "Acquisition ... changes made in Podium will not overwrite your original
// Acquisition in Edge. Any new customers in Podium not in Edge will have that
// acquisition for the first time."
func MergePerson(p PartnerPerson, m EdgeMatch, opts MergeOptions) ([]Command, error) {
	if !opts.Download {
		return nil, nil
	}
	src := partnerSource(opts.Partner)
	if m.Customer == nil {
		store, ok := opts.Stores[p.Location]
		if !ok {
			return nil, fmt.Errorf("%s location %q is not mapped to an Edge store", opts.Partner, p.Location)
		}
		first, last := p.FirstName, p.LastName
		if first == "" && last == "" {
			first, last = splitName(p.Name)
		}
		if first == "" {
			first = "(" + opts.Partner + " contact)" // Edge requires a first name
		}
		acq := p.Acquisition
		if acq == "" {
			acq = strings.ToUpper(opts.Partner[:1]) + opts.Partner[1:]
		}
		c := schemas.Customer{FirstName: first, LastName: last, SyncEnabled: true, Acquisition: acq}
		c.ContactMethods = newMethods(p, nil, src, true)
		for name, v := range p.Preferences {
			if f, ok := opts.Preferences[name]; ok && name != opts.AcquisitionPreference {
				if c.CustomFields == nil {
					c.CustomFields = map[string]string{}
				}
				c.CustomFields[f] = v
			}
		}
		return []Command{CreateCustomer{Store: store, Customer: c}, Link{Partner: opts.Partner, Entity: "customer", PartnerID: p.PartnerID}}, nil
	}
	key := m.Customer.Key
	var cmds []Command
	if !m.Linked {
		cmds = append(cmds, Link{Partner: opts.Partner, Entity: "customer", PartnerID: p.PartnerID, EdgeKey: key})
		if !m.Customer.SyncEnabled {
			cmds = append(cmds, SetSyncEnabled{CustomerKey: key})
		}
	}
	for _, cm := range newMethods(p, m.Customer, src, false) {
		cmds = append(cmds, AddContactMethod{CustomerKey: key, Method: cm})
	}
	cmds = append(cmds, preferenceChanges(p, m, opts)...)
	return cmds, nil
}

// preferenceChanges applies the documented conflict rule for custom fields,
// which flow both ways: the last change wins. A partner value that equals
// what edgesync last pushed is the partner repeating Edge's value, not a
// change; any other value differing from Edge's is the latest change, and is
// written. The acquisition preference never overwrites Edge.
func preferenceChanges(p PartnerPerson, m EdgeMatch, opts MergeOptions) []Command {
	names := make([]string, 0, len(p.Preferences))
	for n := range p.Preferences {
		names = append(names, n)
	}
	sort.Strings(names)
	var cmds []Command
	for _, name := range names {
		v := p.Preferences[name]
		field, ok := opts.Preferences[name]
		if !ok || name == opts.AcquisitionPreference {
			continue
		}
		if v == m.Customer.CustomFields[field] || (m.Pushed != nil && v == m.Pushed[field]) {
			continue
		}
		cmds = append(cmds, SetCustomField{CustomerKey: m.Customer.Key, Field: field, Value: v})
	}
	return cmds
}

func splitName(name string) (string, string) {
	parts := strings.Fields(name)
	switch len(parts) {
	case 0:
		return "", ""
	case 1:
		return parts[0], ""
	}
	return strings.Join(parts[:len(parts)-1], " "), parts[len(parts)-1]
}

// newMethods lists the partner's emails, phones and address that Edge does
// not have yet (emails case-insensitively, phones by their digits).
func newMethods(p PartnerPerson, c *schemas.Customer, source string, preferred bool) []schemas.ContactMethod {
	have := map[string]bool{}
	if c != nil {
		for _, m := range c.ContactMethods {
			switch m.Method {
			case schemas.MethodEmail:
				have["e:"+normEmail(m.Value)] = true
			case schemas.MethodPhone:
				have["p:"+E164(m.Value)] = true
			case schemas.MethodAddress:
				if m.Address != nil {
					have["a:"+addressKey(*m.Address)] = true
				}
			}
		}
	}
	var out []schemas.ContactMethod
	firstEmail, firstPhone := preferred, preferred
	for _, e := range p.Emails {
		if k := "e:" + normEmail(e); normEmail(e) != "" && !have[k] {
			have[k] = true
			out = append(out, schemas.ContactMethod{Method: schemas.MethodEmail, Type: "Home", Value: strings.TrimSpace(e), Preferred: firstEmail, Source: source})
			firstEmail = false
		}
	}
	for _, ph := range p.Phones {
		if k := "p:" + E164(ph); E164(ph) != "" && !have[k] {
			have[k] = true
			out = append(out, schemas.ContactMethod{Method: schemas.MethodPhone, Type: "Cell", Value: E164(ph), Preferred: firstPhone, CanText: true, Source: source})
			firstPhone = false
		}
	}
	if p.Address != nil && addressKey(*p.Address) != "" && !have["a:"+addressKey(*p.Address)] {
		a := *p.Address
		out = append(out, schemas.ContactMethod{Method: schemas.MethodAddress, Type: "Home", Address: &a, Preferred: preferred, Source: source})
	}
	return out
}

func addressKey(a schemas.Address) string {
	return strings.ToLower(strings.Join(strings.Fields(a.Line1+" "+a.Line2+" "+a.City+" "+a.State+" "+a.PostalCode), " "))
}

// CollectionItem is one product in a partner collection.
type CollectionItem struct {
	PartnerID     string
	Description   string
	ItemKey       string // an Edge item, for stock wishes
	VendorID      string
	VendStyleCode string
}

// CollectionName is the only partner collection that synchronises.
const CollectionName = "Edge"

// MergeCollection turns a partner collection into wish list commands.
// "Only changes to the Collection named Edge on the Clientbook customer
// synchronize. Other Collections are ignored." Items new in the collection
// become wishes (stock when they name an Edge item, non-stock otherwise);
// items gone from it remove their wish. linked maps partner item ids to
// Edge wish ids.
func MergeCollection(customerKey, name string, items []CollectionItem, linked map[string]int, source string, at time.Time) []Command {
	if name != CollectionName {
		return nil
	}
	var cmds []Command
	present := map[string]bool{}
	for _, it := range items {
		present[it.PartnerID] = true
		if _, ok := linked[it.PartnerID]; ok {
			continue
		}
		kind := schemas.WishNonStock
		if it.ItemKey != "" {
			kind = schemas.WishStock
		}
		cmds = append(cmds, AddWish{CustomerKey: customerKey, PartnerID: it.PartnerID, Wish: schemas.Wish{
			Kind: kind, ItemKey: it.ItemKey, VendorID: it.VendorID, VendStyleCode: it.VendStyleCode,
			Description: it.Description, DateEntered: at, Source: source,
		}})
	}
	ids := make([]string, 0, len(linked))
	for id := range linked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !present[id] {
			cmds = append(cmds, RemoveWish{CustomerKey: customerKey, WishID: linked[id]})
		}
	}
	return cmds
}

// MergeActivityNote turns a partner's recent-activity entry into a note:
// new when it is not linked to an Edge note, an edit of that note when it is.
// "Clientbook Recent Activity downloads as Edge Notes. Changes made to
// existing notes in Edge upload to Clientbook and vice-versa."
func MergeActivityNote(customerKey, partnerID, text string, at time.Time, linkedNote *schemas.Note, source string) []Command {
	if linkedNote == nil {
		return []Command{PutNote{PartnerID: partnerID, Note: schemas.Note{CustomerKey: customerKey, Date: at, Text: text, Source: source}}}
	}
	if linkedNote.Text == text {
		return nil // our own push coming back, or no change
	}
	n := *linkedNote
	n.Text = text
	return []Command{PutNote{PartnerID: partnerID, Note: n}}
}

// MergeMessage records a message sent in the partner on the customer's
// activity. "Messages (emails or texts) sent through Clientbook download to
// Edge and appear on the Edge Customer's Activity tab."
func MergeMessage(customerKey string, a Activity) []Command {
	if a.Body == "" && a.Channel == "" {
		return nil
	}
	return []Command{AddActivity{CustomerKey: customerKey, Activity: a}}
}
