package projectors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/schemas"
)

// Partner names: the origin of the changes edgesync writes for them and
// the namespace of their links.
const (
	PartnerPodium     = "podium"
	PartnerClientbook = "clientbook"
)

// Podium tiers: items are a Clienteling+ feature.
const (
	TierClienteling     = "clienteling"
	TierClientelingPlus = "clienteling-plus"
)

// PodiumOptions are the per-install settings the Podium rules read.
type PodiumOptions struct {
	// Locations maps an Edge store ("001") to its Podium location uid.
	Locations map[string]string
	// AcquisitionAttribute is the uid of the contact attribute that holds
	// the acquisition (the first why-in); empty leaves it out.
	AcquisitionAttribute string
	// Tier is TierClienteling or TierClientelingPlus.
	Tier string
	// Item filters (Clienteling+): categories, vendors and stock types
	// (MEMO, CONSIGNMENT, TRADE...) that are never uploaded.
	ExcludeCategories []int
	ExcludeVendors    []string
	ExcludeStockTypes []string
	// ReviewCooldown is the least time between two review invitations to
	// one customer.
	ReviewCooldown time.Duration
	// ReviewWindow is how recent a sale, appointment or pickup seen for the
	// first time must be to invite a review: a backfill of years of history
	// must not invite every customer the store ever had.
	ReviewWindow time.Duration
}

// PodiumOpKind says what to do.
type PodiumOpKind int

// Podium operations.
const (
	PodiumSkip         PodiumOpKind = iota // nothing to send; Reason says why
	PodiumCreate                           // POST /v4/contacts (an upsert by phone or email)
	PodiumUpdate                           // PATCH /v4/contacts/{Identifier}
	PodiumSetAttribute                     // POST /v4/contacts/{Identifier}/attributes/{uid}
	PodiumFeed                             // POST /v4/dataFeeds/{feed}/events
	PodiumInvite                           // POST /v4/reviews/invites
	PodiumMessage                          // POST /v4/messages
	// PodiumNotSendable: the customer should be in Podium and cannot be
	// (Reason says why, and what to fix in Edge); never silently skipped,
	// the connector dead-letters the event with the reason.
	PodiumNotSendable
)

// PodiumOp is one operation on Podium.
type PodiumOp struct {
	Kind       PodiumOpKind
	Identifier string // the linked contact, for updates and attributes
	Contact    podiumapi.Contact
	Attribute  podiumapi.Attribute
	Feed       *podiumapi.FeedEvent
	Invite     *podiumapi.ReviewInvite
	Message    *podiumapi.SMS
	Reason     string // for skips
}

func skip(format string, a ...any) PodiumOp {
	return PodiumOp{Kind: PodiumSkip, Reason: fmt.Sprintf(format, a...)}
}

// PodiumPrior is what the connector remembers of a customer.
type PodiumPrior struct {
	Identifier  string // linked Podium contact; empty when never pushed
	Hash        string // of the last contact body Podium acknowledged
	Acquisition string // last acquisition value set
	// Seen is what Podium would show of the customer as of the previous
	// event (Addressee and Address of that event's result): a change that
	// came from Podium compares against it.
	Seen PodiumSeen
}

// PodiumSeen is what Podium shows of a customer, field by field.
type PodiumSeen struct {
	Name, Phone, Email string
	Address            string // fingerprint
}

// PodiumCustomerResult is the outcome of the customer rule.
type PodiumCustomerResult struct {
	Ops  []PodiumOp
	Hash string // of the contact body, to remember once applied
	// Seen is the customer's fields as this event has them, for the next
	// event's PodiumPrior.Seen.
	Seen PodiumSeen
}

// PodiumCustomer maps one customer event to Podium contact operations.
// origin is the event's origin: a change edgesync wrote into Edge on behalf
// of Podium is not sent back to Podium.
func PodiumCustomer(origin string, c *schemas.Customer, prior PodiumPrior, opts PodiumOptions) PodiumCustomerResult {
	one := func(op PodiumOp) PodiumCustomerResult {
		return PodiumCustomerResult{Ops: []PodiumOp{op}, Hash: prior.Hash, Seen: prior.Seen}
	}
	switch {
	case origin == PartnerPodium && (c == nil || prior.Identifier == "" || prior.Seen == PodiumSeen{}):
		// A customer Podium made (the writer links it), or one whose
		// fields were never recorded: Podium has what it sent.
		return one(skip("change came from Podium"))
	case c == nil:
		return one(skip("customer deleted in Edge; Podium keeps the contact"))
	case !c.SyncEnabled:
		return one(skip("customer %s is not set to synchronize", c.Key))
	case c.Inactive:
		return one(skip("customer %s is inactive", c.Key))
	}
	loc, ok := opts.Locations[c.Store]
	if !ok {
		return one(skip("store %s has no Podium location configured", c.Store))
	}
	body := podiumapi.Contact{Locations: []string{loc}}
	body.Name, body.PhoneNumber, body.Email = PodiumAddressee(c)
	if m := c.Preferred(schemas.MethodAddress); m != nil && m.Address != nil {
		a := m.Address
		body.Address = &podiumapi.Address{AddressLine1: a.Line1, AddressLine2: a.Line2, City: a.City, State: a.State, PostalCode: a.PostalCode, Country: a.Country}
	}
	if body.PhoneNumber == "" && body.Email == "" {
		return one(PodiumOp{Kind: PodiumNotSendable, Reason: NotSendableReason})
	}
	hash := Fingerprint(body)
	seen := PodiumSeen{Name: body.Name, Phone: body.PhoneNumber, Email: body.Email}
	if body.Address != nil {
		seen.Address = Fingerprint(body.Address)
	}
	if origin == PartnerPodium {
		return podiumEcho(c, body, hash, seen, prior, opts)
	}
	setAcq := opts.AcquisitionAttribute != "" && c.Acquisition != "" && c.Acquisition != prior.Acquisition
	var ops []PodiumOp
	switch {
	case prior.Identifier == "":
		if setAcq {
			body.Attributes = []podiumapi.Attribute{{UID: opts.AcquisitionAttribute, Value: c.Acquisition}}
			setAcq = false
		}
		ops = append(ops, PodiumOp{Kind: PodiumCreate, Contact: body})
	case hash != prior.Hash:
		ops = append(ops, PodiumOp{Kind: PodiumUpdate, Identifier: prior.Identifier, Contact: body})
	}
	if setAcq {
		ops = append(ops, PodiumOp{Kind: PodiumSetAttribute, Identifier: prior.Identifier,
			Attribute: podiumapi.Attribute{UID: opts.AcquisitionAttribute, Value: c.Acquisition}})
	}
	if len(ops) == 0 {
		res := one(skip("unchanged since last push"))
		res.Seen = seen
		return res
	}
	return PodiumCustomerResult{Ops: ops, Hash: hash, Seen: seen}
}

