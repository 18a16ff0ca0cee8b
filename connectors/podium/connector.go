package podium

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Durable is the name of the connector's consumer on the EDGE stream.
const Durable = "podium"

// customerWaitDeliveries is how many times an activity whose customer has
// not been processed yet is redelivered before it is dead-lettered.
const customerWaitDeliveries = 10

// Config configures the connector.
type Config struct {
	// AckWait is how long the messages of a crashed connector wait before
	// JetStream delivers them again; 30 s when zero.
	AckWait time.Duration
	// Name is the connector's durable consumer and the prefix of its keys
	// in the projection and links buckets; Durable when empty. A second
	// Podium account (a new one being filled, a staging one) runs as a
	// connector of its own name, with state of its own. The Edge writer
	// downloads from Podium for the connector named Durable only.
	Name    string
	Options projectors.PodiumOptions
	// DataFeed is the uid of the Podium data feed that receives purchases,
	// timeline entries and products; without it those are not sent.
	DataFeed string
	// AcquisitionLabel names the contact attribute created for the
	// acquisition when Options.AcquisitionAttribute is empty.
	AcquisitionLabel string
	// Metrics, when set, count the consumer's outcomes.
	Metrics *streams.ConsumerMetrics
	// Retry and GiveUpAfter park an event whose partner call keeps failing
	// while the others go on, then dead-letter it (streams.ConsumerConfig);
	// the defaults when zero.
	Retry       []time.Duration
	GiveUpAfter int
}

// Stats count what the connector did since it started.
type Stats struct {
	Applied int64 // events whose operations Podium acknowledged
	Skipped int64 // events that needed no call (unchanged, echo, not synchronized...)
	Stale   int64 // redelivered or older events already superseded
}

// Connector keeps Podium equal to Edge for the subjects it consumes.
type Connector struct {
	name    string
	client  *Client
	js      jetstream.JetStream
	links   streams.Links
	states  *kit.States[pushed, *pushed]
	handler *kit.Handler[pushed, *pushed]
	state   jetstream.KeyValue // the projection bucket: invitation intents beside the states
	cfg     Config
	log     *slog.Logger

	// The activity events waiting for the next flush (see flush), and the
	// customers they invite; their states as they will be saved are held
	// in states, so later events of the same batch see both. Only the
	// consumer's goroutine touches them.
	batch   []deferredActivity
	invited map[string]time.Time

	watch atomic.Pointer[kit.Watch]
}

// deferredActivity is one activity event whose operations wait for a flush.
type deferredActivity struct {
	env         schemas.Envelope
	key         string
	next        pushed
	ops         []projectors.PodiumOp
	customerKey string // set when the event invites a review
}

// feedBatch is how many data-feed events one call carries: Podium accepts
// "a single event or a list of events" and documents no bound, so edgesync
// keeps lists small enough that one refused event costs little to isolate.
const feedBatch = 100

// NewConnector returns a connector. The streams and buckets must exist; it
// creates the acquisition attribute in Podium when none is configured.
func NewConnector(ctx context.Context, js jetstream.JetStream, client *Client, cfg Config, log *slog.Logger) (*Connector, error) {
	links, state, err := streams.ConnectorBuckets(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("podium connector: %w", err)
	}
	if len(cfg.Options.Locations) == 0 {
		return nil, errors.New("podium connector: no store is mapped to a Podium location (--podium-location 001=<uid>)")
	}
	if cfg.Options.Tier == "" {
		cfg.Options.Tier = projectors.TierClienteling
	}
	if cfg.Options.Tier != projectors.TierClienteling && cfg.Options.Tier != projectors.TierClientelingPlus {
		return nil, fmt.Errorf("podium connector: tier %q: want %s or %s", cfg.Options.Tier, projectors.TierClienteling, projectors.TierClientelingPlus)
	}
	if cfg.Options.AcquisitionAttribute == "" && cfg.AcquisitionLabel != "" {
		uid, err := client.EnsureAttribute(ctx, cfg.AcquisitionLabel)
		if err != nil {
			return nil, fmt.Errorf("podium connector: acquisition attribute: %w", err)
		}
		cfg.Options.AcquisitionAttribute = uid
	}
	if cfg.DataFeed == "" {
		log.Warn("no Podium data feed configured (--podium-data-feed): purchases, appointment and service job timeline entries and products are not sent")
	}
	name := cfg.Name
	if name == "" {
		name = Durable
	}
	if err := schemas.CheckToken("connector name", name); err != nil {
		return nil, fmt.Errorf("podium connector: %w", err)
	}
	c := &Connector{name: name, client: client, js: js, links: streams.NewLinks(links, name), states: kit.NewStates[pushed](state, name), state: state,
		cfg: cfg, log: log, invited: map[string]time.Time{}}
	c.handler = &kit.Handler[pushed, *pushed]{States: c.states, Dest: c, Partner: projectors.PartnerPodium, Echoes: []schemas.Entity{schemas.EntityCustomer},
		JS: js, Log: log}
	return c, nil
}

