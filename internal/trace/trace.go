// Package trace follows one customer through the pipeline, for support
// asked "why is Mrs. Smith not in Podium?": its events in EDGE, each
// connector's state and link for it, its partner-side events in PARTNER,
// and its dead letters. It reads NATS only, as the admin user.
package trace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/writer"
)

// Connectors are the connector namespaces a trace looks in.
var Connectors = []Connector{{Name: "podium", Partner: "podium"}, {Name: "clientbook", Partner: "clientbook"}}

// connectors are Connectors and every other connector reporting (a second
// Podium account, a webhook connector): a connector added by subscribing
// is traced without a change here.
func connectors(reports map[string]streams.ConnectorReport) []Connector {
	out := slices.Clone(Connectors)
	for _, name := range slices.Sorted(maps.Keys(reports)) {
		if !slices.ContainsFunc(out, func(c Connector) bool { return c.Name == name }) {
			out = append(out, Connector{Name: name, Partner: reports[name].Partner})
		}
	}
	return out
}

// Connector is one connector's namespace and its partner.
type Connector struct {
	Name    string // its state and links namespace
	Partner string
}

// Trace is one customer's path.
type Trace struct {
	Query       string           `json:"query"`
	EdgeKey     string           `json:"edgeKey"`
	FoundBy     string           `json:"foundBy"`
	Events      []Event          `json:"events"` // in EDGE, oldest first
	Connectors  []ConnectorTrace `json:"connectors"`
	DeadLetters []Dead           `json:"deadLetters,omitempty"`
}

