package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/schemas"
)

// A connector with ConsumerConfig.Lanes reads Edge events in two lanes, so
// a customer made at the counter never waits behind an hours-long upload:
//
//   - the live lane is the durable itself. A new one starts at the
//     stream's end; it handles every event except those capture's snapshots
//     mark as bulk (schemas.HeaderLane), which it leaves to the bulk lanes.
//   - bulk lanes are consumers named <durable>-bulk-<store>, one per store,
//     so one store's upload never holds another's. A new durable's lanes
//     start with the newest event of every subject that came before it
//     (the current state of every aggregate, as a durable alone did); a
//     store's snapshot that reaches the live lane opens its store's lane at
//     that event. A lane handles the snapshot's events and what came before
//     the live lane's start, and passes over the rest, which the live lane
//     has. The durable's replay (StartReplay) is bulk work too.
//
// Both lanes feed one loop that takes a live event whenever one waits, and
// the partner client serves the live lane first from the rate limit
// (partnerapi.Limiter). Where both lanes carry one aggregate, the newer
// state wins and the older makes no call: handlers skip what is not newer
// than what they applied. A lane with nothing left is deleted.
//
// One process per durable: the lanes' bookkeeping (which exist, which are
// done) is that process's.

// Consumer metadata of the lanes.
const (
	// metaLiveFrom is the stream sequence the live lane starts at: a bulk
	// lane handles every event before it.
	metaLiveFrom = "edgesync_live_from"
	// metaBulkPending is on a new live lane until its bulk lanes exist.
	metaBulkPending = "edgesync_bulk_pending"
	// metaVerify marks a bulk lane's second pass (see finished).
	metaVerify = "edgesync_verify_pass"
)

// BulkName is the name of a durable's bulk lane for a store.
func BulkName(durable, store string) string { return bulkPrefix(durable) + store }

func bulkPrefix(durable string) string { return durable + "-bulk-" }

// LaneOf names the lane a consumer is for its connector: "live" for a
// durable (of is then empty), "bulk" for a bulk lane or a replay, of the
// durable named of.
func LaneOf(consumer string) (of, laneName string) {
	if d, ok := strings.CutSuffix(consumer, "-replay"); ok {
		return d, "bulk"
	}
	if i := strings.LastIndex(consumer, "-bulk-"); i > 0 {
		return consumer[:i], "bulk"
	}
	return "", "live"
}

// AtLimit is how long n partner calls take at perMinute (0 when there is
// no limit): a bulk lane's floor.
func AtLimit(n uint64, perMinute int) time.Duration {
	if perMinute <= 0 {
		return 0
	}
	return time.Duration(float64(n) / float64(perMinute) * float64(time.Minute))
}

func markedBulk(msg jetstream.Msg) bool {
	return msg.Headers().Get(schemas.HeaderLane) == schemas.LaneBulk
}

// createLive creates a new live lane at the stream's end.
func createLive(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	from := str.CachedInfo().State.LastSeq + 1
	cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	cc.Metadata = map[string]string{metaLiveFrom: strconv.FormatUint(from, 10), metaBulkPending: "true"}
	return js.CreateConsumer(ctx, stream, cc)
}

// openInitialBulk opens the bulk lanes of a new live lane: one per store
// the stream holds events of before the live lane's start, each starting
// with the newest event of every subject. Until they all exist the live
// lane says so in its metadata, and a restart opens them again.
func openInitialBulk(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, cons jetstream.Consumer, log *slog.Logger) (jetstream.Consumer, error) {
	info := cons.CachedInfo()
	if info.Config.Metadata[metaBulkPending] == "" {
		return cons, nil
	}
	from := info.Config.OptStartSeq
	str, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Stream, err)
	}
	stores := map[string]bool{}
	for _, f := range cfg.Filters {
		si, err := str.Info(ctx, jetstream.WithSubjectFilter(f))
		if err != nil {
			return nil, fmt.Errorf("list the stores on %s: %w", f, err)
		}
		for subject := range si.State.Subjects {
			if s, err := schemas.ParseEdgeSubject(subject); err == nil {
				stores[s.Store] = true
			}
		}
	}
	for store := range stores {
		cc := bulkConfig(cfg, info.Config, store)
		cc.DeliverPolicy = jetstream.DeliverLastPerSubjectPolicy
		cc.Metadata = map[string]string{metaLiveFrom: strconv.FormatUint(from, 10)}
		if _, err := createRecorded(ctx, js, cfg.Stream, cc); err != nil && !errors.Is(err, jetstream.ErrConsumerExists) {
			return nil, fmt.Errorf("open the bulk lane %s: %w", cc.Durable, err)
		}
	}
	if len(stores) > 0 {
		log.Info("new connector: the current state of every aggregate goes in bulk lanes, one per store; live changes go first",
			"consumer", cfg.Durable, "stores", len(stores), "live_from", from)
	}
	cc := info.Config
	cc.Metadata = recordOf(info)
	delete(cc.Metadata, metaBulkPending)
	updated, err := js.UpdateConsumer(ctx, cfg.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("record the bulk lanes of %s: %w", cfg.Durable, err)
	}
	return updated, nil
}

