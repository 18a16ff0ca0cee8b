package kit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Anything can make Edge and a partner differ without an event: a record
// deleted or edited by hand in the partner, an Edge restore, a bug.
// Reconcile compares every Edge customer edgesync linked with the
// partner's record, and every partner record with the links, and says
// what differs, by kind; Repair puts both sides back by the seeds' rules:
// Edge's contact methods overwrite the partner's (the connector sends the
// customer again), partner-side values become new Edge contact methods and
// partner-only records reach Edge (through PARTNER and the writer's merge
// rules, as a webhook would bring them); the acquisition is never
// overwritten (the writer's rule).

// Record is one partner record as Reconcile compares it.
type Record struct {
	ID      string    // the partner's id of the record
	Links   []string  // every id edgesync may have linked it by (the id included)
	Values  []string  // its emails and phones
	Changed time.Time // its last change
	Event   schemas.PartnerEnvelope
}

// Records is what a partner's client gives Reconcile and a Watch.
type Records interface {
	// List lists the records of the account changed after since (every
	// record when since is zero), within the rate limit.
	List(ctx context.Context, since time.Time, fn func(Record) error) error
}

// Drift is one difference, by kind.
type Drift struct {
	Kind    string `json:"kind"` // missing, extra, differs
	EdgeKey string `json:"edgeKey,omitempty"`
	ID      string `json:"partnerId,omitempty"`
	Detail  string `json:"detail"`
}

// The kinds of drift.
const (
	Missing = "missing at the partner" // linked in edgesync, gone from the partner
	Extra   = "extra at the partner"   // never reached Edge
	Differs = "contact methods differ"
	// Neither partner's API lists purchases back (Podium's data feed and
	// Clientbook's purchases are write-only), so a purchase missing is
	// read from edgesync's own record: a sale of a linked customer the
	// connector never applied.
	PurchaseMissing = "purchase not sent"
)

// ReconcileReport is what Reconcile found.
type ReconcileReport struct {
	Partner   string  `json:"partner"`
	Store     string  `json:"store,omitempty"`
	Customers int     `json:"customers"` // Edge customers compared (linked ones)
	Records   int     `json:"records"`   // partner records read
	Drift     []Drift `json:"drift"`
	Repaired  bool    `json:"repaired"`

	events map[string]schemas.PartnerEnvelope // by record id: what Repair sends through PARTNER
}

