package clientbook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"
	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Durable is the name of the connector's consumer on the EDGE stream.
const Durable = "clientbook"

// CollectionName is the one client collection Edge wish lists sync with.
const CollectionName = projectors.CollectionName

// DefaultWorkers is how many events the connector applies at once by
// default: the demo's, and the clientbook-workers flag's.
const DefaultWorkers = 4

// customerWaitDeliveries is how many times an event whose customer has no
// Clientbook client yet is redelivered before it is dead-lettered.
const customerWaitDeliveries = 10

const partner = projectors.PartnerClientbook

// Config configures the connector.
type Config struct {
	// AckWait is how long the messages of a crashed connector wait before
	// JetStream delivers them again; 30 s when zero.
	AckWait time.Duration
	Options projectors.ClientbookOptions
	// Metrics, when set, count the consumer's outcomes.
	Metrics *streams.ConsumerMetrics
	// Workers is how many events are applied at once; 1 when zero. One
	// customer's events (its client, notes, sales, wishes, sold items) are
	// applied one after the other, in order, whatever the number.
	Workers int
	// Retry and GiveUpAfter park an event whose partner call keeps failing
	// while the others go on, then dead-letter it (streams.ConsumerConfig);
	// the defaults when zero.
	Retry       []time.Duration
	GiveUpAfter int
}

// Stats count what the connector did since it started.
type Stats struct {
	Applied int64 // events whose operations Clientbook acknowledged
	Skipped int64 // events that needed no call (unchanged, echo, not for Clientbook)
	Stale   int64 // redelivered or older events already superseded
}

// Connector keeps Clientbook equal to Edge for the subjects it consumes.
type Connector struct {
	client  *Client
	js      jetstream.JetStream
	links   streams.Links
	states  *kit.States[pushed, *pushed]
	handler *kit.Handler[pushed, *pushed]
	cfg     Config
	log     *slog.Logger
	warned  sync.Map // associate ids already warned about
	watch   atomic.Pointer[kit.Watch]
}

// NewConnector returns a connector; the streams and buckets must exist.
func NewConnector(ctx context.Context, js jetstream.JetStream, client *Client, cfg Config, log *slog.Logger) (*Connector, error) {
	links, state, err := streams.ConnectorBuckets(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("clientbook connector: %w", err)
	}
	if err := cfg.Options.Check(); err != nil {
		return nil, fmt.Errorf("clientbook connector: %w", err)
	}
	c := &Connector{client: client, js: js, links: streams.NewLinks(links, partner), states: kit.NewStates[pushed](state, partner), cfg: cfg, log: log}
	c.handler = &kit.Handler[pushed, *pushed]{States: c.states, Dest: c, Partner: partner, Echoes: []schemas.Entity{schemas.EntityCustomer}, JS: js, Log: log}
	return c, nil
}

// Subjects are the Edge subjects the connector consumes.
func Subjects() []string {
	var out []string
	for _, e := range []schemas.Entity{schemas.EntityCustomer, schemas.EntityWishList, schemas.EntityNote, schemas.EntitySale,
		schemas.EntityService, schemas.EntityItem, schemas.EntityNotification} {
		out = append(out, schemas.EdgeFilter(e))
	}
	return out
}

// Run consumes until ctx ends.
func (c *Connector) Run(ctx context.Context) error {
	return streams.Consume(ctx, c.js, streams.ConsumerConfig{
		Durable: Durable, Stream: streams.StreamEdge, Filters: Subjects(), Metrics: c.cfg.Metrics, Report: c.report, AckWait: c.cfg.AckWait,
		Execution: streams.Parallel{Workers: c.cfg.Workers, Partition: byCustomer}, Retry: c.cfg.Retry, GiveUpAfter: c.cfg.GiveUpAfter, Lanes: true,
		PartnerOK: func() time.Time { return c.client.Calls().LastOK },
	}, c.Handle, c.log)
}

// byCustomer keys an event by its customer, so that a sale waits for the
// client its customer's event makes.
func byCustomer(msg jetstream.Msg) string { return schemas.CustomerOf(msg.Subject(), msg.Data()) }

// report is what the status page shows of the connector beyond its stream.
func (c *Connector) report() streams.ConnectorReport {
	r := kit.Report(Durable, projectors.PartnerClientbook, c.client.Calls(), c.client.LimitPerMinute(), c.states.Counts())
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
	Hash     string `json:"hash,omitempty"`
	ClientID string `json:"clientId,omitempty"` // customers
	Wishes   []int  `json:"wishes,omitempty"`   // wish lists: the wishes in the collection
	// UserHash is a customer's client as Edge's own data makes it, without
	// the contact methods Clientbook gave (see customer).
	UserHash string `json:"userHash,omitempty"`
}

