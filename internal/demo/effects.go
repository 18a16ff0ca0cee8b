package demo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
)

// Effects compares what a partner holds with what Edge holds, computed from
// the simulator's and the emulator's own records and nothing the pipeline
// remembers (no links bucket, no projection state): a pipeline bug cannot
// hide behind its own bookkeeping.
type Effects struct {
	Lost       int // Edge customers the partner should hold and does not
	Duplicated int // partner records beyond the first for one Edge customer
	Unmatched  int // partner records no Edge customer accounts for (a change that never came back)
	Stale      int // partner records whose content is not Edge's latest (an update that never arrived)
	// NotSendable counts the Edge customers the partner should hold and
	// cannot (for Podium: neither a phone in E.164 nor an email), which the
	// connector dead-letters with the reason: not lost, but not in sync.
	NotSendable int
	// Examples name a few of the records counted, for the support engineer
	// (and the test log) to look up.
	Examples []string `json:",omitempty"`
}

func (e Effects) String() string {
	s := fmt.Sprintf("%d lost, %d duplicated, %d unmatched", e.Lost, e.Duplicated, e.Unmatched)
	if e.Stale > 0 {
		s += fmt.Sprintf(", %d stale", e.Stale)
	}
	if e.NotSendable > 0 {
		s += fmt.Sprintf(", %d not sendable (dead-lettered with the reason)", e.NotSendable)
	}
	if len(e.Examples) > 0 {
		s += " (" + strings.Join(e.Examples, "; ") + ")"
	}
	return s
}

// example names a counted record, up to five.
func (e *Effects) example(s string) {
	if len(e.Examples) < 5 {
		e.Examples = append(e.Examples, s)
	}
}

// Clean reports whether nothing was lost, doubled, left unmatched or stale.
func (e Effects) Clean() bool {
	return e.Lost == 0 && e.Duplicated == 0 && e.Unmatched == 0 && e.Stale == 0
}

// customerIndex finds Edge customers by the identities a partner record
// carries: the Edge writer's own link table, then email and phone.
type customerIndex struct {
	db      *edgesim.DB
	byValue map[string]string
	want    map[string]bool // customers the partner should hold
	// unsendable are wanted customers the partner cannot hold: counted
	// NotSendable, not Lost, when it does not.
	unsendable map[string]bool
}

func newCustomerIndex(db *edgesim.DB, want func(*schemas.Customer) bool) customerIndex {
	ix := customerIndex{db: db, byValue: map[string]string{}, want: map[string]bool{}}
	for _, k := range db.CustomerKeys() {
		c := db.Customer(k)
		if want(c) {
			ix.want[k] = true
		}
		for _, m := range c.ContactMethods {
			if v := identity(m.Method, m.Value); v != "" {
				if _, taken := ix.byValue[v]; !taken {
					ix.byValue[v] = k
				}
			}
		}
	}
	return ix
}

func identity(method, value string) string {
	switch method {
	case schemas.MethodEmail:
		return "e:" + strings.ToLower(strings.TrimSpace(value))
	case schemas.MethodPhone:
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, value)
		if len(digits) > 10 {
			digits = digits[len(digits)-10:]
		}
		if digits == "" {
			return ""
		}
		return "p:" + digits
	}
	return ""
}

// find returns the Edge customer of a partner record, or "".
func (ix customerIndex) find(partner string, ids []string, emails, phones []string) string {
	for _, id := range ids {
		if k, _ := ix.db.LinkedKey(context.Background(), partner, "customer", id); k != "" {
			return k
		}
	}
	for _, e := range emails {
		if k := ix.byValue[identity(schemas.MethodEmail, e)]; k != "" {
			return k
		}
	}
	for _, p := range phones {
		if k := ix.byValue[identity(schemas.MethodPhone, p)]; k != "" {
			return k
		}
	}
	return ""
}

// tally counts keys (the Edge customer of each partner record, labels[i]
// naming the record) against the customers the partner should hold.
func (ix customerIndex) tally(keys, labels []string) Effects {
	var e Effects
	seen := map[string]int{}
	for i, k := range keys {
		if k == "" || !ix.want[k] {
			e.Unmatched++
			e.example("unmatched " + labels[i])
			continue
		}
		seen[k]++
	}
	for _, k := range slices.Sorted(maps.Keys(ix.want)) {
		switch n := seen[k]; {
		case n == 0 && ix.unsendable[k]:
			e.NotSendable++
			e.example("not sendable Edge customer " + k)
		case n == 0:
			e.Lost++
			e.example("lost Edge customer " + k)
		case n > 1:
			e.Duplicated += n - 1
			e.example(fmt.Sprintf("Edge customer %s held %d times", k, n))
		}
	}
	return e
}