// Subjects are the Edge subjects the connector consumes for an account.
func Subjects(opts projectors.PodiumOptions) []string {
	out := []string{
		schemas.EdgeFilter(schemas.EntityCustomer), schemas.EdgeFilter(schemas.EntitySale),
		schemas.EdgeFilter(schemas.EntityAppointment), schemas.EdgeFilter(schemas.EntityService),
		schemas.EdgeFilter(schemas.EntityNotification),
	}
	if opts.Tier == projectors.TierClientelingPlus {
		out = append(out, schemas.EdgeFilter(schemas.EntityItem))
	}
	return out
}

// Run consumes until ctx ends.
func (c *Connector) Run(ctx context.Context) error {
	return streams.Consume(ctx, c.js, streams.ConsumerConfig{
		Durable: c.name, Stream: streams.StreamEdge, Filters: Subjects(c.cfg.Options), Metrics: c.cfg.Metrics,
		Execution: streams.Batch{Flush: c.flush, Every: feedBatch}, Report: c.report, AckWait: c.cfg.AckWait, Lanes: true,
		Retry: c.cfg.Retry, GiveUpAfter: c.cfg.GiveUpAfter, PartnerOK: func() time.Time { return c.client.Calls().LastOK },
	}, c.Handle, c.log)
}

// report is what the status page shows of the connector beyond its stream.
func (c *Connector) report() streams.ConnectorReport {
	r := kit.Report(c.name, projectors.PartnerPodium, c.client.Calls(), c.client.LimitPerMinute(), c.states.Counts())
	c.watch.Load().AddTo(&r)
	return r
}

// Watching adds w's webhook repairs and catch-ups to the connector's
// status report.
func (c *Connector) Watching(w *kit.Watch) { c.watch.Store(w) }

// Stats returns the running totals.
func (c *Connector) Stats() Stats {
	n := c.states.Counts()
	return Stats{Applied: n.Applied, Skipped: n.Skipped, Stale: n.Stale}
}

// pushed is what the connector remembers per aggregate, in the projection bucket.
type pushed struct {
	kit.Position
	Identifier  string    `json:"identifier,omitempty"`
	Hash        string    `json:"hash,omitempty"`
	Status      string    `json:"status,omitempty"`
	Acquisition string    `json:"acquisition,omitempty"`
	Name        string    `json:"name,omitempty"` // customers: what activities address
	Phone       string    `json:"phone,omitempty"`
	Email       string    `json:"email,omitempty"`
	Address     string    `json:"address,omitempty"` // fingerprint of the address Podium was last shown
	LastInvite  time.Time `json:"lastInvite,omitzero"`
}

// event is one Edge event being applied.
type event = kit.Event[pushed]

func (c *Connector) stateKey(entity schemas.Entity, key string) string {
	return c.states.Key(entity, key)
}

func (c *Connector) save(ctx context.Context, key string, p pushed) error {
	return c.states.Save(ctx, key, p)
}

// Handle applies one Edge event to Podium.
func (c *Connector) Handle(ctx context.Context, msg jetstream.Msg) error {
	return c.handler.Handle(ctx, msg)
}