// event is one Edge event being applied.
type event = kit.Event[pushed]

// Handle applies one Edge event to Clientbook.
func (c *Connector) Handle(ctx context.Context, msg jetstream.Msg) error {
	return c.handler.Handle(ctx, msg)
}

// Apply applies one fresh Edge event to Clientbook (kit.Destination).
func (c *Connector) Apply(ctx context.Context, ev *event) (bool, error) {
	if ev.Prior.Resend {
		ev.Prior.Hash, ev.Prior.UserHash = "", ""
	}
	switch ev.Subject.Entity {
	case schemas.EntityCustomer:
		return c.customer(ctx, ev)
	case schemas.EntityWishList:
		return c.wishList(ctx, ev)
	case schemas.EntityNote:
		return c.note(ctx, ev)
	case schemas.EntitySale:
		return c.sale(ctx, ev)
	case schemas.EntityService:
		return c.serviceJob(ctx, ev)
	case schemas.EntityItem:
		return c.item(ctx, ev)
	case schemas.EntityNotification:
		return c.notification(ctx, ev)
	default:
		return false, streams.Permanent(fmt.Errorf("clientbook connector does not handle %s events", ev.Subject.Entity))
	}
}

// decode reads the event's aggregate; nil for a delete. An aggregate that
// does not decode never will.
func decode[T any](env schemas.Envelope) (*T, error) {
	v, err := schemas.Aggregate[T](env)
	return v, streams.Permanent(err)
}

// unchanged reports whether hash was already pushed, and records it as
// what the state will hold after this event.
func unchanged(ev *event, hash string) bool {
	ev.Next.Hash = hash
	return hash == ev.Prior.Hash
}

// warnAssociate logs an unmapped associate once.
func (c *Connector) warnAssociate(id int, what string) {
	if id == 0 {
		return
	}
	if _, seen := c.warned.LoadOrStore(id, true); !seen {
		c.log.Warn("Edge associate has no Clientbook user; records sync without an associate (map it with --clientbook-associate)",
			"associate", id, "first_seen_on", what)
	}
}

func (c *Connector) customer(ctx context.Context, ev *event) (bool, error) {
	cust, err := decode[schemas.Customer](ev.Env)
	if err != nil {
		return false, err
	}
	if cust == nil {
		c.log.Info("customer deleted in Edge; its Clientbook client is kept", "customer", ev.Env.Key)
		return false, nil
	}
	body, unmapped := projectors.ClientbookClientFor(cust, c.cfg.Options)
	c.warnAssociate(unmapped, ev.Env.Key)
	// Change Tracking keeps the context of the last change only: an event
	// that came from Clientbook may also hold an Edge user's edit made just
	// before. What Clientbook writes into Edge is contact methods of its
	// source and the custom fields its preferences map to; so when the
	// client without those is unchanged, the event is Clientbook's echo,
	// and otherwise the user's edit goes out, as any Edge edit does. (A
	// user's edit of a mapped custom field in the same moment is not told
	// from Clientbook's; it goes out with the next edit.)
	own, _ := projectors.ClientbookClientFor(projectors.WithoutSource(cust, projectors.SourceOf(partner)), c.cfg.Options)
	own.Preferences = nil
	ev.Next.UserHash = projectors.Fingerprint(own)
	if ev.Env.Origin == partner && (ev.Prior.UserHash == "" || ev.Next.UserHash == ev.Prior.UserHash) {
		c.log.Debug("clientbook: not echoing a change that came from Clientbook", "customer", ev.Env.Key)
		return false, nil
	}
	if unchanged(ev, projectors.Fingerprint(body)) {
		return false, nil
	}
	clientID := ev.Prior.ClientID
	if clientID == "" {
		// A client made in Clientbook and downloaded (or matched) by the
		// Edge writer: update that client instead of making a second one.
		if clientID, err = c.linkedClient(ctx, ev.Env.Key); err != nil {
			return false, err
		}
	}
	var out clientbookapi.Client
	if clientID != "" {
		out, err = c.client.UpdateClient(ctx, clientID, body)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
			c.log.Info("clientbook client was deleted in Clientbook; creating it again", "customer", ev.Env.Key)
			out, err = c.client.UpsertClient(ctx, body)
		}
	} else {
		out, err = c.client.UpsertClient(ctx, body)
	}
	if err != nil {
		return false, fmt.Errorf("write client of %s: %w", ev.Env.Key, err)
	}
	if out.ID == "" {
		return false, fmt.Errorf("write client of %s: Clientbook answered without an id", ev.Env.Key)
	}
	c.log.DebugContext(ctx, "clientbook client written", "client", out.ID)
	if out.ID != ev.Prior.ClientID {
		if err := c.links.Put(ctx, "customer", ev.Env.Key, out.ID); err != nil {
			return false, err
		}
	}
	ev.Next.ClientID = out.ID
	return true, nil
}

