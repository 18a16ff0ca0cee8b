package projectors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"
	"github.com/edgesync/edgesync/schemas"
)

// ClientbookOptions are the outbound settings of one Clientbook account.
type ClientbookOptions struct {
	// Stores maps an Edge store ("001") to its Clientbook store id. A store
	// without an id still syncs, and its clients carry no store.
	Stores map[string]string
	// Preferences maps an Edge custom field (Key1..Key8) to the name of the
	// Clientbook preference that mirrors it.
	Preferences map[string]string
	// AcquisitionPreference names the preference holding the acquisition.
	AcquisitionPreference string
	// Associates maps an Edge associate id to a Clientbook user id. Users
	// are created by hand in Clientbook, never by edgesync.
	Associates map[int]string
	// SMS makes Clientbook the Edge SMS provider for notifications whose
	// provider is CLIENTBOOK.
	SMS bool
}

// Check reports a configuration that cannot work.
func (o ClientbookOptions) Check() error {
	for field, name := range o.Preferences {
		if len(field) != 4 || field[:3] != "Key" || field[3] < '1' || field[3] > '8' {
			return fmt.Errorf("clientbook preference mapping %s=%s: custom fields are Key1..Key8", field, name)
		}
		if name == "" || name == o.AcquisitionName() {
			return fmt.Errorf("clientbook preference mapping %s=%q: name a preference other than the acquisition's", field, name)
		}
	}
	return nil
}

// DefaultAcquisitionPreference is the preference name used for the
// acquisition when none is configured.
const DefaultAcquisitionPreference = "Acquisition"

// AcquisitionName returns the configured acquisition preference name.
func (o ClientbookOptions) AcquisitionName() string {
	if o.AcquisitionPreference == "" {
		return DefaultAcquisitionPreference
	}
	return o.AcquisitionPreference
}

// Clientbook product statuses and kinds.
const (
	ProductActive    = "active"
	ProductArchived  = "archived"
	ProductInventory = "inventory"
	ProductWish      = "wish"
	ProductSold      = "sold"
	ProductService   = "service"
)

// External ids of the products edgesync writes.
func ItemProductID(itemKey string) string { return "item:" + itemKey }
func WishProductID(customerKey string, wishID int) string {
	return fmt.Sprintf("wish:%s:%d", customerKey, wishID)
}
func ServiceProductID(jobKey string) string { return "service:" + jobKey }

// ParseWishProductID reads a wish external id back; ok is false for any
// other id.
func ParseWishProductID(id string) (customerKey string, wishID int, ok bool) {
	rest, found := strings.CutPrefix(id, "wish:")
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", 0, false
	}
	if _, err := fmt.Sscanf(rest[i+1:], "%d", &wishID); err != nil {
		return "", 0, false
	}
	return rest[:i], wishID, true
}

// Associate resolves an Edge associate. ok is false for an associate that
// is set but not mapped: the record syncs without one, and the caller warns.
func (o ClientbookOptions) Associate(id int) (user string, ok bool) {
	if id == 0 {
		return "", true
	}
	user, ok = o.Associates[id]
	return user, ok
}

// ClientbookClientFor is the client of an Edge customer. "Edge Customer
// Contact Methods upload to Clientbook. Contact Method changes made in Edge
// will overwrite (update) the Clientbook customer data." Custom fields go
// to their mapped preferences, and the acquisition to its own preference
// ("It will upload from Edge to Clientbook"). unmapped is an associate id
// with no Clientbook user (0 when none).
func ClientbookClientFor(c *schemas.Customer, opts ClientbookOptions) (cl clientbookapi.Client, unmapped int) {
	cl = clientbookapi.Client{
		ExternalID: c.Key, StoreID: opts.Stores[c.Store], FirstName: c.FirstName, LastName: c.LastName,
		Emails: []clientbookapi.Contact{}, Phones: []clientbookapi.Contact{}, Addresses: []schemas.Address{}, Preferences: map[string]string{},
	}
	for _, m := range c.ContactMethods {
		if m.Inactive {
			continue
		}
		switch m.Method {
		case schemas.MethodEmail:
			if v := strings.TrimSpace(m.Value); v != "" {
				cl.Emails = append(cl.Emails, clientbookapi.Contact{Value: v, Type: strings.ToLower(m.Type), Preferred: m.Preferred})
			}
		case schemas.MethodPhone:
			if v := E164(m.Value); v != "" {
				cl.Phones = append(cl.Phones, clientbookapi.Contact{Value: v, Type: strings.ToLower(m.Type), Preferred: m.Preferred, CanText: m.CanText && !m.OptedOut})
			}
		case schemas.MethodAddress:
			if m.Address != nil {
				cl.Addresses = append(cl.Addresses, *m.Address)
			}
		}
	}
	for field, name := range opts.Preferences {
		if v := c.CustomFields[field]; v != "" {
			cl.Preferences[name] = v
		}
	}
	if c.Acquisition != "" {
		cl.Preferences[opts.AcquisitionName()] = c.Acquisition
	}
	user, ok := opts.Associate(c.AssociateID)
	if !ok {
		unmapped = c.AssociateID
	}
	cl.AssociateID = user
	return cl, unmapped
}

