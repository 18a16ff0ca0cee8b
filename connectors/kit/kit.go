// Package kit is what every connector shares around its partner's calls.
// A partner implements Destination: apply one fresh Edge event, say
// whether it called the partner. Handler owns the rest of the event's
// state machine: decoding, the aggregate's state (loaded, judged stale by
// version and epoch, moved to the event's position, saved), echoes, a
// notification outcome saved before it is published, the counts and the
// status page's report. streams.Consume owns the event's delivery: the
// first-delivery guard, the live and bulk lanes, acks, retries, parking
// and dead letters, with streams.IsPermanent the one way to say "do not
// retry". docs/connector-kit.md says what a partner may touch.
package kit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Position is where an aggregate's state stands: the Edge version and the
// capture epoch last applied. A connector's state embeds it (its JSON
// fields stay the state's own: version, epoch).
type Position struct {
	Version int64 `json:"version"`
	Epoch   int64 `json:"epoch,omitempty"` // capture epoch of Version
	// Resend: what the partner holds is not what the state says (a repair
	// found it edited or deleted by hand): the next event of the aggregate,
	// even one at this version, is applied as if Edge had just made it.
	Resend bool `json:"resend,omitempty"`
	// Outcome is an outcome saved and not yet published (see Handler).
	Outcome *PendingOutcome `json:"outcome,omitempty"`
}

func (p *Position) position() *Position { return p }

// State is a connector's per-aggregate state: a struct embedding Position.
type State interface{ position() *Position }

// Event is one Edge event being applied: its subject, its envelope, the
// aggregate's state before it (Prior) and the state being made (Next,
// which starts as Prior at the event's position).
type Event[S any] struct {
	Msg     jetstream.Msg
	Subject schemas.EdgeSubject
	Env     schemas.Envelope
	Key     string // the state's key
	Prior   S
	Next    S
	// Outcome, set by a Destination, is published for the Edge writer
	// once the state is saved with it.
	Outcome *schemas.NotificationOutcome
}

// Counts are what a connector did since it started.
type Counts struct {
	Applied int64 // events that made a partner call
	Skipped int64 // events that needed none (nothing the partner sees changed, an echo, not the partner's)
	Stale   int64 // events older than the state (a replay, a redelivery)
}

// States keeps a connector's states in the projection bucket, under its
// namespace (the connector's name), and counts what it did. Held states
// (Hold) are read before the bucket's: a connector that gathers events
// for one partner call saves their states only once the call is made.
type States[S any, P interface {
	*S
	State
}] struct {
	kv jetstream.KeyValue
	ns string

	applied, skipped, stale atomic.Int64

	mu   sync.Mutex
	held map[string]S
}

// NewStates returns the states of namespace in the projection bucket kv.
func NewStates[S any, P interface {
	*S
	State
}](kv jetstream.KeyValue, namespace string) *States[S, P] {
	return &States[S, P]{kv: kv, ns: namespace, held: map[string]S{}}
}

// Key is the state key of an Edge aggregate.
func (st *States[S, P]) Key(entity schemas.Entity, edgeKey string) string {
	return st.ns + "." + string(entity) + "." + edgeKey
}

// Load reads a state: a held one first, then the bucket's; found is false
// (and the state zero) when there is none.
func (st *States[S, P]) Load(ctx context.Context, key string) (s S, found bool, err error) {
	st.mu.Lock()
	s, ok := st.held[key]
	st.mu.Unlock()
	if ok {
		return s, true, nil
	}
	return streams.GetJSON[S](ctx, st.kv, key)
}

// Save writes a state.
func (st *States[S, P]) Save(ctx context.Context, key string, s S) error {
	return streams.PutJSON(ctx, st.kv, key, s)
}

// Hold keeps s as key's state until Release, without saving it.
func (st *States[S, P]) Hold(key string, s S) {
	st.mu.Lock()
	st.held[key] = s
	st.mu.Unlock()
}

// Release forgets every held state.
func (st *States[S, P]) Release() {
	st.mu.Lock()
	st.held = map[string]S{}
	st.mu.Unlock()
}

// Begin decodes an Edge event and loads its aggregate's state. fresh is
// false when the event does not supersede the state (a replay, a
// redelivery of what was applied): it is counted stale, and there is
// nothing to do. A message that cannot be decoded never will be: the
// error is permanent.
func (st *States[S, P]) Begin(ctx context.Context, msg jetstream.Msg) (ev *Event[S], fresh bool, err error) {
	subj, err := schemas.ParseEdgeSubject(msg.Subject())
	if err != nil {
		return nil, false, streams.Permanent(err)
	}
	env, err := schemas.DecodeEnvelope(msg.Data())
	if err != nil {
		return nil, false, streams.Permanent(err)
	}
	ev = &Event[S]{Msg: msg, Subject: subj, Env: env, Key: st.Key(subj.Entity, env.Key)}
	if ev.Prior, _, err = st.Load(ctx, ev.Key); err != nil {
		return nil, false, err
	}
	prior := P(&ev.Prior).position()
	if !env.Supersedes(prior.Epoch, prior.Version) && !prior.Resend {
		st.stale.Add(1)
		return ev, false, nil
	}
	ev.Next = ev.Prior
	*P(&ev.Next).position() = Position{Version: env.Version, Epoch: env.Epoch}
	return ev, true, nil
}

// Done saves an event's state and counts it: applied when it made a
// partner call, skipped when it needed none.
func (st *States[S, P]) Done(ctx context.Context, key string, next S, called bool) error {
	if err := st.Save(ctx, key, next); err != nil {
		return err
	}
	st.Count(called)
	return nil
}

// Count counts an event whose state was saved otherwise.
func (st *States[S, P]) Count(called bool) {
	if called {
		st.applied.Add(1)
	} else {
		st.skipped.Add(1)
	}
}

// Counts reads the counts.
func (st *States[S, P]) Counts() Counts {
	return Counts{Applied: st.applied.Load(), Skipped: st.skipped.Load(), Stale: st.stale.Load()}
}

// Report is the status page's report of a connector: its partner calls
// against the limit, their failing streak, and its counts.
func Report(connector, partner string, calls partnerapi.CallStats, limitPerMinute int, c Counts) streams.ConnectorReport {
	return streams.ConnectorReport{
		Connector: connector, Partner: partner, CallsLastMinute: calls.LastMinute, LimitPerMinute: limitPerMinute,
		LastCallOK: calls.LastOK, LastFailure: calls.LastFailure, Failure: calls.Failure, FailingSince: calls.FailingSince,
		Applied: c.Applied, Skipped: c.Skipped,
	}
}

// NeedsCustomer says an event waits for its customer's own (a sale of a
// customer not uploaded yet): the consumer handles the customer's latest
// state first, so a sale made at the counter does not wait for the
// customer's turn in a bulk upload.
func NeedsCustomer(customerKey string, err error) error {
	subj, serr := schemas.EdgeSubjectFor(schemas.EntityCustomer, customerKey)
	if serr != nil {
		return streams.Permanent(fmt.Errorf("%w: customer key: %w", err, serr))
	}
	return streams.Needs(subj.String(), err)
}