// Reconcile compares partner's records with the Edge customers edgesync
// linked in namespace (the connector's name); store, when set, limits the
// Edge side to one store. It changes nothing. Listing a large account at
// the partner's rate limit takes minutes: it logs its progress, against
// the number of customers Edge holds, with an ETA.
func Reconcile(ctx context.Context, js jetstream.JetStream, recs Records, partner, namespace, store string, log *slog.Logger) (ReconcileReport, error) {
	rep := ReconcileReport{Partner: partner, Store: store, events: map[string]schemas.PartnerEnvelope{}}
	kv, err := js.KeyValue(ctx, streams.BucketLinks)
	if err != nil {
		return rep, fmt.Errorf("open bucket %s: %w", streams.BucketLinks, err)
	}
	links := streams.NewLinks(kv, namespace)
	records := map[string]Record{}
	var all []Record
	expected, _ := streams.SubjectCount(ctx, js, streams.StreamEdge, schemas.EdgeFilter(schemas.EntityCustomer))
	prog := listing{partner: partner, expected: expected, start: time.Now(), log: log}
	log.Info("reconcile: listing the partner's records within its rate limit", "partner", partner, "edge_customers", expected)
	err = recs.List(ctx, time.Time{}, func(r Record) error {
		prog.tick()
		all = append(all, r)
		rep.events[r.ID] = r.Event
		for _, id := range r.Links {
			records[id] = r
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("list %s's records: %w", partner, err)
	}
	rep.Records = len(all)
	log.Info("reconcile: listed the partner's records; comparing them with Edge", "partner", partner, "records", len(all),
		"took", time.Since(prog.start).Round(time.Millisecond))
	filter := schemas.EdgeFilter(schemas.EntityCustomer)
	if store != "" {
		filter = schemas.EdgePrefix + "." + string(schemas.EntityCustomer) + "." + store + ".>"
	}
	linked := map[string]bool{} // partner record ids reached from Edge
	err = streams.EachLatest(ctx, js, streams.StreamEdge, filter, func(m jetstream.Msg) error {
		env, err := schemas.DecodeEnvelope(m.Data())
		if err != nil {
			return nil // dead-lettered by the connectors, with the reason
		}
		id, err := links.PartnerID(ctx, "customer", env.Key)
		if err != nil || id == "" {
			return err
		}
		var c schemas.Customer
		if env.DecodeData(&c) != nil || env.Data == nil || string(env.Data) == "null" {
			return nil // deleted in Edge: the partner's record is kept, by the rules
		}
		rep.Customers++
		r, ok := records[id]
		if !ok {
			rep.Drift = append(rep.Drift, Drift{Kind: Missing, EdgeKey: env.Key, ID: id, Detail: "the partner no longer holds the record edgesync made for this customer"})
			return nil
		}
		linked[r.ID] = true
		if d := compare(&c, r); d != "" {
			rep.Drift = append(rep.Drift, Drift{Kind: Differs, EdgeKey: env.Key, ID: r.ID, Detail: d})
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if err := unsentPurchases(ctx, js, &rep, links, namespace, store); err != nil {
		return rep, err
	}
	if store == "" {
		for _, r := range all {
			if linked[r.ID] {
				continue
			}
			key, err := linkedKey(ctx, links, r)
			if err != nil {
				return rep, err
			}
			if key == "" {
				rep.Drift = append(rep.Drift, Drift{Kind: Extra, ID: r.ID, Detail: "never reached Edge: " + strings.Join(r.Values, ", ")})
			}
		}
	}
	return rep, nil
}

// unsentPurchases reports the sales of linked customers whose latest
// state the connector never applied: no state, or an older one. A sale
// still queued behind an upload is one of them until the upload reaches
// it.
func unsentPurchases(ctx context.Context, js jetstream.JetStream, rep *ReconcileReport, links streams.Links, namespace, store string) error {
	projection, err := js.KeyValue(ctx, streams.BucketProjection)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", streams.BucketProjection, err)
	}
	filter := schemas.EdgeFilter(schemas.EntitySale)
	if store != "" {
		filter = schemas.EdgePrefix + "." + string(schemas.EntitySale) + "." + store + ".>"
	}
	return streams.EachLatest(ctx, js, streams.StreamEdge, filter, func(m jetstream.Msg) error {
		env, err := schemas.DecodeEnvelope(m.Data())
		if err != nil {
			return nil // dead-lettered by the connectors, with the reason
		}
		var sale schemas.Sale
		if env.Data == nil || string(env.Data) == "null" || env.DecodeData(&sale) != nil || sale.CustomerKey == "" {
			return nil
		}
		if id, err := links.PartnerID(ctx, "customer", sale.CustomerKey); err != nil || id == "" {
			return err // a customer the partner does not hold has no purchases there
		}
		at, ok, err := streams.GetJSON[Position](ctx, projection, namespace+"."+string(schemas.EntitySale)+"."+env.Key)
		if err != nil {
			return err
		}
		if ok && !env.Supersedes(at.Epoch, at.Version) {
			return nil
		}
		held := "none"
		if ok {
			held = fmt.Sprintf("version %d", at.Version)
		}
		rep.Drift = append(rep.Drift, Drift{Kind: PurchaseMissing, EdgeKey: env.Key,
			Detail: fmt.Sprintf("sale of customer %s at Edge version %d; the connector applied %s (queued behind an upload, dead-lettered, or lost)", sale.CustomerKey, env.Version, held)})
		return nil
	})
}

// listing logs a listing's progress every progressEvery.
type listing struct {
	partner  string
	expected int // Edge's customers: about as many records are expected
	start    time.Time
	logged   time.Time
	n        int
	log      *slog.Logger
}

// progressEvery is how often a listing logs its progress (a variable for
// tests).
var progressEvery = 5 * time.Second

func (l *listing) tick() {
	l.n++
	last := l.logged
	if last.IsZero() {
		last = l.start
	}
	if time.Since(last) < progressEvery {
		return
	}
	l.logged = time.Now()
	el := time.Since(l.start)
	rate := float64(l.n) / el.Seconds()
	attrs := []any{"partner", l.partner, "listed", l.n, "per_sec", float64(int(rate*10)) / 10}
	if l.expected > l.n && rate > 0 {
		attrs = append(attrs, "of_about", l.expected, "eta", (time.Duration(float64(l.expected-l.n)/rate) * time.Second).Round(time.Second))
	}
	l.log.Info("reconcile: listing", attrs...)
}

// linkedKey is the Edge key any of r's ids is linked to.
func linkedKey(ctx context.Context, links streams.Links, r Record) (string, error) {
	for _, id := range r.Links {
		if key, err := links.EdgeKey(ctx, "customer", id); err != nil || key != "" {
			return key, err
		}
	}
	return "", nil
}

// compare says how a linked record's contact methods differ from the Edge
// customer's: a value only the partner holds (edited there, and not yet
// an Edge contact method), or, of emails and of phones, none of the
// partner's an Edge value while Edge's preferred one is missing there (a
// value edited at the partner and merged into Edge is in line: Edge keeps
// both, the partner the one its user chose).
func compare(c *schemas.Customer, r Record) string {
	edge := map[string]bool{}
	for _, m := range c.ContactMethods {
		edge[Normalize(m.Value)] = true
	}
	have := map[string]bool{}
	known := map[bool]bool{} // by "is an email": the partner holds a value Edge knows
	var partnerOnly, edgeOnly []string
	for _, v := range r.Values {
		n := Normalize(v)
		have[n] = true
		if edge[n] {
			known[strings.Contains(n, "@")] = true
		} else {
			partnerOnly = append(partnerOnly, v)
		}
	}
	for _, kind := range []string{schemas.MethodEmail, schemas.MethodPhone} {
		if m := c.Preferred(kind); m != nil && !have[Normalize(m.Value)] && !known[kind == schemas.MethodEmail] {
			edgeOnly = append(edgeOnly, m.Value)
		}
	}
	var parts []string
	if len(partnerOnly) > 0 {
		parts = append(parts, "at the partner only: "+strings.Join(partnerOnly, ", "))
	}
	if len(edgeOnly) > 0 {
		parts = append(parts, "in Edge only: "+strings.Join(edgeOnly, ", "))
	}
	return strings.Join(parts, "; ")
}

// Normalize compares emails by case and phones by their digits (a leading
// country code 1 aside).
func Normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.Contains(s, "@") {
		return s
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(digits) == 11 {
		digits = strings.TrimPrefix(digits, "1")
	}
	return digits
}

// RepairConfig names what Repair works with.
type RepairConfig struct {
	Durable       string // the connector's consumer on EDGE
	Namespace     string // its state and links
	WriterDurable string // the Edge writer's consumer on PARTNER
	// Settle bounds the wait for the writer and the connector to take
	// what the repair's first step sent (2 min when zero).
	Settle time.Duration
}

// Repair puts both sides back by the rules, in two steps. First the
// partner-side values and the records that never reached Edge go through
// PARTNER to the writer, as a webhook's would, and Repair waits until the
// writer and the connector are quiet (what the writer wrote into Edge comes
// back to the connector as the partner's own change, which it does not
// echo). Then, for a customer missing at the partner or whose Edge values
// are missing there, the connector's state is dropped and the connector
// sends the customer again (a replay of its latest state), as it sends
// again a purchase it never sent. The connector
// and the writer must be running. The records are those rep's Reconcile
// listed: a repair does not list the account again.
func Repair(ctx context.Context, js jetstream.JetStream, rep *ReconcileReport, cfg RepairConfig) error {
	if cfg.Settle <= 0 {
		cfg.Settle = 2 * time.Minute
	}
	published := 0
	for _, d := range rep.Drift {
		if d.Kind != Extra && !(d.Kind == Differs && strings.Contains(d.Detail, "at the partner only")) {
			continue
		}
		pe, ok := rep.events[d.ID]
		if !ok {
			continue // not a listed record: nothing to bring
		}
		m, err := pe.Msg()
		if err != nil {
			return err
		}
		if _, err := streams.PublishMsg(ctx, js, m); err != nil {
			return fmt.Errorf("publish %s's record %s: %w", rep.Partner, d.ID, err)
		}
		published++
	}
	if published > 0 {
		if err := settle(ctx, js, cfg); err != nil {
			return err
		}
	}
	projection, err := js.KeyValue(ctx, streams.BucketProjection)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", streams.BucketProjection, err)
	}
	var resend []string
	for _, d := range rep.Drift {
		if d.Kind == PurchaseMissing {
			subj, err := schemas.EdgeSubjectFor(schemas.EntitySale, d.EdgeKey)
			if err != nil {
				return err
			}
			resend = append(resend, subj.String()) // no state to mark: its latest event applies
			continue
		}
		if d.Kind != Missing && !(d.Kind == Differs && strings.Contains(d.Detail, "in Edge only")) {
			continue
		}
		if err := markResend(ctx, projection, cfg.Namespace+".customer."+d.EdgeKey); err != nil {
			return fmt.Errorf("mark %s's state of %s to be sent again: %w", cfg.Namespace, d.EdgeKey, err)
		}
		subj, err := schemas.EdgeSubjectFor(schemas.EntityCustomer, d.EdgeKey)
		if err != nil {
			return err
		}
		resend = append(resend, subj.String())
	}
	if len(resend) > 0 {
		slices.Sort(resend)
		resend = slices.Compact(resend)
		if _, err := streams.StartReplay(ctx, js, streams.ReplayConfig{Stream: streams.StreamEdge, Durable: cfg.Durable, From: streams.LatestPerSubject, Filters: resend}); err != nil {
			return fmt.Errorf("send %d customer(s) and sale(s) again: %w", len(resend), err)
		}
	}
	rep.Repaired = true
	return nil
}

// markResend sets a state's Resend: the connector applies the customer's
// next event (the replay's) as Edge's own, whatever it holds.
func markResend(ctx context.Context, kv jetstream.KeyValue, key string) error {
	st, ok, err := streams.GetJSON[map[string]any](ctx, kv, key)
	if err != nil || !ok {
		return err // no state: the connector sends it anyway
	}
	st["resend"] = true
	return streams.PutJSON(ctx, kv, key, st)
}

// settle waits until the writer and the connector have nothing pending,
// twice a capture poll or more apart: a change the writer made reaches the
// connector through Edge and capture.
func settle(ctx context.Context, js jetstream.JetStream, cfg RepairConfig) error {
	deadline := time.Now().Add(cfg.Settle)
	quiet := 0
	for quiet < 2 {
		w, err := streams.Pending(ctx, js, streams.StreamPartner, cfg.WriterDurable)
		if err != nil {
			return err
		}
		c, err := streams.Pending(ctx, js, streams.StreamEdge, cfg.Durable)
		if err != nil {
			return err
		}
		if w+c == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the writer (%d pending) and %s (%d pending) did not settle within %s", w, cfg.Durable, c, cfg.Settle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}

// MarshalIndent is the report for a program.
func (r ReconcileReport) MarshalIndent() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Pages walks a partner's cursor-paginated list: page fetches the page at
// cursor ("" for the first) and says the next one ("" after the last);
// each is given every item in order.
func Pages(ctx context.Context, page func(ctx context.Context, cursor string) (items []json.RawMessage, next string, err error), each func(json.RawMessage) error) error {
	cursor := ""
	for {
		items, next, err := page(ctx, cursor)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := each(it); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}