// Apply applies one fresh Edge event to Podium (kit.Destination). A sale,
// appointment, service job or item waits for the next flush.
func (c *Connector) Apply(ctx context.Context, e *event) (bool, error) {
	if e.Prior.Resend {
		for _, p := range []*pushed{&e.Prior, &e.Next} {
			p.Hash, p.Name, p.Phone, p.Email, p.Address = "", "", "", "", ""
		}
	}
	env := e.Env
	ev := projectors.EventMeta{ID: env.ID, Origin: env.Origin, Time: env.Time}
	switch e.Subject.Entity {
	case schemas.EntityCustomer:
		return c.customer(ctx, e)
	case schemas.EntitySale:
		return activity(ctx, c, e, func(s *schemas.Sale, p projectors.PodiumPerson, pr projectors.PodiumActivityPrior) (projectors.PodiumActivityResult, bool) {
			return projectors.PodiumSale(ev, s, p, pr, c.cfg.Options)
		}, func(s *schemas.Sale) string { return s.CustomerKey })
	case schemas.EntityAppointment:
		return activity(ctx, c, e, func(a *schemas.Appointment, p projectors.PodiumPerson, pr projectors.PodiumActivityPrior) (projectors.PodiumActivityResult, bool) {
			return projectors.PodiumAppointment(ev, a, p, pr, c.cfg.Options)
		}, func(a *schemas.Appointment) string { return a.CustomerKey })
	case schemas.EntityService:
		return activity(ctx, c, e, func(j *schemas.ServiceJob, p projectors.PodiumPerson, pr projectors.PodiumActivityPrior) (projectors.PodiumActivityResult, bool) {
			return projectors.PodiumService(ev, j, p, pr, c.cfg.Options)
		}, func(j *schemas.ServiceJob) string { return j.CustomerKey })
	case schemas.EntityItem:
		return activity(ctx, c, e, func(it *schemas.Item, _ projectors.PodiumPerson, pr projectors.PodiumActivityPrior) (projectors.PodiumActivityResult, bool) {
			return projectors.PodiumItem(ev, it, pr, c.cfg.Options), true
		}, nil)
	case schemas.EntityNotification:
		return c.notification(ctx, e)
	default:
		return false, streams.Permanent(fmt.Errorf("podium connector does not handle %s events", e.Subject.Entity))
	}
}

// linkWaitDeliveries is how many times a customer that came from Podium is
// redelivered while the Edge writer's link is not there yet, before the
// connector falls back to an upsert by phone or email.
const linkWaitDeliveries = 5

