package projectors

import (
	"fmt"
	"slices"
	"time"

	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/schemas"
)

// EventMeta is what a rule needs of the envelope around an aggregate.
type EventMeta struct {
	ID     string    // the event id, unique per aggregate state
	Origin string    // partner that caused the change, or ""
	Time   time.Time // when capture saw the change; rules never read a clock
}

// PodiumPerson is what the connector knows of a customer's Podium contact,
// from the customer events it has processed.
type PodiumPerson struct {
	Known      bool   // the customer's event was processed
	Identifier string // Podium contact; empty when the customer is not in Podium
	Name       string
	Phone      string
	Email      string
	LastInvite time.Time // last review invitation, zero if none
}

// PodiumActivityPrior is what the connector remembers of a sale,
// appointment, service job, item or notification.
type PodiumActivityPrior struct {
	Hash   string // of the last payload Podium acknowledged
	Status string // the status last sent (appointments, service jobs)
}

// PodiumActivityResult is the outcome of an activity rule.
type PodiumActivityResult struct {
	Ops    []PodiumOp
	Hash   string // remember once applied
	Status string
	// Invites reports whether Ops hold a review invitation, so the
	// connector records its time for the cool-down.
	Invites bool
}

// Data-feed event types. Podium's public API has no endpoints for purchase
// history, timeline entries or product creation; edgesync sends them as
// events of one data feed whose body shape is ours (docs/podium-data-feed.md).
const (
	FeedPurchase    = "purchase"
	FeedAppointment = "appointment"
	FeedServiceJob  = "service_job"
	FeedProduct     = "product"
)

// Money formats cents as a decimal string.
func Money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

func (p PodiumPerson) contact() *podiumapi.FeedContact {
	return &podiumapi.FeedContact{Identifier: p.Identifier, Name: p.Name, PhoneNumber: p.Phone, Email: p.Email}
}

// addressee checks what every customer activity needs: a customer who is
// in Podium and a Podium location for the store. It returns the location,
// or the skip to report, or ready false while the customer's own event has
// not been processed (the connector waits for it).
func addressee(customerKey, store string, p PodiumPerson, opts PodiumOptions) (loc string, stop *PodiumOp, ready bool) {
	var op PodiumOp
	switch {
	case customerKey == "":
		op = skip("no customer (cash sale)")
	case !p.Known:
		return "", nil, false
	case p.Identifier == "":
		op = skip("customer %s is not in Podium", customerKey)
	default:
		if loc, ok := opts.Locations[store]; ok {
			return loc, nil, true
		}
		op = skip("store %s has no Podium location configured", store)
	}
	return "", &op, true
}

// recent reports whether something that happened at t is recent enough, at
// the event's time, to invite a review.
func recent(ev EventMeta, t time.Time, opts PodiumOptions) bool {
	return ev.Time.Sub(t) <= opts.ReviewWindow
}

// reviewInvite returns an invitation op when the cool-down allows one.
func reviewInvite(ev EventMeta, loc string, p PodiumPerson, opts PodiumOptions) (PodiumOp, bool) {
	if !p.LastInvite.IsZero() && ev.Time.Sub(p.LastInvite) < opts.ReviewCooldown {
		return skip("review invitation sent %s ago, within the cool-down", ev.Time.Sub(p.LastInvite).Round(time.Hour)), false
	}
	return PodiumOp{Kind: PodiumInvite, Invite: &podiumapi.ReviewInvite{LocationUID: loc, PhoneNumber: p.Phone, Email: p.Email, CustomerName: p.Name}}, true
}

// PodiumSale maps a sale to a client purchase, and a finalised sale of
// merchandise (or a pickup) to a review invitation.
// "Edge Sales History uploads to Podium Client Purchases."
func PodiumSale(ev EventMeta, s *schemas.Sale, p PodiumPerson, prior PodiumActivityPrior, opts PodiumOptions) (PodiumActivityResult, bool) {
	res := PodiumActivityResult{Hash: prior.Hash}
	if s == nil {
		res.Ops = []PodiumOp{skip("sale deleted in Edge; Podium keeps the purchase")}
		return res, true
	}
	loc, stop, ready := addressee(s.CustomerKey, s.Store, p, opts)
	if !ready {
		return res, false
	}
	if stop != nil {
		res.Ops = []PodiumOp{*stop}
		return res, true
	}
	pur := &podiumapi.Purchase{SaleNumber: s.Key, Date: s.Date, Subtotal: Money(s.Subtotal), Tax: Money(s.Tax), Total: Money(s.Total), Void: s.Void, Lines: []podiumapi.PurchaseLine{}}
	taken := false
	for _, l := range s.Lines {
		pur.Lines = append(pur.Lines, podiumapi.PurchaseLine{Type: l.Type, ItemNumber: l.ItemKey, Description: l.Description, Quantity: l.Qty, Amount: Money(l.Amount)})
		taken = taken || l.Type == "MERCH" || l.Type == "PICKUP"
	}
	hash := Fingerprint(pur)
	if hash == prior.Hash {
		res.Ops = []PodiumOp{skip("unchanged since last push")}
		return res, true
	}
	res.Hash = hash
	res.Ops = []PodiumOp{{Kind: PodiumFeed, Feed: &podiumapi.FeedEvent{EventID: ev.ID, Type: FeedPurchase, OccurredAt: s.Date, LocationUID: loc, Contact: p.contact(), Purchase: pur}}}
	// "When a sale is revenue realized, or a pickup inventory item is marked
	// Taken, we send the customer details to Podium": once, when first seen.
	if prior.Hash == "" && taken && !s.Void && recent(ev, s.Date, opts) {
		if op, ok := reviewInvite(ev, loc, p, opts); ok {
			res.Ops, res.Invites = append(res.Ops, op), true
		}
	}
	return res, true
}