// bulkConfig is a store's bulk lane of the durable: its subjects of that
// store, acknowledged and redelivered as the durable is.
func bulkConfig(cfg ConsumerConfig, durable jetstream.ConsumerConfig, store string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        BulkName(cfg.Durable, store),
		Description:    "edgesync bulk lane of " + cfg.Durable + " for store " + store + "; deleted by the connector when done",
		FilterSubjects: storeFilters(Filters(durable), store),
		AckPolicy:      durable.AckPolicy,
		AckWait:        durable.AckWait,
		MaxDeliver:     durable.MaxDeliver,
		MaxAckPending:  durable.MaxAckPending,
	}
}

// storeFilters narrows Edge filters (edge.<entity>.>, edge.<entity>.*.*)
// to one store.
func storeFilters(filters []string, store string) []string {
	var out []string
	for _, f := range filters {
		t := strings.Split(f, ".")
		switch {
		case len(t) < 2 || t[0] != schemas.EdgePrefix:
		case t[1] == ">":
			for _, e := range schemas.Entities {
				out = append(out, schemas.EdgePrefix+"."+string(e)+"."+store+".*")
			}
		case len(t) == 3 && t[2] == ">", len(t) == 4 && t[2] == "*":
			out = append(out, t[0]+"."+t[1]+"."+store+".*")
		case len(t) == 4 && t[2] == store:
			out = append(out, f)
		}
	}
	return out
}

// lanes is one connector's bookkeeping of its bulk lanes.
type lanes struct {
	js      jetstream.JetStream
	cfg     ConsumerConfig
	log     *slog.Logger
	started time.Time // when this process started consuming

	// mu makes "a lane exists, so the live lane may leave a bulk event to
	// it" and "a lane has nothing left, so it goes" exclusive: an event
	// stored between a lane's last look and its deletion is then seen by
	// one of them.
	mu   sync.Mutex
	open map[string]bool // by store
}

// live is the live lane's gate: it passes a live event on, and leaves a
// snapshot's event to its store's bulk lane, opening the lane at that
// event when none is open.
func (l *lanes) live(ctx context.Context, msg jetstream.Msg) bool {
	if !markedBulk(msg) {
		return true
	}
	s, err := schemas.ParseEdgeSubject(msg.Subject())
	if err != nil {
		return true // the handler refuses it, with the reason
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.open[s.Store] {
		md, err := msg.Metadata()
		if err != nil {
			return true
		}
		if err := l.openAt(ctx, s.Store, md.Sequence.Stream); err != nil {
			l.log.Warn("cannot open a bulk lane; the event waits", "consumer", l.cfg.Durable, "store", s.Store, "err", err)
			_ = msg.NakWithDelay(time.Second)
			return false
		}
		l.open[s.Store] = true
	}
	_ = msg.Ack()
	return false
}

func (l *lanes) openAt(ctx context.Context, store string, seq uint64) error {
	durable, err := l.js.Consumer(ctx, l.cfg.Stream, l.cfg.Durable)
	if err != nil {
		return err
	}
	cc := bulkConfig(l.cfg, durable.CachedInfo().Config, store)
	cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	cc.Metadata = map[string]string{metaLiveFrom: "0"}
	_, err = l.js.CreateConsumer(ctx, l.cfg.Stream, cc)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return nil // open since before this process: it started before this event
	}
	if err == nil {
		l.log.Info("a store's snapshot goes in its bulk lane; live changes go first", "consumer", l.cfg.Durable, "lane", cc.Durable, "from", seq)
	}
	return err
}

// lane is one bulk lane (or the replay) being read.
type bulkLane struct {
	name     string
	store    string // "" for the replay
	liveFrom uint64
	cons     jetstream.Consumer
	it       jetstream.MessagesContext
	fed      chan struct{}
	stop     context.CancelFunc // ends its progress log
	done     atomic.Int64       // messages acknowledged
}

// bulk is a bulk lane's gate: it passes on what the lane is for, and
// acknowledges the rest, which the live lane has.
func (ln *bulkLane) bulk(msg jetstream.Msg) bool {
	if ln.store == "" || markedBulk(msg) {
		return true
	}
	if md, err := msg.Metadata(); err == nil && md.Sequence.Stream < ln.liveFrom {
		return true
	}
	_ = msg.Ack()
	ln.done.Add(1)
	return false
}

