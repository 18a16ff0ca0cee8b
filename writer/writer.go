// Package writer is the Edge writer role: it consumes partner events from
// the PARTNER stream, runs the merge rules against what Edge holds, and
// applies each event's commands in one Edge transaction together with a row
// in an applied-events ledger, so a redelivered event changes nothing.
package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Durable is the writer's consumer on the PARTNER stream.
const Durable = "edge-writer"

// EdgeStore is what the writer needs of the Edge database; edgesql (SQL
// Server) and the Edge simulator implement it.
type EdgeStore interface {
	CustomerByKey(ctx context.Context, key string) (*schemas.Customer, error)
	CustomerByEmail(ctx context.Context, email string) (string, error)
	LinkedKey(ctx context.Context, partner, entity, partnerID string) (string, error)
	NoteByKey(ctx context.Context, key string) (*schemas.Note, error)
	WishLinks(ctx context.Context, partner, customerKey string) (map[string]int, error)
	// Apply runs cmds in one transaction marked with origin and records
	// eventID in the ledger; it reports false for an event already there.
	Apply(ctx context.Context, origin, eventID string, cmds []projectors.Command) (applied bool, err error)
}

// Config configures the writer.
type Config struct {
	// AckWait is how long the messages of a crashed writer wait before
	// JetStream delivers them again; 30 s when zero.
	AckWait                time.Duration
	Podium                 projectors.MergeOptions
	PodiumAcquisitionLabel string
	// Clientbook holds Clientbook's merge settings: Stores maps a
	// Clientbook store id to an Edge store, Preferences a preference name
	// to a custom field. Without Download, Clientbook events are ignored.
	Clientbook projectors.MergeOptions
	// Metrics, when set, count the consumer's outcomes.
	Metrics *streams.ConsumerMetrics
	// Store, when set, makes this the writer of one store of a chain
	// (docs/chain.md): it runs at the store, next to the store's own Edge,
	// with a durable consumer of its own (DurableFor), and writes the
	// partner changes of its store only. A change belongs to the store of
	// the Edge customer it is linked to, or, for a partner record not
	// linked yet, to the store its partner location maps to (Podium and
	// Clientbook's Stores); the others are acknowledged and left to their
	// stores' writers, which read the same events with consumers of their
	// own. So each store's partner changes wait at the hub, durable, while
	// its internet is down, and arrive once it is back.
	Store string
}

// DurableFor is the writer's consumer for a store of a chain, or Durable
// for a single site (store "").
func DurableFor(store string) string {
	if store == "" {
		return Durable
	}
	return Durable + "-" + store
}

// errOtherStore is a partner change that belongs to another store of the
// chain than the writer's.
var errOtherStore = errors.New("another store's partner change")

// Stats count what the writer did since it started.
type Stats struct {
	Applied    int64 // events whose commands were committed
	Duplicates int64 // events found in the ledger
	NoChange   int64 // events that needed no write
	Ignored    int64 // event types the writer does not act on
}

// Writer applies partner events to Edge.
type Writer struct {
	store EdgeStore
	js    jetstream.JetStream
	links jetstream.KeyValue // read through linksOf
	cfg   Config
	log   *slog.Logger

	applied, duplicates, noChange, ignored atomic.Int64
}

// New returns a writer; the streams and buckets must exist.
func New(ctx context.Context, js jetstream.JetStream, store EdgeStore, cfg Config, log *slog.Logger) (*Writer, error) {
	links, err := js.KeyValue(ctx, streams.BucketLinks)
	if err != nil {
		return nil, fmt.Errorf("edge writer: open bucket %s: %w", streams.BucketLinks, err)
	}
	cfg.Podium.Partner = projectors.PartnerPodium
	cfg.Clientbook.Partner = projectors.PartnerClientbook
	if _, ok := cfg.Clientbook.Stores[""]; !ok && len(cfg.Clientbook.Stores) == 1 {
		// One store: clients made in Clientbook without a store belong to it.
		stores := map[string]string{}
		for id, store := range cfg.Clientbook.Stores {
			stores[id], stores[""] = store, store
		}
		cfg.Clientbook.Stores = stores
	}
	if cfg.Clientbook.AcquisitionPreference == "" {
		cfg.Clientbook.AcquisitionPreference = projectors.DefaultAcquisitionPreference
	}
	return &Writer{store: store, js: js, links: links, cfg: cfg, log: log}, nil
}

// Run consumes until ctx ends.
func (w *Writer) Run(ctx context.Context) error {
	return streams.Consume(ctx, w.js, streams.ConsumerConfig{
		Durable: DurableFor(w.cfg.Store), Stream: streams.StreamPartner, MaxAckPending: w.maxAckPending(), Filters: []string{schemas.PartnerPrefix + ".>"}, Metrics: w.cfg.Metrics, AckWait: w.cfg.AckWait,
	}, w.Handle, w.log)
}