func (c *Connector) customer(ctx context.Context, e *event) (bool, error) {
	env, prior := e.Env, e.Prior
	cust, err := schemas.Aggregate[schemas.Customer](env)
	if err != nil {
		return false, streams.Permanent(err)
	}
	if prior.Identifier == "" {
		// A customer downloaded from Podium by the Edge writer is already a
		// contact: the writer left its identifier in the links bucket.
		id, err := c.links.PartnerID(ctx, "customer", env.Key)
		switch {
		case err != nil:
			return false, err
		case id != "":
			prior.Identifier = id
		case cust != nil && fromPodium(cust) && env.Origin != projectors.PartnerPodium:
			// Downloaded from Podium moments ago; the writer stores the
			// contact's link right after the Edge commit.
			if md, err := e.Msg.Metadata(); err == nil && md.NumDelivered < linkWaitDeliveries {
				return false, streams.NotYet(fmt.Errorf("customer %s came from Podium and its link is not stored yet", env.Key))
			}
		}
	}
	res := projectors.PodiumCustomer(env.Origin, cust, projectors.PodiumPrior{Identifier: prior.Identifier, Hash: prior.Hash, Acquisition: prior.Acquisition,
		Seen: projectors.PodiumSeen{Name: prior.Name, Phone: prior.Phone, Email: prior.Email, Address: prior.Address}}, c.cfg.Options)
	next := &e.Next
	next.Identifier = prior.Identifier
	sent := false
	var linkThenForget []string // intents to drop once the link is stored
	for _, op := range res.Ops {
		switch op.Kind {
		case projectors.PodiumSkip:
			c.log.Debug("podium: nothing to send", "key", env.Key, "reason", op.Reason)
		case projectors.PodiumNotSendable:
			// Dead-lettered with the reason, state unsaved: the change that
			// fixes the customer in Edge is a newer event and flows.
			return false, streams.Permanent(errors.New(op.Reason))
		case projectors.PodiumCreate:
			intents, err := c.intend(ctx, env.Key, op.Contact)
			if err != nil {
				return false, err
			}
			id, err := c.client.CreateContact(ctx, op.Contact)
			if err != nil {
				err = fmt.Errorf("create contact for %s: %w", env.Key, err)
				if streams.IsPermanent(err) {
					// Refused: no contact was made.
					c.forget(ctx, intents)
				}
				// Otherwise the contact may have been made, its answer lost
				// (a dropped connection, a timeout, a 5xx after the write):
				// the intent stays, or the writer, seeing Podium's webhook
				// for it with neither intent nor link, would download
				// edgesync's own push as a new Edge customer (found by the
				// fault suite's dropped answers). The redelivery's create
				// upserts that contact and then drops the intent.
				return false, err
			}
			linkThenForget = intents
			next.Identifier, sent = id, true
			c.log.DebugContext(ctx, "podium contact created", "contact", id)
			for _, a := range op.Contact.Attributes {
				if a.UID == c.cfg.Options.AcquisitionAttribute {
					next.Acquisition = a.Value
				}
			}
		case projectors.PodiumUpdate:
			id, err := c.client.UpdateContact(ctx, op.Identifier, op.Contact)
			var apiErr *APIError
			if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
				// Deleted in Podium since we linked it: Edge still has the customer, so create it again.
				c.log.InfoContext(ctx, "podium contact was deleted in Podium; creating it again", "customer", env.Key, "contact", op.Identifier)
				id, err = c.client.CreateContact(ctx, op.Contact)
			}
			if err != nil {
				return false, fmt.Errorf("update contact for %s: %w", env.Key, err)
			}
			next.Identifier, sent = id, true
			c.log.DebugContext(ctx, "podium contact updated", "contact", id)
		case projectors.PodiumSetAttribute:
			id := op.Identifier
			if next.Identifier != "" {
				// The contact this event made, or made again after it was
				// deleted in Podium: the rule's identifier is the old one.
				id = next.Identifier
			}
			if err := c.client.SetAttribute(ctx, id, op.Attribute); err != nil {
				return false, fmt.Errorf("set acquisition of %s: %w", env.Key, err)
			}
			next.Acquisition, sent = op.Attribute.Value, true
		}
	}
	next.Hash = res.Hash
	if cust != nil && next.Identifier != "" {
		next.Name, next.Phone, next.Email = projectors.PodiumAddressee(cust)
		next.Address = res.Seen.Address
	}
	if next.Identifier != "" && next.Identifier != prior.Identifier {
		if err := c.links.Put(ctx, "customer", env.Key, next.Identifier); err != nil {
			return false, err
		}
	}
	c.forget(ctx, linkThenForget)
	return sent, nil
}

// fromPodium reports whether a customer holds contact methods Podium gave.
func fromPodium(c *schemas.Customer) bool {
	for _, m := range c.ContactMethods {
		if m.Source == "PODIUM" {
			return true
		}
	}
	return false
}

// person is what activities know of their customer's contact.
func (c *Connector) person(ctx context.Context, customerKey string) (projectors.PodiumPerson, error) {
	if customerKey == "" {
		return projectors.PodiumPerson{Known: true}, nil
	}
	p, ok, err := c.states.Load(ctx, c.stateKey(schemas.EntityCustomer, customerKey))
	if err != nil || !ok {
		return projectors.PodiumPerson{}, err
	}
	if at, ok := c.invited[customerKey]; ok && at.After(p.LastInvite) {
		p.LastInvite = at
	}
	return projectors.PodiumPerson{Known: true, Identifier: p.Identifier, Name: p.Name, Phone: p.Phone, Email: p.Email, LastInvite: p.LastInvite}, nil
}