// PodiumEffects checks Podium's contacts against the customers set to
// synchronize.
func PodiumEffects(db *edgesim.DB, emu *podiumemu.Emulator) Effects {
	ix := newCustomerIndex(db, func(c *schemas.Customer) bool { return c.SyncEnabled && !c.Inactive })
	ix.unsendable = map[string]bool{}
	for k := range ix.want {
		if !projectors.PodiumSendable(db.Customer(k)) {
			ix.unsendable[k] = true
		}
	}
	var keys, labels []string
	for _, c := range emu.Contacts() {
		ids := []string{c.UID}
		for _, conv := range c.Conversations {
			ids = append(ids, conv.UID)
		}
		keys = append(keys, ix.find("podium", ids, c.Emails, c.PhoneNumbers))
		labels = append(labels, fmt.Sprintf("podium contact %s %q %v", c.UID, c.Name, c.Emails))
	}
	return ix.tally(keys, labels)
}

// ClientbookEffects checks Clientbook's clients against every customer.
func ClientbookEffects(db *edgesim.DB, emu *clientbookemu.Emulator) Effects {
	return newClientbookView(db, emu).effects()
}

// ClientbookPurchases checks Clientbook's purchases against Edge's sales:
// each sale of a customer is a purchase of that customer's client, with
// the sale's total and void mark. A sale without one is lost; one whose
// total or mark differs is stale (an update that never arrived).
func ClientbookPurchases(ctx context.Context, db *edgesim.DB, emu *clientbookemu.Emulator) (Effects, error) {
	return newClientbookView(db, emu).purchases(ctx)
}

// clientbookView is Clientbook's clients, each with the Edge customer it
// stands for: read once for both checks.
type clientbookView struct {
	db      *edgesim.DB
	emu     *clientbookemu.Emulator
	ix      customerIndex
	clients []clientbookemu.Client
	keys    []string // the Edge customer of clients[i], or ""
	labels  []string
}

// newClientbookView finds the Edge customer of each Clientbook client: its
// external id when edgesync made it, else the writer's link or its email
// or phone.
func newClientbookView(db *edgesim.DB, emu *clientbookemu.Emulator) clientbookView {
	v := clientbookView{db: db, emu: emu, ix: newCustomerIndex(db, func(*schemas.Customer) bool { return true }), clients: emu.Clients()}
	for _, c := range v.clients {
		v.labels = append(v.labels, fmt.Sprintf("clientbook client %s %s %s (external %q)", c.ID, c.FirstName, c.LastName, c.ExternalID))
		if c.ExternalID != "" {
			v.keys = append(v.keys, c.ExternalID)
			continue
		}
		var emails, phones []string
		for _, m := range c.Emails {
			emails = append(emails, m.Value)
		}
		for _, m := range c.Phones {
			phones = append(phones, m.Value)
		}
		v.keys = append(v.keys, v.ix.find("clientbook", []string{c.ID}, emails, phones))
	}
	return v
}

func (v clientbookView) effects() Effects { return v.ix.tally(v.keys, v.labels) }

func (v clientbookView) purchases(ctx context.Context) (Effects, error) {
	clientOf := map[string]string{}
	for i, k := range v.keys {
		if _, taken := clientOf[k]; k != "" && !taken {
			clientOf[k] = v.clients[i].ID
		}
	}
	var e Effects
	_, err := v.db.Snapshot(ctx, schemas.EntitySale, func(r capture.Row) error {
		s, ok := r.Data.(*schemas.Sale)
		if !ok || s.CustomerKey == "" {
			return nil
		}
		p, ok := v.emu.Purchase(clientOf[s.CustomerKey], s.Key)
		switch {
		case !ok:
			e.Lost++
			e.example("lost purchase of Edge sale " + s.Key)
		case p.Total != s.Total || (p.Status == "void") != s.Void:
			e.Stale++
			e.example(fmt.Sprintf("Edge sale %s: total %d, void %t; Clientbook: total %d, status %q", s.Key, s.Total, s.Void, p.Total, p.Status))
		}
		return nil
	})
	if err != nil {
		return e, fmt.Errorf("read Edge sales: %w", err)
	}
	return e, nil
}

// DuplicateEmails counts Edge customers beyond the first that carry the same
// email: a partner's new client written into Edge twice shows here.
func DuplicateEmails(db *edgesim.DB) int {
	seen, dups := map[string]bool{}, 0
	for _, k := range db.CustomerKeys() {
		own := map[string]bool{}
		for _, m := range db.Customer(k).ContactMethods {
			if v := identity(m.Method, m.Value); m.Method == schemas.MethodEmail && v != "" && !own[v] {
				own[v] = true
				if seen[v] {
					dups++
				}
				seen[v] = true
			}
		}
	}
	return dups
}