// linkedClient reads the client the links bucket holds for a customer:
// the one the connector wrote, or the one the Edge writer downloaded.
func (c *Connector) linkedClient(ctx context.Context, customerKey string) (string, error) {
	return c.links.PartnerID(ctx, "customer", customerKey)
}

// clientOf returns the Clientbook client of an Edge customer, or an error
// to retry while the customer's own event has not been applied yet.
func (c *Connector) clientOf(ctx context.Context, ev *event, customerKey string) (string, error) {
	p, _, err := c.states.Load(ctx, c.states.Key(schemas.EntityCustomer, customerKey))
	if err != nil {
		return "", err
	}
	id := p.ClientID
	if id == "" {
		if id, err = c.linkedClient(ctx, customerKey); err != nil {
			return "", err
		}
	}
	if id != "" {
		return id, nil
	}
	err = fmt.Errorf("%s: customer %s has no Clientbook client yet", ev.Env.Key, customerKey)
	if md, merr := ev.Msg.Metadata(); merr == nil && md.NumDelivered >= customerWaitDeliveries {
		return "", streams.Permanent(fmt.Errorf("%w after %d deliveries", err, md.NumDelivered))
	}
	return "", kit.NeedsCustomer(customerKey, err)
}

func (c *Connector) wishList(ctx context.Context, ev *event) (bool, error) {
	wl, err := decode[schemas.WishList](ev.Env)
	if err != nil {
		return false, err
	}
	if wl == nil {
		wl = &schemas.WishList{CustomerKey: ev.Env.Key}
	}
	items, products := projectors.ClientbookWishes(wl, ev.Prior.Wishes)
	if unchanged(ev, projectors.Fingerprint([]any{items, products})) {
		return false, nil
	}
	clientID, err := c.clientOf(ctx, ev, wl.CustomerKey)
	if err != nil {
		return false, err
	}
	for _, p := range products {
		if err := c.client.UpsertProduct(ctx, p); err != nil {
			return false, fmt.Errorf("wish product %s: %w", p.ExternalID, err)
		}
	}
	coll, err := c.client.PutCollection(ctx, clientID, CollectionName, items)
	if err != nil {
		return false, fmt.Errorf("collection %s of %s: %w", CollectionName, wl.CustomerKey, err)
	}
	// The Edge writer reads which collection items are Edge's wishes when
	// a person changes the collection in Clientbook.
	pushedItems := map[string]int{}
	for _, it := range coll.Items {
		if _, id, ok := projectors.WishOwner(it); ok {
			pushedItems[it.ID] = id
		}
	}
	if err := c.links.PutCollection(ctx, wl.CustomerKey, pushedItems); err != nil {
		return false, err
	}
	ev.Next.Wishes = ev.Next.Wishes[:0:0]
	for _, w := range wl.Wishes {
		ev.Next.Wishes = append(ev.Next.Wishes, w.ID)
	}
	return true, nil
}

func (c *Connector) note(ctx context.Context, ev *event) (bool, error) {
	n, err := decode[schemas.Note](ev.Env)
	if err != nil {
		return false, err
	}
	if n == nil {
		c.log.Info("note deleted in Edge; its Clientbook activity is kept", "note", ev.Env.Key)
		return false, nil
	}
	a, unmapped := projectors.ClientbookNote(n, c.cfg.Options)
	c.warnAssociate(unmapped, ev.Env.Key)
	if unchanged(ev, projectors.Fingerprint(a)) {
		return false, nil
	}
	clientID, err := c.clientOf(ctx, ev, n.CustomerKey)
	if err != nil {
		return false, err
	}
	// A note downloaded from Clientbook is edited in place.
	activityID, err := c.links.PartnerID(ctx, "note", ev.Env.Key)
	if err != nil {
		return false, err
	}
	if activityID != "" {
		if err := c.client.UpdateActivity(ctx, activityID, a); err != nil {
			return false, fmt.Errorf("activity of note %s: %w", ev.Env.Key, err)
		}
		return true, nil
	}
	id, err := c.client.UpsertActivity(ctx, clientID, ev.Env.Key, a)
	if err != nil {
		return false, fmt.Errorf("activity of note %s: %w", ev.Env.Key, err)
	}
	return true, c.links.Put(ctx, "note", ev.Env.Key, id)
}