// laneMsg is a message of a bulk lane: handled as bulk work, and counted
// when acknowledged.
type laneMsg struct {
	jetstream.Msg
	lane *bulkLane
}

func (m laneMsg) Ack() error {
	m.lane.done.Add(1)
	return m.Msg.Ack()
}

// isBulkWork reports whether msg came from a bulk lane.
func isBulkWork(msg jetstream.Msg) bool {
	_, ok := msg.(laneMsg)
	return ok
}

// lanePoll is how often a consumer looks for bulk lanes and a replay of
// itself, and checks those it reads for their end.
const lanePoll = 2 * time.Second

// follow reads every bulk lane and the replay of the durable, feeding
// their messages to in, and deletes each once it has nothing left.
func (l *lanes) follow(ctx context.Context, in chan<- jetstream.Msg, progress func(context.Context, *bulkLane)) {
	reading := map[string]*bulkLane{}
	defer func() {
		for _, ln := range reading {
			ln.it.Drain()
			<-ln.fed
		}
	}()
	// Lanes there before this process started may have been left by the
	// one before it (firstdelivery.go).
	earlier, failing := true, false
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(lanePoll)
		}
		names, err := l.names(ctx)
		if err != nil {
			if !failing && ctx.Err() == nil {
				l.log.Warn("cannot list this connector's bulk lanes; an upload or a snapshot waits in them until it can (the NATS user needs $JS.API.CONSUMER.NAMES on the stream)",
					"consumer", l.cfg.Durable, "err", err)
			}
			failing = true
			continue
		}
		failing = false
		for _, name := range names {
			if reading[name] != nil {
				continue
			}
			if ln := l.attach(ctx, name, earlier, in); ln != nil {
				reading[name] = ln
				pctx, stop := context.WithCancel(ctx)
				ln.stop = stop
				go progress(pctx, ln)
			}
		}
		earlier = false
		for name, ln := range reading {
			if l.finished(ctx, ln) {
				delete(reading, name)
			}
		}
	}
}

// names lists the durable's bulk lanes and replay. A consumer without
// lanes has only its replay to look for, by name (the writer's user may
// not list the stream's consumers).
func (l *lanes) names(ctx context.Context) ([]string, error) {
	if !l.cfg.Lanes {
		return []string{ReplayName(l.cfg.Durable)}, nil
	}
	str, err := l.js.Stream(ctx, l.cfg.Stream)
	if err != nil {
		return nil, err
	}
	var out []string
	list := str.ConsumerNames(ctx)
	for name := range list.Name() {
		if name == ReplayName(l.cfg.Durable) || strings.HasPrefix(name, bulkPrefix(l.cfg.Durable)) {
			out = append(out, name)
		}
	}
	return out, list.Err()
}

func (l *lanes) attach(ctx context.Context, name string, earlier bool, in chan<- jetstream.Msg) *bulkLane {
	c, err := l.js.Consumer(ctx, l.cfg.Stream, name)
	if err != nil {
		return nil
	}
	// The live lane opens a store's lane when it finds none: a lane made
	// afresh must not leave a moment without one.
	l.mu.Lock()
	defer l.mu.Unlock()
	info := c.CachedInfo()
	// Only a lane an earlier process left is suspect; this process's own
	// (made as it started, openInitialBulk) has delivered nothing yet.
	if earlier && info.Created.Before(l.started) && firstDeliveryLeft(info) {
		cc := info.Config
		cc.Metadata = recordOf(info)
		delete(cc.Metadata, metaFirstDelivery)
		if c, err = remake(ctx, l.js, l.cfg.Stream, info, cc, l.log); err != nil {
			l.log.Warn("cannot make a bulk lane afresh; will retry", "consumer", l.cfg.Durable, "lane", name, "err", err)
			return nil
		}
	}
	ln := &bulkLane{name: name, cons: c, fed: make(chan struct{})}
	if store, ok := strings.CutPrefix(name, bulkPrefix(l.cfg.Durable)); ok {
		ln.store = store
		ln.liveFrom, _ = strconv.ParseUint(c.CachedInfo().Config.Metadata[metaLiveFrom], 10, 64)
		l.open[store] = true
	}
	if ln.it, err = c.Messages(pullOpts()...); err != nil {
		l.log.Warn("cannot read a bulk lane; will retry", "consumer", l.cfg.Durable, "lane", name, "err", err)
		return nil
	}
	go func() {
		feed(ctx, ln.it, in, name, func(_ context.Context, msg jetstream.Msg) (jetstream.Msg, bool) {
			if !ln.bulk(msg) {
				return nil, false
			}
			return laneMsg{msg, ln}, true
		}, l.log)
		close(ln.fed)
	}()
	if ln.store == "" {
		l.log.Info("replay started", "consumer", l.cfg.Durable, "replay", name)
	} else {
		l.log.Info("bulk lane started", "consumer", l.cfg.Durable, "lane", name, "left", info.NumPending)
	}
	return ln
}