// Event is one message of a stream.
type Event struct {
	Stream  string    `json:"stream"`
	Seq     uint64    `json:"seq"`
	Subject string    `json:"subject"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	ID      string    `json:"id"`
	Version int64     `json:"version,omitempty"`
	Epoch   int64     `json:"epoch,omitempty"`
	Origin  string    `json:"origin,omitempty"`
	// Writer is, for a partner event, where the Edge writer stands with
	// it: taken (written to Edge by the merge rules, or found written in
	// its ledger, or nothing to write), or waiting.
	Writer string `json:"writer,omitempty"`
}

// ConnectorTrace is what one connector holds of the customer.
type ConnectorTrace struct {
	Connector string          `json:"connector"`
	State     json.RawMessage `json:"state,omitempty"` // its projection state: version, epoch, what it last pushed
	// Saved is when the state was last saved: when the partner last took
	// a change of this customer (or the connector found it needed none).
	Saved time.Time `json:"saved,omitzero"`
	// Failing is the customer's event the connector keeps retrying (its
	// partner call failing), from the connector's last report.
	Failing *streams.ParkedMsg `json:"failing,omitempty"`
	// LastCall says, in a line, where the customer stands with this
	// connector's partner.
	LastCall  string  `json:"lastCall"`
	PartnerID string  `json:"partnerId,omitempty"`
	Partner   []Event `json:"partnerEvents,omitempty"` // the partner record's events in PARTNER
}

// Dead is a dead letter about the customer.
type Dead struct {
	Seq      uint64    `json:"seq"`
	Consumer string    `json:"consumer"`
	Subject  string    `json:"subject"`
	Reason   string    `json:"reason"`
	Time     time.Time `json:"time"`
}

// ErrNotFound: nothing in the pipeline matches the query.
var ErrNotFound = errors.New("no customer matches")

// Customer traces the customer query names: an Edge key (001-000042), a
// partner id, an email or a phone (as Edge holds it).
func Customer(ctx context.Context, js jetstream.JetStream, query string) (Trace, error) {
	t := Trace{Query: query}
	key, how, err := resolve(ctx, js, query)
	if err != nil {
		return t, err
	}
	t.EdgeKey, t.FoundBy = key, how
	subj, err := schemas.EdgeSubjectFor(schemas.EntityCustomer, key)
	if err != nil {
		return t, err
	}
	if t.Events, err = events(ctx, js, streams.StreamEdge, subj.String()); err != nil {
		return t, err
	}
	kv, err := js.KeyValue(ctx, streams.BucketLinks)
	if err != nil {
		return t, fmt.Errorf("open bucket %s: %w", streams.BucketLinks, err)
	}
	projection, err := js.KeyValue(ctx, streams.BucketProjection)
	if err != nil {
		return t, fmt.Errorf("open bucket %s: %w", streams.BucketProjection, err)
	}
	subjects := []string{subj.String()}
	var floors []uint64                                                                          // read once, for the first connector with partner events
	reports, _ := streams.ReadReports[streams.ConnectorReport](ctx, js, streams.ReportConnector) // a stopped connector has none
	for _, c := range connectors(reports) {
		ct := ConnectorTrace{Connector: c.Name}
		if e, err := projection.Get(ctx, c.Name+".customer."+key); err == nil {
			ct.State, ct.Saved = e.Value(), e.Created()
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return t, fmt.Errorf("read %s's state: %w", c.Name, err)
		}
		for _, p := range reports[c.Name].ParkedSample {
			if p.Subject == subj.String() {
				ct.Failing = &p
			}
		}
		_, reporting := reports[c.Name]
		ct.LastCall = lastCall(ct, t.Events, reporting)
		if ct.PartnerID, err = streams.NewLinks(kv, c.Name).PartnerID(ctx, "customer", key); err != nil {
			return t, err
		}
		if ct.PartnerID != "" {
			var subs []string
			if ct.Partner, subs, err = partnerEvents(ctx, js, c.Partner, ct.PartnerID); err != nil {
				return t, err
			}
			subjects = append(subjects, subs...)
			if floors == nil {
				if floors, err = writerFloors(ctx, js); err != nil {
					return t, err
				}
			}
			writerTook(ct.Partner, floors)
		}
		t.Connectors = append(t.Connectors, ct)
	}
	dead, err := streams.DeadLetters(ctx, js, 0)
	if err != nil {
		return t, err
	}
	for _, d := range dead {
		if slices.Contains(subjects, d.Subject) {
			t.DeadLetters = append(t.DeadLetters, Dead{Seq: d.Seq, Consumer: d.Consumer, Subject: d.Subject, Reason: d.Reason, Time: d.Time})
		}
	}
	return t, nil
}

// lastCall says where the customer stands with a connector's partner: its
// call failing, its latest Edge state taken, or not taken yet.
func lastCall(ct ConnectorTrace, events []Event, reporting bool) string {
	var at kit.Position
	_ = json.Unmarshal(ct.State, &at)
	var latest Event
	if len(events) > 0 {
		latest = events[len(events)-1]
	}
	switch {
	case ct.Failing != nil:
		return fmt.Sprintf("failing since %s (%d attempts, retried with a growing delay): %s", ct.Failing.Since.Format(time.RFC3339), ct.Failing.Attempts, ct.Failing.Error)
	case ct.State == nil && !reporting:
		return fmt.Sprintf("no %s connector has reported: it is not running here, or not yet", partnerTitle(ct.Connector))
	case ct.State == nil && len(events) == 0:
		return "nothing to send: capture has not published this customer"
	case ct.State == nil:
		return "not applied yet: waiting in its lane (an upload in its bulk lane goes at the partner's rate limit), or dead-lettered (below)"
	case at.Epoch < latest.Epoch || at.Epoch == latest.Epoch && at.Version < latest.Version:
		return fmt.Sprintf("Edge's version %d not applied yet (the partner took version %d at %s): waiting in its lane, or dead-lettered (below)",
			latest.Version, at.Version, ct.Saved.Format(time.RFC3339))
	default:
		return fmt.Sprintf("the partner has Edge's latest state (version %d), taken at %s", at.Version, ct.Saved.Format(time.RFC3339))
	}
}

// partnerTitle is a connector's name as a person writes it.
func partnerTitle(name string) string {
	if name == "" {
		return name
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// resolve finds the Edge key a query names, and says how.
func resolve(ctx context.Context, js jetstream.JetStream, query string) (string, string, error) {
	query = strings.TrimSpace(query)
	if s, err := schemas.EdgeSubjectFor(schemas.EntityCustomer, query); err == nil && strings.Trim(s.Store, "0123456789") == "" {
		return query, "Edge key", nil
	}
	kv, err := js.KeyValue(ctx, streams.BucketLinks)
	if err != nil {
		return "", "", fmt.Errorf("open bucket %s: %w", streams.BucketLinks, err)
	}
	for _, c := range Connectors {
		if key, err := streams.NewLinks(kv, c.Name).EdgeKey(ctx, "customer", query); err != nil || key != "" {
			return key, c.Name + " id", err
		}
	}
	// An email or a phone: the customers' latest states, read one by one
	// (seconds for ten thousand; a support tool, not a hot path).
	want := kit.Normalize(query)
	var found string
	err = streams.EachLatest(ctx, js, streams.StreamEdge, schemas.EdgeFilter(schemas.EntityCustomer), func(m jetstream.Msg) error {
		env, err := schemas.DecodeEnvelope(m.Data())
		if err != nil {
			return nil
		}
		var c schemas.Customer
		if env.DecodeData(&c) != nil {
			return nil
		}
		for _, cm := range c.ContactMethods {
			if kit.Normalize(cm.Value) == want {
				found = env.Key
				return streams.ErrStop
			}
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	if found == "" {
		return "", "", fmt.Errorf("%w %q: not an Edge key (001-000042), a Podium or Clientbook id, nor an email or phone of a customer's latest state", ErrNotFound, query)
	}
	return found, "contact method", nil
}

// partnerEvents are the partner's events in PARTNER about the record id
// names: on its subject, or naming it in their body (a Podium contact's
// events are on its uid, and edgesync links it by one of its identifiers).
// PARTNER keeps 30 days of a few events a minute: a scan is affordable
// for a support tool.
func partnerEvents(ctx context.Context, js jetstream.JetStream, partner, id string) ([]Event, []string, error) {
	all, err := read(ctx, js, streams.StreamPartner, schemas.PartnerPrefix+"."+partner+".>", func(m jetstream.Msg) bool {
		s, err := schemas.ParsePartnerSubject(m.Subject())
		return (err == nil && s.ID == id) || bytes.Contains(m.Data(), []byte(`"`+id+`"`))
	})
	var subjects []string
	for _, e := range all {
		if !slices.Contains(subjects, e.Subject) {
			subjects = append(subjects, e.Subject)
		}
	}
	return all, subjects, err
}

// writerFloors are the ack floors of every writer's consumer on PARTNER
// (one per store at a chain's hub); empty, not nil, when there is none.
func writerFloors(ctx context.Context, js jetstream.JetStream) ([]uint64, error) {
	str, err := js.Stream(ctx, streams.StreamPartner)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streams.StreamPartner, err)
	}
	floors := []uint64{}
	list := str.ListConsumers(ctx)
	for info := range list.Info() {
		if info.Name == writer.Durable || strings.HasPrefix(info.Name, writer.Durable+"-") && !strings.HasSuffix(info.Name, "-replay") {
			floors = append(floors, info.AckFloor.Stream)
		}
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("read the writer's consumers: %w", err)
	}
	return floors, nil
}

// writerTook says of each partner event whether the Edge writer took it:
// every writer's consumer acknowledged past it (floors). A dead letter of
// it is listed apart.
func writerTook(evs []Event, floors []uint64) {
	for i := range evs {
		switch {
		case len(floors) == 0:
			evs[i].Writer = "no writer has read PARTNER yet"
		case evs[i].Seq <= slices.Min(floors):
			evs[i].Writer = "taken by the writer (written to Edge by the merge rules, or found in its ledger, or nothing to write)"
		default:
			evs[i].Writer = "waiting for the writer"
		}
	}
}

// events lists what stream holds on subject, oldest first.
func events(ctx context.Context, js jetstream.JetStream, stream, subject string) ([]Event, error) {
	return read(ctx, js, stream, subject, func(jetstream.Msg) bool { return true })
}

// read lists the messages of stream on filter that keep says to keep,
// oldest first.
func read(ctx context.Context, js jetstream.JetStream, stream, filter string, keep func(jetstream.Msg) bool) ([]Event, error) {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filter, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filter, err)
	}
	var out []Event
	for left := info.NumPending; left > 0; left-- {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return out, fmt.Errorf("read %s: %w", filter, err)
		}
		if !keep(m) {
			continue
		}
		md, _ := m.Metadata()
		e := Event{Stream: stream, Subject: m.Subject(), Type: m.Headers().Get(schemas.HeaderType), ID: m.Headers().Get(schemas.HeaderID)}
		if md != nil {
			e.Seq, e.Time = md.Sequence.Stream, md.Timestamp
		}
		if env, err := schemas.DecodeEnvelope(m.Data()); err == nil {
			e.Version, e.Epoch, e.Origin = env.Version, env.Epoch, env.Origin
		}
		out = append(out, e)
	}
	return out, nil
}

// Write prints t for a person.
func (t Trace) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "customer %s (found by %s)\n\nEDGE\tSEQ\tTIME\tTYPE\tVERSION\tEPOCH\tORIGIN\n", t.EdgeKey, t.FoundBy)
	for _, e := range t.Events {
		fmt.Fprintf(tw, "\t%d\t%s\t%s\t%d\t%d\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Type, e.Version, e.Epoch, e.Origin)
	}
	if len(t.Events) == 0 {
		fmt.Fprintln(tw, "\tnone: capture has not published this customer (not in Edge, or not captured yet)")
	}
	for _, c := range t.Connectors {
		fmt.Fprintf(tw, "\n%s\tlinked to: %s\n", strings.ToUpper(c.Connector), orNone(c.PartnerID))
		fmt.Fprintf(tw, "\tlast call: %s\n", c.LastCall)
		fmt.Fprintf(tw, "\tstate: %s\n", orNone(string(c.State)))
		for _, e := range c.Partner {
			fmt.Fprintf(tw, "\tPARTNER %d\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Type, e.ID, e.Writer)
		}
	}
	fmt.Fprintln(tw, "\nDEAD LETTERS")
	for _, d := range t.DeadLetters {
		fmt.Fprintf(tw, "\t%d\t%s\t%s\t%s\n", d.Seq, d.Consumer, d.Subject, d.Reason)
	}
	if len(t.DeadLetters) == 0 {
		fmt.Fprintln(tw, "\tnone")
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