// activity runs one rule for a sale, appointment, service job or item.
func activity[T any](ctx context.Context, c *Connector, e *event,
	rule func(*T, projectors.PodiumPerson, projectors.PodiumActivityPrior) (projectors.PodiumActivityResult, bool),
	customerOf func(*T) string) (bool, error) {
	env, prior := e.Env, e.Prior
	agg, err := schemas.Aggregate[T](env)
	if err != nil {
		return false, streams.Permanent(err)
	}
	var person projectors.PodiumPerson
	customerKey := ""
	if agg != nil && customerOf != nil {
		customerKey = customerOf(agg)
		var err error
		if person, err = c.person(ctx, customerKey); err != nil {
			return false, err
		}
	}
	res, ready := rule(agg, person, projectors.PodiumActivityPrior{Hash: prior.Hash, Status: prior.Status})
	if !ready {
		err := fmt.Errorf("%s: customer %s has not been processed yet", env.Key, customerKey)
		if md, merr := e.Msg.Metadata(); merr == nil && md.NumDelivered >= customerWaitDeliveries {
			return false, streams.Permanent(fmt.Errorf("%w after %d deliveries", err, md.NumDelivered))
		}
		return false, kit.NeedsCustomer(customerKey, err)
	}
	// The operations wait for the next flush, which sends the data-feed
	// events of many activities in one call.
	next := e.Next
	next.Hash, next.Status = res.Hash, res.Status
	d := deferredActivity{env: env, key: e.Key, next: next, ops: res.Ops}
	if res.Invites && customerKey != "" {
		d.customerKey = customerKey
		c.invited[customerKey] = env.Time
	}
	c.batch = append(c.batch, d)
	c.states.Hold(e.Key, next)
	return false, streams.ErrLater
}

// flush sends the deferred activities' data-feed events in lists and their
// review invitations, saves their state, and reports each one's outcome.
// A list Podium refuses is sent again one event at a time, so only the
// activity whose event is bad is dead-lettered.
func (c *Connector) flush(ctx context.Context) []error {
	batch := c.batch
	defer func() { c.batch, c.invited = nil, map[string]time.Time{}; c.states.Release() }()
	errs := make([]error, len(batch))
	sent := make([]bool, len(batch))
	var events []podiumapi.FeedEvent
	var owners []int
	for i, d := range batch {
		for _, op := range d.ops {
			if op.Kind == projectors.PodiumFeed && c.cfg.DataFeed != "" {
				events, owners = append(events, *op.Feed), append(owners, i)
			}
		}
	}
	for from := 0; from < len(events); from += feedBatch {
		to := min(from+feedBatch, len(events))
		err := c.client.SendFeedEvents(ctx, c.cfg.DataFeed, events[from:to]...)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Refused() && to-from > 1 {
			for j := from; j < to; j++ {
				c.feedOutcome(batch, errs, sent, owners[j], events[j], c.client.SendFeedEvents(ctx, c.cfg.DataFeed, events[j]))
			}
			continue
		}
		for j := from; j < to; j++ {
			c.feedOutcome(batch, errs, sent, owners[j], events[j], err)
		}
	}
	// An aggregate's later event builds on its earlier one: when the
	// earlier fails, the later is retried with it rather than saved.
	failed := map[string]bool{}
	for i, d := range batch {
		if errs[i] == nil && failed[d.key] {
			errs[i] = fmt.Errorf("%s: an earlier event of it failed in the same batch", d.env.Key)
		}
		if errs[i] != nil {
			failed[d.key] = true
			continue
		}
		for _, op := range d.ops {
			switch op.Kind {
			case projectors.PodiumFeed:
			case projectors.PodiumSkip:
				c.log.Debug("podium: nothing to send", "key", d.env.Key, "reason", op.Reason)
			case projectors.PodiumInvite:
				made, err := c.invite(ctx, d, *op.Invite)
				if err != nil {
					errs[i] = err
					continue
				}
				sent[i] = sent[i] || made
			default:
				errs[i] = streams.Permanent(fmt.Errorf("unexpected podium operation %d for %s", op.Kind, d.env.Key))
			}
		}
		if errs[i] != nil {
			failed[d.key] = true
			continue
		}
		if err := c.save(ctx, d.key, d.next); err != nil {
			errs[i], failed[d.key] = err, true
			continue
		}
		c.states.Count(sent[i])
	}
	return errs
}