// maxAckPending is 1 for a store's writer: it reads the hub's stream across
// the store's internet link, and the hub keeps delivering into a pull whose
// link went down; with more in flight, what was lost there would come again
// after the changes that followed it, and a Clientbook note would arrive
// before the new client it belongs to. One at a time costs a round trip per
// change, which partner changes, a few a minute per store, can afford.
func (w *Writer) maxAckPending() int {
	if w.cfg.Store != "" {
		return 1
	}
	return 0
}

// Stats returns the running totals.
func (w *Writer) Stats() Stats {
	return Stats{Applied: w.applied.Load(), Duplicates: w.duplicates.Load(), NoChange: w.noChange.Load(), Ignored: w.ignored.Load()}
}

// Handle applies one partner event.
func (w *Writer) Handle(ctx context.Context, msg jetstream.Msg) error {
	pe, err := schemas.DecodePartnerEnvelope(msg.Data())
	if err != nil {
		return streams.Permanent(err)
	}
	err = w.handle(ctx, pe)
	if errors.Is(err, errOtherStore) {
		w.log.Debug("partner change left to its store's writer", "partner", pe.Partner, "type", pe.Type, "id", pe.ID, "why", err)
		return nil
	}
	return err
}

// ours returns errOtherStore when the Edge key is of another store than
// the writer's.
func (w *Writer) ours(key string) error {
	if w.cfg.Store == "" {
		return nil
	}
	if s, err := schemas.EdgeSubjectFor(schemas.EntityCustomer, key); err == nil && s.Store == w.cfg.Store {
		return nil
	}
	return fmt.Errorf("%w: %s", errOtherStore, key)
}

// oursByLocation returns errOtherStore when a partner location maps to
// another store than the writer's. An unmapped location is left to the
// merge rules, which refuse it with the reason.
func (w *Writer) oursByLocation(opts projectors.MergeOptions, location string) error {
	store, mapped := opts.Stores[location]
	if w.cfg.Store == "" || !mapped || store == w.cfg.Store {
		return nil
	}
	return fmt.Errorf("%w: %s location %q is store %s's", errOtherStore, opts.Partner, location, store)
}

func (w *Writer) handle(ctx context.Context, pe schemas.PartnerEnvelope) error {
	if pe.Type == "notification.outcome" {
		return w.notificationOutcome(ctx, pe)
	}
	switch pe.Partner {
	case projectors.PartnerPodium:
		return w.podium(ctx, pe)
	case projectors.PartnerClientbook:
		if !w.cfg.Clientbook.Download {
			w.ignore(pe, "Clientbook is not configured for this writer (--clientbook-store)")
			return nil
		}
		return w.clientbook(ctx, pe)
	}
	w.ignore(pe, "no merge rules for this partner")
	return nil
}

func (w *Writer) ignore(pe schemas.PartnerEnvelope, why string) {
	w.ignored.Add(1)
	w.log.Debug("partner event not written to Edge", "partner", pe.Partner, "type", pe.Type, "id", pe.ID, "why", why)
}

// apply runs commands once per event id.
func (w *Writer) apply(ctx context.Context, pe schemas.PartnerEnvelope, cmds []projectors.Command) error {
	if len(cmds) == 0 {
		w.noChange.Add(1)
		return nil
	}
	applied, err := w.store.Apply(ctx, pe.Partner, pe.ID, cmds)
	if err != nil {
		// An Edge refusal says so of itself (streams.IsPermanent).
		return fmt.Errorf("apply %s %s: %w", pe.Partner, pe.Type, err)
	}
	if !applied {
		w.duplicates.Add(1)
		return nil
	}
	w.applied.Add(1)
	w.log.InfoContext(ctx, "partner change written to Edge", "edge", projectors.EdgeRecord(cmds), "partner", pe.Partner, "type", pe.Type,
		"partner_id", pe.PartnerID, "event", pe.ID, "commands", len(cmds))
	return nil
}