var appointmentStatus = map[string]string{
	"SUCCESS": "completed", "UNSUCCESS": "completed", "CANCELLED": "cancelled", "NOSHOW": "no_show",
}

// PodiumAppointment maps an appointment to its timeline entry: created,
// updated, completed. "Edge Appointment updates upload to Podium Client
// Activity Timeline." Started or completed appointments invite a review.
func PodiumAppointment(ev EventMeta, a *schemas.Appointment, p PodiumPerson, prior PodiumActivityPrior, opts PodiumOptions) (PodiumActivityResult, bool) {
	res := PodiumActivityResult{Hash: prior.Hash, Status: prior.Status}
	if a == nil {
		res.Ops = []PodiumOp{skip("appointment deleted in Edge")}
		return res, true
	}
	loc, stop, ready := addressee(a.CustomerKey, a.Store, p, opts)
	if !ready {
		return res, false
	}
	if stop != nil {
		res.Ops = []PodiumOp{*stop}
		return res, true
	}
	status := appointmentStatus[a.Status]
	if status == "" {
		status = "updated"
		if prior.Hash == "" {
			status = "created"
		}
	}
	appt := &podiumapi.AppointmentEntry{Number: fmt.Sprintf("%s-%d", a.Store, a.ID), StatusName: status, TypeName: a.Type, Description: a.Description,
		StartDateTimeInUTC: a.BeginAt, EndDateTimeInUTC: a.EndAt, IsCancelled: a.Status == "CANCELLED", Result: a.Result}
	// The status name says created or updated; the hash must not, or every
	// re-delivery would look like a change.
	hashed := *appt
	hashed.StatusName = a.Status
	hash := Fingerprint(hashed)
	res.Status = a.Status
	if hash == prior.Hash {
		res.Ops = []PodiumOp{skip("unchanged since last push")}
		return res, true
	}
	res.Hash = hash
	res.Ops = []PodiumOp{{Kind: PodiumFeed, Feed: &podiumapi.FeedEvent{EventID: ev.ID, Type: FeedAppointment, OccurredAt: ev.Time, LocationUID: loc, Contact: p.contact(), Appointment: appt}}}
	// "When an appointment is Started or Completed ... so Podium can engage
	// with the customer to leave a review."
	observed := prior.Status != "" || recent(ev, a.BeginAt, opts)
	if (a.Status == "STARTED" || a.Status == "SUCCESS") && a.Status != prior.Status && prior.Status != "STARTED" && observed {
		if op, ok := reviewInvite(ev, loc, p, opts); ok {
			res.Ops, res.Invites = append(res.Ops, op), true
		}
	}
	return res, true
}

// podiumServiceStatus is what Podium shows: "Service Job updates are sent
// to Podium with Not Ready, Done, and Picked Up statuses."
var podiumServiceStatus = map[string]string{
	"NOTREADY": "Not Ready", "INPROCESS": "Not Ready", "DONE": "Done", "PICKEDUP": "Picked Up",
}