// ClientbookWishes is the "Edge" collection of a wish list and the products
// its wishes also appear as. "Edge Wish Lists upload to a Clientbook
// Collection named Edge. Supports both stock and non-stock wishes. Edge
// wish list items will also appear as Clientbook Products." removed lists
// the wishes pushed before and gone now; their products are archived.
func ClientbookWishes(wl *schemas.WishList, before []int) (items []clientbookapi.CollectionItem, products []clientbookapi.Product) {
	items = []clientbookapi.CollectionItem{}
	present := map[int]bool{}
	for _, w := range wl.Wishes {
		present[w.ID] = true
		id := WishProductID(wl.CustomerKey, w.ID)
		name := w.Description
		if name == "" {
			name = strings.TrimSpace(w.VendorID + " " + w.VendStyleCode)
		}
		items = append(items, clientbookapi.CollectionItem{ExternalID: id, ProductExternalID: id, Name: name, SKU: w.ItemKey, Vendor: w.VendorID, StyleCode: w.VendStyleCode})
		products = append(products, clientbookapi.Product{ExternalID: id, SKU: w.ItemKey, Name: name, Description: wishDetails(w),
			Vendor: w.VendorID, StyleCode: w.VendStyleCode, Status: ProductActive, Kind: ProductWish})
	}
	sort.Ints(before)
	for _, id := range before {
		if !present[id] {
			products = append(products, clientbookapi.Product{ExternalID: WishProductID(wl.CustomerKey, id), Status: ProductArchived, Kind: ProductWish})
		}
	}
	return items, products
}

func wishDetails(w schemas.Wish) string {
	parts := []string{strings.ToLower(strings.ReplaceAll(w.Kind, "NONSTOCK", "non-stock")) + " wish"}
	if w.BuyFor != "" {
		parts = append(parts, "for "+w.BuyFor)
	}
	if w.EventDesc != "" {
		parts = append(parts, w.EventDesc)
	}
	if w.EventDate != nil {
		parts = append(parts, w.EventDate.Format("2006-01-02"))
	}
	return strings.Join(parts, ", ")
}

// ClientbookNote is the recent-activity entry of an Edge note. "Edge
// Customer Notes upload to Clientbook Recent Activity ... Changes made to
// existing notes in Edge upload to Clientbook."
func ClientbookNote(n *schemas.Note, opts ClientbookOptions) (a clientbookapi.Activity, unmapped int) {
	user, ok := opts.Associate(n.AssociateID)
	if !ok {
		unmapped = n.AssociateID
	}
	return clientbookapi.Activity{Type: "note", Text: n.Text, OccurredAt: n.Date, AssociateID: user}, unmapped
}

// ClientbookSale is the client purchase of a sale. "Edge Sales History
// uploads to Clientbook Client Purchases. Sold Edge items are uploaded as
// archived Clientbook Products": each line that sold an item names the
// item's product, and Clientbook archives that product as sold to the
// client (docs/clientbook-api.md), so a sale is one call however many
// items it sold.
func ClientbookSale(s *schemas.Sale, opts ClientbookOptions) (p clientbookapi.Purchase, unmapped int) {
	p = clientbookapi.Purchase{Date: s.Date, StoreID: opts.Stores[s.Store], Total: s.Total, Items: []clientbookapi.PurchaseItem{}}
	if s.Void {
		p.Status = "void"
	}
	if len(s.AssociateIDs) > 0 {
		user, ok := opts.Associate(s.AssociateIDs[0])
		if !ok {
			unmapped = s.AssociateIDs[0]
		}
		p.AssociateID = user
	}
	for _, l := range s.Lines {
		it := clientbookapi.PurchaseItem{SKU: l.ItemKey, Description: l.Description, Quantity: l.Qty, Price: l.Amount}
		if it.Description == "" {
			it.Description = strings.ToLower(l.Type)
		}
		if l.ItemKey != "" && l.Type != "RETURN" {
			it.ProductExternalID = ItemProductID(l.ItemKey)
		}
		p.Items = append(p.Items, it)
	}
	return p, unmapped
}