// invite creates the review invitation of an activity event at most once
// per cool-down. Podium's invites API has no idempotency key, so the
// customer's last invitation is saved before the call: a kill after Podium
// created the invitation, or a lost answer, leaves the mark, and no later
// event of that customer (nor this one redelivered) invites again inside
// the cool-down; a second invitation is the greater harm than a missing
// one. When Podium answered with an error nothing was made, and the mark
// goes back so the retry invites.
func (c *Connector) invite(ctx context.Context, d deferredActivity, inv podiumapi.ReviewInvite) (bool, error) {
	key := c.stateKey(schemas.EntityCustomer, d.customerKey)
	before, _, err := c.states.Load(ctx, key)
	if err != nil {
		return false, fmt.Errorf("read the last invitation of customer %s: %w", d.customerKey, err)
	}
	if !d.env.Time.After(before.LastInvite) {
		c.log.WarnContext(ctx, "a review invitation of this customer may have been created before a restart or a lost answer; not created again",
			"key", d.env.Key, "customer", d.customerKey, "last_invite", before.LastInvite)
		return false, nil
	}
	marked := before
	marked.LastInvite = d.env.Time
	if err := c.save(ctx, key, marked); err != nil {
		return false, fmt.Errorf("mark the invitation of customer %s: %w", d.customerKey, err)
	}
	if _, err := c.client.CreateReviewInvite(ctx, inv); err != nil {
		if !errors.Is(err, partnerapi.ErrOutcomeUnknown) {
			c.unmark(ctx, key, d.env.Time, before.LastInvite)
		}
		return false, fmt.Errorf("review invitation for %s: %w", d.env.Key, err)
	}
	c.log.DebugContext(ctx, "review invitation sent", "key", d.env.Key, "customer", d.customerKey, "location", inv.LocationUID)
	return true, nil
}

// unmark puts a customer's last invitation back after Podium refused one,
// unless a customer event changed the state meanwhile.
func (c *Connector) unmark(ctx context.Context, key string, marked, before time.Time) {
	p, ok, err := c.states.Load(ctx, key)
	if err != nil || !ok || !p.LastInvite.Equal(marked) {
		return
	}
	p.LastInvite = before
	if err := c.save(ctx, key, p); err != nil {
		c.log.WarnContext(ctx, "could not take back the invitation mark; this customer is not invited again inside the cool-down", "err", err)
	}
}

func (c *Connector) feedOutcome(batch []deferredActivity, errs []error, sent []bool, owner int, ev podiumapi.FeedEvent, err error) {
	if err != nil {
		if errs[owner] == nil {
			errs[owner] = fmt.Errorf("%s event for %s: %w", ev.Type, batch[owner].env.Key, err)
		}
		return
	}
	sent[owner] = true
}

// notification sends an Edge text through Podium; the kit reports the
// outcome on partner.podium.notification.<key>, where the Edge writer
// records it, saving it first. A crash between Podium accepting the text
// and the state being saved sends it again on redelivery: Podium's
// messages API has no idempotency key, and a repeated text is the lesser
// harm than a lost one.
func (c *Connector) notification(ctx context.Context, e *event) (bool, error) {
	n, err := schemas.Aggregate[schemas.Notification](e.Env)
	if err != nil {
		return false, streams.Permanent(err)
	}
	res, failed := projectors.PodiumNotification(n, projectors.PodiumActivityPrior{Hash: e.Prior.Hash}, c.cfg.Options)
	outcome := schemas.NotificationOutcome{NotificationKey: e.Env.Key, At: e.Env.Time}
	switch op := res.Ops[0]; {
	case failed != "":
		outcome.Status, outcome.Reason = "FAILED", failed
	case op.Kind == projectors.PodiumMessage:
		msg, err := c.client.SendMessage(ctx, *op.Message)
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Refused():
			outcome.Status, outcome.Reason = "FAILED", apiErr.Message
		case err != nil:
			return false, fmt.Errorf("send notification %s: %w", e.Env.Key, err)
		case msg.FailureReason != "" || msg.DeliveryStatus == "failed":
			outcome.Status, outcome.Reason, outcome.ProviderID = "FAILED", msg.FailureReason, msg.UID
		default:
			outcome.Status, outcome.ProviderID = "SENT", msg.UID
		}
	default:
		return false, nil
	}
	e.Next.Hash = "sent"
	e.Outcome = &outcome
	return outcome.Status == "SENT", nil
}

func (c *Connector) intend(ctx context.Context, edgeKey string, body podiumapi.Contact) ([]string, error) {
	var keys []string
	for _, v := range []string{body.PhoneNumber, body.Email} {
		if v == "" {
			continue
		}
		k, err := c.links.Intend(ctx, v, edgeKey)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// forget drops intents once the link is stored, or once Podium refused the
// create.
func (c *Connector) forget(ctx context.Context, keys []string) { c.links.Forget(ctx, keys) }