func (w *Writer) podium(ctx context.Context, pe schemas.PartnerEnvelope) error {
	switch pe.Type {
	case "contact.created", "contact.updated":
	case "contact.deleted":
		w.ignore(pe, "a contact deleted in Podium is kept in Edge: partners never erase Edge data")
		return nil
	default:
		w.ignore(pe, "Podium sends Edge only contacts")
		return nil
	}
	ev, err := projectors.ParsePodiumContact(pe.Data, w.cfg.PodiumAcquisitionLabel)
	if err != nil {
		return streams.Permanent(err)
	}
	match, err := w.match(ctx, w.cfg.Podium, ev.Person, func(ctx context.Context) (string, error) {
		// A contact edgesync pushed is linked by the identifier Podium
		// answered with, which may be any of the contact's identifiers;
		// while the push is in flight, by the connector's intent. The
		// connector sets the intent, then the link, then drops the intent:
		// reading intents first means one of the two is always seen.
		links := w.linksOf(projectors.PartnerPodium)
		for _, v := range append(append([]string{}, ev.Person.Phones...), ev.Person.Emails...) {
			if key, err := links.Intended(ctx, v); err != nil || key != "" {
				return key, err
			}
		}
		for _, id := range ev.Identifiers {
			if key, err := links.EdgeKey(ctx, "customer", id); err != nil || key != "" {
				return key, err
			}
		}
		return "", nil
	})
	if err != nil {
		return err
	}
	cmds, err := projectors.MergePerson(ev.Person, match, w.cfg.Podium)
	if err != nil {
		return streams.Permanent(err)
	}
	if err := w.apply(ctx, pe, cmds); err != nil {
		return err
	}
	// Tell the connector which contact a downloaded or matched customer is,
	// so a later Edge edit updates that contact instead of creating a
	// second one.
	if len(ev.Identifiers) == 0 || !w.cfg.Podium.Download {
		return nil
	}
	return w.mirrorLink(ctx, projectors.PartnerPodium, "customer", ev.Person.PartnerID, ev.Identifiers[0])
}

// mirrorLink copies into the links bucket the Edge link an event just
// wrote for partnerID, as edgeKey <-> linkTo, so the partner's connector
// finds the record Edge created or matched.
//
// It runs for every event of a linked record, not only the one that made
// the link: a writer killed between the Edge commit and this write gets
// the event again, finds it applied and the Edge link there, and must
// still leave the link in the bucket, or the connector, not finding it,
// would push the customer as a new contact. Two reads skip the write when
// both directions are there.
func (w *Writer) mirrorLink(ctx context.Context, partner, entity, partnerID, linkTo string) error {
	key, err := w.store.LinkedKey(ctx, partner, entity, partnerID)
	if err != nil || key == "" {
		return err
	}
	links := w.linksOf(partner)
	fwd, err := links.PartnerID(ctx, entity, key)
	if err != nil {
		return err
	}
	rev, err := links.EdgeKey(ctx, entity, linkTo)
	if err != nil {
		return err
	}
	if fwd == linkTo && rev == key {
		return nil
	}
	return links.Put(ctx, entity, key, linkTo)
}

// linksOf are the links of the connector named for partner: the writer
// downloads for the Podium connector named podium (a second account's
// connector, named otherwise, is upload-only) and for clientbook.
func (w *Writer) linksOf(partner string) streams.Links { return streams.NewLinks(w.links, partner) }

// match finds the Edge customer of a partner person: a link recorded in
// Edge when edgesync created or matched it, a link the connector recorded
// when it pushed it, then the email match of the seeds.
func (w *Writer) match(ctx context.Context, opts projectors.MergeOptions, p projectors.PartnerPerson, pushedLink func(context.Context) (string, error)) (projectors.EdgeMatch, error) {
	partner := opts.Partner
	key, err := w.store.LinkedKey(ctx, partner, "customer", p.PartnerID)
	if err != nil {
		return projectors.EdgeMatch{}, fmt.Errorf("read edge link: %w", err)
	}
	linked := key != ""
	if key == "" && pushedLink != nil {
		if key, err = pushedLink(ctx); err != nil {
			return projectors.EdgeMatch{}, err
		}
		linked = key != ""
	}
	if linked {
		if err := w.ours(key); err != nil {
			return projectors.EdgeMatch{}, err
		}
	} else if err := w.oursByLocation(opts, p.Location); err != nil {
		return projectors.EdgeMatch{}, err
	}
	for _, e := range p.Emails {
		if key != "" {
			break
		}
		if key, err = w.store.CustomerByEmail(ctx, e); err != nil {
			return projectors.EdgeMatch{}, fmt.Errorf("match by email: %w", err)
		}
	}
	if key == "" {
		return projectors.EdgeMatch{}, nil
	}
	c, err := w.store.CustomerByKey(ctx, key)
	if err != nil {
		return projectors.EdgeMatch{}, fmt.Errorf("read customer %s: %w", key, err)
	}
	return projectors.EdgeMatch{Customer: c, Linked: linked && c != nil}, nil
}

func (w *Writer) notificationOutcome(ctx context.Context, pe schemas.PartnerEnvelope) error {
	var o schemas.NotificationOutcome
	if err := json.Unmarshal(pe.Data, &o); err != nil {
		return streams.Permanent(fmt.Errorf("notification outcome: %w", err))
	}
	if err := w.ours(o.NotificationKey); err != nil {
		return err
	}
	return w.apply(ctx, pe, []projectors.Command{projectors.SetNotificationStatus{
		NotificationKey: o.NotificationKey, Status: o.Status, Reason: o.Reason, ProviderID: o.ProviderID,
	}})
}