// finished stops reading a lane that is gone (a cancelled replay) or has
// nothing left, which it then deletes.
func (l *lanes) finished(ctx context.Context, ln *bulkLane) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	detach := func() {
		if ln.stop != nil {
			ln.stop()
		}
		ln.it.Stop()
		<-ln.fed
		if ln.store != "" {
			delete(l.open, ln.store)
		}
	}
	info, err := ln.cons.Info(ctx)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		detach()
		l.log.Info("replay cancelled", "consumer", l.cfg.Durable, "replay", ln.name)
		return true
	case err != nil:
		l.log.Warn("cannot read a bulk lane's progress; will retry", "consumer", l.cfg.Durable, "lane", ln.name, "err", err)
		return false
	case info.NumPending > 0 || info.NumAckPending > 0:
		return false
	}
	// The server counts a stored message into a consumer's pending total
	// asynchronously: nothing is left once nothing newer than what it
	// delivered is stored.
	if last, err := lastSeq(ctx, l.js, l.cfg.Stream, Filters(info.Config)); err != nil || last > info.Delivered.Stream {
		return false
	}
	detach()
	if err := l.js.DeleteConsumer(ctx, l.cfg.Stream, ln.name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		l.log.Warn("lane done but not deleted", "consumer", l.cfg.Durable, "lane", ln.name, "err", err)
	}
	if ln.store != "" && info.Config.DeliverPolicy == jetstream.DeliverLastPerSubjectPolicy && info.Config.Metadata[metaVerify] == "" {
		// nats-server drops an entry of a latest-per-subject list when a
		// pull request expires as the list reaches it (firstdelivery.go),
		// and a bulk lane waits behind the live one long enough for its
		// pulls to expire. A second pass over the same list goes fast
		// (what the first applied is skipped, no partner call) and
		// delivers what the first lost.
		cc := info.Config
		cc.Metadata = recordOf(info)
		delete(cc.Metadata, metaFirstDelivery)
		cc.Metadata[metaVerify] = "true"
		if _, err := createRecorded(ctx, l.js, l.cfg.Stream, cc); err != nil {
			l.log.Error("cannot open a bulk lane's second pass: an aggregate the server dropped from its first may be missing until a replay",
				"consumer", l.cfg.Durable, "lane", ln.name, "err", err)
		} else {
			l.open[ln.store] = true
			l.log.Info("bulk lane done; a second pass checks that nothing was dropped", "consumer", l.cfg.Durable, "lane", ln.name, "messages", info.Delivered.Consumer)
			return true
		}
	}
	if ln.store == "" {
		l.log.Info("replay done", "consumer", l.cfg.Durable, "replay", ln.name, "messages", info.Delivered.Consumer)
	} else {
		l.log.Info("bulk lane done", "consumer", l.cfg.Durable, "lane", ln.name, "messages", info.Delivered.Consumer)
	}
	return true
}

// storedMsg is an event read from the stream rather than delivered by a
// consumer: the latest state of an aggregate a live event needs first.
// There is nothing to acknowledge: the lane that delivers that event in
// its turn settles it, and finds it applied.
type storedMsg struct {
	raw    *jetstream.RawStreamMsg
	stream string
}

func (m storedMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.raw.Sequence}, NumDelivered: 1, Timestamp: m.raw.Time, Stream: m.stream}, nil
}
func (m storedMsg) Data() []byte                     { return m.raw.Data }
func (m storedMsg) Headers() nats.Header             { return m.raw.Header }
func (m storedMsg) Subject() string                  { return m.raw.Subject }
func (m storedMsg) Reply() string                    { return "" }
func (m storedMsg) Ack() error                       { return nil }
func (m storedMsg) DoubleAck(context.Context) error  { return nil }
func (m storedMsg) Nak() error                       { return nil }
func (m storedMsg) NakWithDelay(time.Duration) error { return nil }
func (m storedMsg) InProgress() error                { return nil }
func (m storedMsg) Term() error                      { return nil }
func (m storedMsg) TermWithReason(string) error      { return nil }

// bring reads the latest state on subject for a message that needs it.
func bring(ctx context.Context, js jetstream.JetStream, stream, subject string) (jetstream.Msg, error) {
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	raw, err := str.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("read the latest %s: %w", subject, err)
	}
	return storedMsg{raw, stream}, nil
}