func (c *Connector) sale(ctx context.Context, ev *event) (bool, error) {
	s, err := decode[schemas.Sale](ev.Env)
	if err != nil {
		return false, err
	}
	if s == nil || s.CustomerKey == "" {
		return false, nil // a deleted or cash sale has no client; its items arrive as item events
	}
	clientID, err := c.clientOf(ctx, ev, s.CustomerKey)
	if err != nil {
		return false, err
	}
	p, unmapped := projectors.ClientbookSale(s, c.cfg.Options)
	c.warnAssociate(unmapped, ev.Env.Key)
	if unchanged(ev, projectors.Fingerprint([]any{p, clientID})) {
		return false, nil
	}
	if err := c.client.UpsertPurchase(ctx, clientID, s.Key, p); err != nil {
		return false, fmt.Errorf("purchase %s: %w", s.Key, err)
	}
	return true, nil
}

func (c *Connector) serviceJob(ctx context.Context, ev *event) (bool, error) {
	j, err := decode[schemas.ServiceJob](ev.Env)
	if err != nil || j == nil {
		return false, err
	}
	clientID := ""
	if j.CustomerKey != "" {
		if clientID, err = c.clientOf(ctx, ev, j.CustomerKey); err != nil {
			return false, err
		}
	}
	p, skip := projectors.ClientbookServiceJob(j, clientID)
	if skip != "" {
		c.log.Debug("clientbook: no product for service job", "job", j.Key, "reason", skip)
		return false, nil
	}
	if unchanged(ev, projectors.Fingerprint(p)) {
		return false, nil
	}
	if err := c.client.UpsertProduct(ctx, p); err != nil {
		return false, fmt.Errorf("service product %s: %w", p.ExternalID, err)
	}
	return true, nil
}

func (c *Connector) item(ctx context.Context, ev *event) (bool, error) {
	it, err := decode[schemas.Item](ev.Env)
	if err != nil {
		return false, err
	}
	p := projectors.ClientbookItem(ev.Env.Key, it)
	if it != nil && it.SoldToCustomerKey != "" {
		// Best effort: the sale names the client too, and must not wait here.
		p.ClientID, _ = c.linkedClient(ctx, it.SoldToCustomerKey)
	}
	if unchanged(ev, projectors.Fingerprint(p)) {
		return false, nil
	}
	if err := c.client.UpsertProduct(ctx, p); err != nil {
		return false, fmt.Errorf("item product %s: %w", p.ExternalID, err)
	}
	return true, nil
}

// notification sends an Edge text through Clientbook and reports the
// outcome on partner.clientbook.notification.<key>, where the Edge writer
// records it. The notification key is the message's external id, so a
// redelivery after a crash does not text the customer twice.
func (c *Connector) notification(ctx context.Context, ev *event) (bool, error) {
	n, err := decode[schemas.Notification](ev.Env)
	if err != nil {
		return false, err
	}
	sms, skip, failed := projectors.ClientbookNotification(ev.Env.Key, n, ev.Prior.Hash != "", c.cfg.Options)
	if skip != "" {
		c.log.Debug("clientbook: notification not sent", "notification", ev.Env.Key, "reason", skip)
		return false, nil
	}
	outcome := schemas.NotificationOutcome{NotificationKey: ev.Env.Key, At: ev.Env.Time}
	if failed != "" {
		outcome.Status, outcome.Reason = "FAILED", failed
	} else {
		msg, err := c.client.SendMessage(ctx, *sms)
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Refused():
			outcome.Status, outcome.Reason = "FAILED", apiErr.Message
		case err != nil:
			return false, fmt.Errorf("send notification %s: %w", ev.Env.Key, err)
		case msg.Status == "failed":
			outcome.Status, outcome.Reason, outcome.ProviderID = "FAILED", msg.FailureReason, msg.ID
		default:
			outcome.Status, outcome.ProviderID = "SENT", msg.ID
		}
	}
	ev.Next.Hash = "sent"
	ev.Outcome = &outcome
	return outcome.Status == "SENT", nil
}