// PodiumService maps a service job to its timeline entry; a pickup invites
// a review.
func PodiumService(ev EventMeta, j *schemas.ServiceJob, p PodiumPerson, prior PodiumActivityPrior, opts PodiumOptions) (PodiumActivityResult, bool) {
	res := PodiumActivityResult{Hash: prior.Hash, Status: prior.Status}
	if j == nil {
		res.Ops = []PodiumOp{skip("service job deleted in Edge")}
		return res, true
	}
	loc, stop, ready := addressee(j.CustomerKey, j.Store, p, opts)
	if !ready {
		return res, false
	}
	if stop != nil {
		res.Ops = []PodiumOp{*stop}
		return res, true
	}
	status, ok := podiumServiceStatus[j.Status]
	if !ok {
		res.Ops = []PodiumOp{skip("service job %s is %s; Podium shows Not Ready, Done and Picked Up only", j.Key, j.Status)}
		return res, true
	}
	job := &podiumapi.ServiceEntry{Number: j.Key, JobType: j.JobType, Status: status, Summary: j.Summary, ItemDescription: j.ItemDescription,
		DateEntered: j.DateEntered, PromisedDate: j.PromisedDate}
	if j.EstimatedPrice != 0 {
		job.EstimatedPrice = Money(j.EstimatedPrice)
	}
	hash := Fingerprint(job)
	res.Status = status
	if hash == prior.Hash {
		res.Ops = []PodiumOp{skip("unchanged since last push")}
		return res, true
	}
	res.Hash = hash
	res.Ops = []PodiumOp{{Kind: PodiumFeed, Feed: &podiumapi.FeedEvent{EventID: ev.ID, Type: FeedServiceJob, OccurredAt: ev.Time, LocationUID: loc, Contact: p.contact(), ServiceJob: job}}}
	observed := prior.Status != "" || (j.DatePickedUp != nil && recent(ev, *j.DatePickedUp, opts))
	if status == "Picked Up" && prior.Status != "Picked Up" && observed {
		if op, ok := reviewInvite(ev, loc, p, opts); ok {
			res.Ops, res.Invites = append(res.Ops, op), true
		}
	}
	return res, true
}

// PodiumItem maps an item to a product (Clienteling+ only): on hand as an
// active product, sold (special orders included) or otherwise gone as an
// archived one.
func PodiumItem(ev EventMeta, it *schemas.Item, prior PodiumActivityPrior, opts PodiumOptions) PodiumActivityResult {
	res := PodiumActivityResult{Hash: prior.Hash}
	one := func(op PodiumOp) PodiumActivityResult { res.Ops = []PodiumOp{op}; return res }
	switch {
	case opts.Tier != TierClientelingPlus:
		return one(skip("items are a Clienteling+ feature; this account is on %s", opts.Tier))
	case it == nil:
		return one(skip("item deleted in Edge"))
	case slices.Contains(opts.ExcludeCategories, it.CategoryID):
		return one(skip("category %d is excluded", it.CategoryID))
	case slices.Contains(opts.ExcludeVendors, it.VendorID):
		return one(skip("vendor %s is excluded", it.VendorID))
	case slices.Contains(opts.ExcludeStockTypes, it.StockType):
		return one(skip("stock type %s is excluded", it.StockType))
	}
	loc, ok := opts.Locations[it.Store]
	if !ok {
		return one(skip("store %s has no Podium location configured", it.Store))
	}
	archived := it.Status != "I"
	if archived && prior.Hash == "" && it.Status != "S" {
		return one(skip("item %s is not on hand (status %s) and was never uploaded", it.Key, it.Status))
	}
	prod := &podiumapi.Product{XID: it.Key, ItemNumber: it.Key, Name: it.Description, Category: it.Category, Vendor: it.VendorID,
		StyleCode: it.VendStyleCode, StockType: it.StockType, Price: Money(it.CurrentPrice), Archived: archived}
	hash := Fingerprint(prod)
	if hash == prior.Hash {
		return one(skip("unchanged since last push"))
	}
	res.Hash = hash
	return one(PodiumOp{Kind: PodiumFeed, Feed: &podiumapi.FeedEvent{EventID: ev.ID, Type: FeedProduct, OccurredAt: it.DateStatusChanged, LocationUID: loc, Product: prod}})
}

// PodiumNotification sends an Edge text through Podium when Podium is the
// store's SMS provider. failed, when set, is an outcome decided without a
// call (no usable number).
func PodiumNotification(n *schemas.Notification, prior PodiumActivityPrior, opts PodiumOptions) (res PodiumActivityResult, failed string) {
	res.Hash = prior.Hash
	one := func(op PodiumOp) PodiumActivityResult { res.Ops = []PodiumOp{op}; return res }
	switch {
	case n == nil:
		return one(skip("notification deleted in Edge")), ""
	case n.Provider != "PODIUM" || n.Channel != "SMS":
		return one(skip("notification for %s %s, not Podium SMS", n.Provider, n.Channel)), ""
	case prior.Hash != "":
		return one(skip("already handed to Podium")), ""
	case n.Status != "QUEUED":
		return one(skip("notification is %s, not queued", n.Status)), ""
	}
	loc, ok := opts.Locations[n.Store]
	if !ok {
		return one(skip("store %s has no Podium location configured", n.Store)), fmt.Sprintf("store %s has no Podium location", n.Store)
	}
	phone := E164(n.To)
	if phone == "" {
		return one(skip("%q is not a phone number", n.To)), fmt.Sprintf("%q is not a phone number", n.To)
	}
	res.Hash = "sent"
	return one(PodiumOp{Kind: PodiumMessage, Message: &podiumapi.SMS{LocationUID: loc, Body: n.Body, Phone: phone}}), ""
}