// ClientbookServiceJob is the 'dummy' archived product of a repair, custom
// job or appraisal: "Edge Service Jobs will also have 'dummy' archived
// Product records created with the details of the job." Special orders are
// not service work; they arrive as items. skip says why none is made.
func ClientbookServiceJob(j *schemas.ServiceJob, clientID string) (p clientbookapi.Product, skip string) {
	switch j.JobType {
	case "REPAIR", "CUSTOM", "APPRAISAL":
	default:
		return p, fmt.Sprintf("%s jobs are not uploaded as products", j.JobType)
	}
	name := fmt.Sprintf("%s job %s", titleWord(j.JobType), j.Key)
	if j.ItemDescription != "" {
		name += ": " + j.ItemDescription
	}
	details := []string{"Status: " + j.Status}
	add := func(label, v string) {
		if v != "" {
			details = append(details, label+": "+v)
		}
	}
	add("Envelope", j.EnvelopeNo)
	add("Item", j.ItemDescription)
	add("Work", j.Summary)
	add("Received", j.DateEntered.Format("2006-01-02"))
	if j.PromisedDate != nil {
		add("Promised", j.PromisedDate.Format("2006-01-02"))
	}
	if j.DateDone != nil {
		add("Done", j.DateDone.Format("2006-01-02"))
	}
	if j.DatePickedUp != nil {
		add("Picked up", j.DatePickedUp.Format("2006-01-02"))
	}
	if j.EstimatedPrice != 0 {
		add("Estimate", Money(j.EstimatedPrice))
	}
	return clientbookapi.Product{ExternalID: ServiceProductID(j.Key), SKU: j.Key, Name: name, Description: strings.Join(details, "\n"),
		Price: j.EstimatedPrice, Status: ProductArchived, Kind: ProductService, ClientID: clientID}, ""
}

func titleWord(s string) string {
	if s == "" {
		return s
	}
	return s[:1] + strings.ToLower(s[1:])
}

// ClientbookItem is the product of an Edge item: "On hand Edge inventory is
// uploaded as Clientbook Products", active and searchable by the Edge item
// number; a sold item is archived. An item neither on hand nor sold (memo
// out, missing, deleted) is archived too, so Clientbook never offers what
// the store cannot sell.
func ClientbookItem(key string, it *schemas.Item) clientbookapi.Product {
	if it == nil {
		return clientbookapi.Product{ExternalID: ItemProductID(key), Status: ProductArchived, Kind: ProductInventory}
	}
	p := clientbookapi.Product{ExternalID: ItemProductID(it.Key), SKU: it.Key, Name: it.Description, Price: it.CurrentPrice,
		Category: it.Category, Vendor: it.VendorID, StyleCode: it.VendStyleCode, Status: ProductActive, Kind: ProductInventory}
	switch it.Status {
	case "I":
	case "S":
		p.Status, p.Kind = ProductArchived, ProductSold
	default:
		p.Status = ProductArchived
	}
	return p
}

// ClientbookNotification is the text Clientbook sends for an Edge
// notification. skip says why nothing is sent; failed, why the notification
// fails without a call.
func ClientbookNotification(key string, n *schemas.Notification, alreadySent bool, opts ClientbookOptions) (m *clientbookapi.SMS, skip, failed string) {
	switch {
	case n == nil:
		return nil, "notification deleted in Edge", ""
	case !opts.SMS:
		return nil, "Clientbook is not the SMS provider (--clientbook-sms)", ""
	case n.Provider != "CLIENTBOOK" || n.Channel != "SMS":
		return nil, fmt.Sprintf("notification for %s %s, not Clientbook SMS", n.Provider, n.Channel), ""
	case alreadySent:
		return nil, "already handed to Clientbook", ""
	case n.Status != "QUEUED":
		return nil, fmt.Sprintf("notification is %s, not queued", n.Status), ""
	}
	phone := E164(n.To)
	if phone == "" {
		return nil, "", fmt.Sprintf("%q is not a phone number", n.To)
	}
	return &clientbookapi.SMS{StoreID: opts.Stores[n.Store], Phone: phone, Body: n.Body, ExternalID: key}, "", ""
}