// podiumEcho handles a change whose last write came from Podium. Change
// Tracking keeps the context of an aggregate's last change only, so an Edge
// user's edit made just before it arrives in the same event with Podium's
// origin: skipping the event would lose that edit for Podium. A Podium
// change only ever adds contact methods to Edge, so a field that differs
// from the previous event's is an Edge user's edit (or a value Podium
// gave, which sending again changes nothing): those fields, and only
// those, are sent, so what Podium changed (a new email, kept in Edge as a
// new contact method) is not overwritten by the echo.
func podiumEcho(c *schemas.Customer, body podiumapi.Contact, hash string, seen PodiumSeen, prior PodiumPrior, opts PodiumOptions) PodiumCustomerResult {
	var edit podiumapi.Contact
	if seen.Name != prior.Seen.Name {
		edit.Name = body.Name
	}
	if seen.Phone != prior.Seen.Phone {
		edit.PhoneNumber = body.PhoneNumber
	}
	if seen.Email != prior.Seen.Email {
		edit.Email = body.Email
	}
	if seen.Address != prior.Seen.Address {
		edit.Address = body.Address
	}
	var ops []PodiumOp
	if edit.Name != "" || edit.PhoneNumber != "" || edit.Email != "" || edit.Address != nil {
		ops = append(ops, PodiumOp{Kind: PodiumUpdate, Identifier: prior.Identifier, Contact: edit})
	}
	if opts.AcquisitionAttribute != "" && c.Acquisition != "" && c.Acquisition != prior.Acquisition {
		ops = append(ops, PodiumOp{Kind: PodiumSetAttribute, Identifier: prior.Identifier,
			Attribute: podiumapi.Attribute{UID: opts.AcquisitionAttribute, Value: c.Acquisition}})
	}
	if len(ops) == 0 {
		return PodiumCustomerResult{Ops: []PodiumOp{skip("change came from Podium")}, Hash: prior.Hash, Seen: seen}
	}
	return PodiumCustomerResult{Ops: ops, Hash: hash, Seen: seen}
}

// NotSendableReason is why a customer set to synchronize is not sent to
// Podium: the reason of its dead letter, the same for every such customer
// so the status page counts them in one line.
const NotSendableReason = "not sendable to Podium: no phone that can be written in E.164 and no email, and Podium identifies contacts by one of them; add one in Edge and the customer is sent"

// PodiumSendable reports whether Podium can hold the customer: it has a
// phone that can be written in E.164 or an email.
func PodiumSendable(c *schemas.Customer) bool {
	_, phone, email := PodiumAddressee(c)
	return phone != "" || email != ""
}

// PodiumAddressee is how Podium knows a customer: the full name, the
// preferred phone in E.164 and the preferred email. The connector keeps it
// to address the customer's purchases, timeline entries and invitations.
func PodiumAddressee(c *schemas.Customer) (name, phone, email string) {
	if m := c.Preferred(schemas.MethodPhone); m != nil {
		phone = E164(m.Value)
	}
	if m := c.Preferred(schemas.MethodEmail); m != nil {
		email = strings.TrimSpace(m.Value)
	}
	return fullName(c), phone, email
}

func fullName(c *schemas.Customer) string {
	parts := []string{c.FirstName}
	if c.LastName != "" {
		parts = append(parts, c.LastName)
	}
	return strings.Join(parts, " ")
}

// E164 normalises a North American or international phone number to
// +<digits>, or returns "" when it cannot be one.
func E164(raw string) string {
	var digits strings.Builder
	for _, r := range raw {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	d := digits.String()
	switch {
	case strings.HasPrefix(strings.TrimSpace(raw), "+") && len(d) >= 8 && len(d) <= 15 && d[0] != '0':
		return "+" + d
	case len(d) == 10 && d[0] >= '2':
		return "+1" + d
	case len(d) == 11 && d[0] == '1':
		return "+" + d
	}
	return ""
}

// Fingerprint is a short hash of what would be sent to a partner: equal
// fingerprints mean nothing changed, so no call is made.
func Fingerprint(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
