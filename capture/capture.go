package capture

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Config configures a capture.
type Config struct {
	// Site names this Edge database; it prefixes checkpoint keys and forms
	// the events' source, so two sites can share one NATS.
	Site string
	// Entities to capture; all of schemas.Entities when empty.
	Entities []schemas.Entity
	// PollInterval between cycles; 250ms when zero.
	PollInterval time.Duration
	// Batch is the atomic publish batch size; streams.MaxBatch when zero.
	Batch int
	// Now stamps event times; time.Now when nil.
	Now func() time.Time
	// Metrics, when set, receive capture's Prometheus metrics.
	Metrics *Metrics
	// ReportEvery is how often Run reports to the status page
	// (streams.ReportEvery when zero; never when negative).
	ReportEvery time.Duration
	// Reports is where the reports go: the JetStream holding the status
	// bucket (a chain store's are the hub's); the capture's own when nil.
	Reports jetstream.JetStream
}

// Checkpoint is what capture stores per site and entity in KV.
type Checkpoint struct {
	Version int64     `json:"version"`
	Epoch   int64     `json:"epoch,omitempty"` // one more at each restore of the database behind the checkpoint
	At      time.Time `json:"at"`
}

// Stats are running totals since the capture started.
type Stats struct {
	Published   map[schemas.Entity]int64 // events stored
	Duplicates  int64                    // events the stream already had
	Snapshots   int64                    // snapshots taken (first run or re-snapshot)
	Resnapshots int64                    // snapshots forced by a checkpoint older than the min valid version
	Version     int64                    // last checkpointed version (the highest over entities)
	Unpublished int64                    // aggregates dead-lettered because they cannot be events (Unpublishable)
}

// Capture publishes Edge changes to the EDGE stream.
type Capture struct {
	src ChangeSource
	pub *streams.Publisher
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	stats   Stats
	failing int   // cycles failed in a row
	lastErr error // the last one's error
	// For the status page: the version the last cycle read, the version
	// every entity reached then, and when.
	edgeVersion  int64
	caughtUpTo   int64
	caughtUp     time.Time
	snapshotting *progress // the snapshot in progress, if any
	lookedAt     map[schemas.Entity]bool
}

// New returns a capture reading src. The streams and buckets must exist.
func New(ctx context.Context, src ChangeSource, js jetstream.JetStream, cfg Config, log *slog.Logger) (*Capture, error) {
	if cfg.Site == "" {
		return nil, errors.New("capture: a site name is required")
	}
	if err := schemas.CheckToken("site", cfg.Site); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if len(cfg.Entities) == 0 {
		cfg.Entities = schemas.Entities
	}
	for _, e := range cfg.Entities {
		if !e.Valid() {
			return nil, fmt.Errorf("capture: unknown entity %q", e)
		}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kv, err := js.KeyValue(ctx, streams.BucketCheckpoints)
	if err != nil {
		return nil, fmt.Errorf("capture: open bucket %s: %w (run `edgesync streams init`)", streams.BucketCheckpoints, err)
	}
	cfg.Metrics.start(cfg.Entities)
	return &Capture{
		src: src, pub: streams.NewPublisher(js, cfg.Batch), js: js, kv: kv, cfg: cfg, log: log,
		stats: Stats{Published: make(map[schemas.Entity]int64)},
	}, nil
}

// Run captures until ctx ends. A failed cycle is logged and retried at the
// next poll: the checkpoint did not move, so nothing is lost.
func (c *Capture) Run(ctx context.Context) error {
	reported := make(chan struct{})
	go func() { c.runReports(ctx); close(reported) }()
	defer func() { <-reported }()
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		start := time.Now()
		err := c.Cycle(ctx)
		c.cfg.Metrics.cycled(time.Since(start).Seconds(), err)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Error("capture cycle failed; retrying at next poll", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Stats returns a copy of the running totals.
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Published = make(map[schemas.Entity]int64, len(c.stats.Published))
	for k, v := range c.stats.Published {
		s.Published[k] = v
	}
	return s
}

// Cycle brings every entity up to the database's current version. An
// entity that fails (a table the login may not read, a mapping that names
// a missing column) stays at its checkpoint while the others go on, with
// one exception: when customers fail, the rest wait, since every other
// aggregate names a customer and a connector must get the customer first.
func (c *Capture) Cycle(ctx context.Context) error {
	until, err := c.src.CurrentVersion(ctx)
	if err != nil {
		c.failed(err)
		return fmt.Errorf("read current version: %w", err)
	}
	var errs []error
	for _, e := range c.cfg.Entities {
		if err := c.cycleEntity(ctx, e, until); err != nil {
			errs = append(errs, fmt.Errorf("capture %s: %w", e, err))
			if e == schemas.EntityCustomer || ctx.Err() != nil {
				break
			}
		}
	}
	err = errors.Join(errs...)
	c.failed(err)
	c.mu.Lock()
	c.edgeVersion = until
	if err == nil {
		c.caughtUpTo, c.caughtUp = until, c.cfg.Now()
	}
	c.mu.Unlock()
	return err
}

// failed records the outcome of a cycle for Ready.
func (c *Capture) failed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.failing, c.lastErr = 0, nil
		return
	}
	c.failing++
	c.lastErr = err
}

// failingCycles is how many cycles in a row must fail before Ready says
// so: one failed read is retried at the next poll, a quarter second later.
const failingCycles = 3

// Ready reports whether capture is keeping up: an error once several
// cycles in a row failed, naming what failed, for the role's /readyz.
func (c *Capture) Ready(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failing >= failingCycles {
		return fmt.Errorf("the last %d capture cycles failed: %w", c.failing, c.lastErr)
	}
	return nil
}

func (c *Capture) setSnapshotting(p *progress) {
	c.mu.Lock()
	c.snapshotting = p
	c.mu.Unlock()
}

func (c *Capture) checkpointKey(e schemas.Entity) string { return c.cfg.Site + "." + string(e) }

// LoadCheckpoint returns the stored checkpoint of an entity, if any.
func (c *Capture) LoadCheckpoint(ctx context.Context, e schemas.Entity) (Checkpoint, bool, error) {
	entry, err := c.kv.Get(ctx, c.checkpointKey(e))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint: %w", err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(entry.Value(), &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("decode checkpoint %s: %w", entry.Key(), err)
	}
	return cp, true, nil
}

func (c *Capture) saveCheckpoint(ctx context.Context, e schemas.Entity, v, epoch int64) error {
	body, _ := json.Marshal(Checkpoint{Version: v, Epoch: epoch, At: c.cfg.Now().UTC()})
	if _, err := c.kv.Put(ctx, c.checkpointKey(e), body); err != nil {
		return fmt.Errorf("save checkpoint %d: %w", v, err)
	}
	c.mu.Lock()
	c.stats.Version = max(c.stats.Version, v)
	c.mu.Unlock()
	c.cfg.Metrics.checkpointed(e, v)
	return nil
}

func (c *Capture) cycleEntity(ctx context.Context, e schemas.Entity, until int64) error {
	cp, ok, err := c.LoadCheckpoint(ctx, e)
	if err != nil {
		return err
	}
	first := c.firstLook(e)
	if !ok {
		if first {
			published, err := c.publishedBefore(ctx, e)
			if err != nil {
				return err
			}
			if published {
				c.log.Error("the checkpoint is gone while the EDGE stream holds this site's events: capture's checkpoints were lost "+
					"(NATS state lost, or a bucket restored apart from its stream?); taking a new snapshot, which connectors skip where they are current",
					"entity", e, "site", c.cfg.Site)
			}
		}
		if err := c.snapshot(ctx, e, until, reasonInitial, 0); err != nil {
			return err
		}
		c.looked(e)
		return nil
	}
	if first && cp.Version > 0 {
		published, err := c.publishedBefore(ctx, e)
		if err != nil {
			return err
		}
		if !published && c.count(ctx, e) > 0 {
			// The checkpoint survived the stream: what capture published is
			// gone, and no connector would ever get it without a snapshot.
			c.log.Error("the EDGE stream holds none of this entity's events though the checkpoint says capture published up to its version: "+
				"the stream went back (NATS state lost, or restored from an old backup?); taking a new snapshot",
				"entity", e, "site", c.cfg.Site, "checkpoint", cp.Version)
			if err := c.snapshot(ctx, e, until, reasonStreamLost, cp.Epoch); err != nil {
				return err
			}
			c.looked(e)
			return nil
		}
	}
	c.looked(e)
	if cp.Version > until {
		// Versions went back: every state from now on may reuse a version
		// already published with other data, so it starts a new epoch, and
		// what the restore took away is published as deleted.
		c.log.Error("the database is behind the checkpoint (restored from a backup?); taking a new snapshot in a new epoch",
			"entity", e, "checkpoint", cp.Version, "current_version", until, "epoch", cp.Epoch+1)
		return c.snapshot(ctx, e, until, reasonBehind, cp.Epoch+1)
	}
	if until == cp.Version {
		// Nothing changed: an idle poll costs the database one query, the
		// current version, however many tables are tracked. The retention
		// cannot have passed a checkpoint at the current version.
		return nil
	}
	minValid, err := c.src.MinValidVersion(ctx, e)
	if err != nil {
		return fmt.Errorf("read min valid version: %w", err)
	}
	if cp.Version < minValid {
		c.log.Warn("checkpoint is older than the change retention; taking a new snapshot",
			"entity", e, "checkpoint", cp.Version, "min_valid_version", minValid)
		return c.snapshot(ctx, e, until, reasonExpired, cp.Epoch)
	}
	b := c.newBatch(e, cp.Epoch)
	defer b.drain()
	if err := c.src.Changes(ctx, e, cp.Version, until, func(r Row) error { return b.add(ctx, r) }); err != nil {
		return fmt.Errorf("read changes since %d: %w", cp.Version, err)
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	return c.saveCheckpoint(ctx, e, until, cp.Epoch)
}

// snapshot publishes every aggregate of e as of the cycle's version until.
// A source's snapshot may be taken later and hold newer rows; they are left
// to the next cycle's changes, so every entity of a cycle is cut at the same
// version and a customer always precedes the sales and jobs that name it.
func (c *Capture) snapshot(ctx context.Context, e schemas.Entity, until int64, reason string, epoch int64) error {
	c.mu.Lock()
	c.stats.Snapshots++
	if reason != reasonInitial {
		c.stats.Resnapshots++
	}
	c.mu.Unlock()
	c.cfg.Metrics.snapshot(e, reason)
	b := c.newBatch(e, epoch)
	b.bulk = true // live changes go first at every connector
	defer b.drain()
	// A row whose last change Change Tracking no longer holds (cleaned up
	// after the retention, or untouched since tracking began) has a NULL
	// version. It gets the table's min valid version: later than any
	// version published for it before its change was cleaned up, so the
	// re-snapshot after a long outage supersedes what connectors hold
	// instead of being judged stale.
	minValid, err := c.src.MinValidVersion(ctx, e)
	if err != nil {
		return fmt.Errorf("snapshot: read min valid version: %w", err)
	}
	held := make(map[string]bool) // the keys the database holds
	prog := newProgress(c.log, e, reason, c.count(ctx, e), c.cfg.Now)
	c.setSnapshotting(prog)
	defer c.setSnapshotting(nil)
	at, err := c.src.Snapshot(ctx, e, func(r Row) error {
		prog.tick()
		held[r.Key] = true // a row changed since the cycle's version still exists
		if r.Version == 0 {
			r.Version = minValid
		}
		if r.Version > until {
			return nil
		}
		return b.add(ctx, r)
	})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	// What was deleted while capture could not follow the changes (a
	// restore, an outage longer than the retention, checkpoints lost) is in
	// no change list any more: whatever this site published as live and
	// the database no longer holds is published as deleted. On a first
	// snapshot the stream holds nothing of this site, and this finds none.
	if err := c.publishGone(ctx, b, e, until, held); err != nil {
		return err
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	prog.done()
	return c.saveCheckpoint(ctx, e, min(at, until), epoch)
}

// publishGone publishes as deleted, at version until (the version the
// resnapshot reads at), every aggregate of e this site published whose latest
// state in the stream is not a deletion and which the database no longer
// holds: each connector then applies its rule for an aggregate deleted in
// Edge.
func (c *Capture) publishGone(ctx context.Context, b *batch, e schemas.Entity, until int64, held map[string]bool) error {
	source := c.source()
	var gone []string
	err := streams.LastPerSubject(ctx, c.js, streams.StreamEdge, schemas.EdgePrefix+"."+string(e)+".>", func(subject string, h nats.Header) error {
		if h.Get(schemas.HeaderSource) != source || h.Get(schemas.HeaderType) == schemas.EdgeEventType(e, true) {
			return nil
		}
		subj, err := schemas.ParseEdgeSubject(subject)
		if err != nil {
			return nil // not ours to judge; no consumer could have used it either
		}
		if !held[subj.Key()] {
			gone = append(gone, subj.Key())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("find what was deleted while capture could not follow: %w", err)
	}
	if len(gone) > 0 {
		c.log.Warn("the database no longer holds aggregates that were published (deleted while capture could not follow the changes); publishing them as deleted",
			"entity", e, "count", len(gone))
	}
	for _, key := range gone {
		if err := b.add(ctx, Row{Entity: e, Key: key, Version: until, Deleted: true}); err != nil {
			return err
		}
	}
	return nil
}

func (c *Capture) source() string { return "edgesync/capture/" + c.cfg.Site }

// firstLook reports whether capture has not yet looked at the entity
// since it started: whether the stream still holds what its checkpoint
// says it published. It stays true until looked says the look was made.
func (c *Capture) firstLook(e schemas.Entity) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.lookedAt[e]
}

// looked records that the entity's first look was made.
func (c *Capture) looked(e schemas.Entity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lookedAt == nil {
		c.lookedAt = map[schemas.Entity]bool{}
	}
	c.lookedAt[e] = true
}

// publishedBefore reports whether the EDGE stream's newest event of e is
// this site's (a cheap look: one message read). A failed read is an
// error, never "nothing there": taken for a stream that went back, it
// would re-snapshot every entity at every restart.
func (c *Capture) publishedBefore(ctx context.Context, e schemas.Entity) (bool, error) {
	str, err := c.js.Stream(ctx, streams.StreamEdge)
	if err != nil {
		return false, fmt.Errorf("read stream %s: %w", streams.StreamEdge, err)
	}
	m, err := str.GetLastMsgForSubject(ctx, schemas.EdgePrefix+"."+string(e)+".>")
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the newest %s event of stream %s: %w", e, streams.StreamEdge, err)
	}
	return m.Header.Get(schemas.HeaderSource) == c.source(), nil
}

// count asks the source for a row count when it can give one, for the ETA.
func (c *Capture) count(ctx context.Context, e schemas.Entity) int64 {
	type counter interface {
		Count(context.Context, schemas.Entity) (int64, error)
	}
	if ct, ok := c.src.(counter); ok {
		if n, err := ct.Count(ctx, e); err == nil {
			return n
		}
	}
	return 0
}

// batch collects the messages of one entity and publishes them in atomic
// batches, so memory stays bounded by the batch size whatever the table size.
// One batch is in flight while the next is encoded: encoding overlaps the
// server's fsync. Never two in flight: if the older one met a duplicate and
// fell back to single publishes, it could store older states after the newer
// batch's, and the stream's last message per subject would be stale.
type batch struct {
	c        *Capture
	entity   schemas.Entity
	epoch    int64
	bulk     bool // a snapshot's: marked for the connectors' bulk lane
	msgs     []*nats.Msg
	size     int
	inFlight *streams.InFlight
	sent     int // messages of the batch in flight
}

func (c *Capture) newBatch(e schemas.Entity, epoch int64) *batch {
	size := c.pub.BatchSize()
	return &batch{c: c, entity: e, epoch: epoch, size: size, msgs: make([]*nats.Msg, 0, size)}
}

func (b *batch) add(ctx context.Context, r Row) error {
	var data any
	if !r.Deleted {
		data = r.Data
	}
	m, err := schemas.EdgeEvent{
		Source: b.c.source(), Entity: r.Entity, Key: r.Key, Version: r.Version, Epoch: b.epoch, Origin: r.Origin,
		Time: b.c.cfg.Now(), Data: data,
	}.Msg()
	if err == nil && b.bulk {
		m.Header.Set(schemas.HeaderLane, schemas.LaneBulk)
	}
	if err == nil {
		err = b.c.fits(m)
	}
	if err != nil {
		// One row that can never be an event (a key too long for a
		// subject, a 2 MB note) must not hold its entity at its
		// checkpoint: it is recorded with its reason and passed over.
		return b.c.unpublishable(ctx, r, b.epoch, err)
	}
	b.msgs = append(b.msgs, m)
	if len(b.msgs) >= b.size {
		return b.send(ctx)
	}
	return nil
}

// send waits for the batch in flight, then starts publishing the one
// collected.
func (b *batch) send(ctx context.Context) error {
	if err := b.wait(); err != nil {
		return err
	}
	if len(b.msgs) == 0 {
		return nil
	}
	b.inFlight, b.sent = b.c.pub.Go(ctx, b.msgs), len(b.msgs)
	b.msgs = make([]*nats.Msg, 0, b.size)
	return nil
}

// wait returns once the batch in flight, if any, is acknowledged.
func (b *batch) wait() error {
	if b.inFlight == nil {
		return nil
	}
	res, err := b.inFlight.Wait()
	n := b.sent
	b.inFlight, b.sent = nil, 0
	b.c.mu.Lock()
	b.c.stats.Published[b.entity] += int64(res.Stored)
	b.c.stats.Duplicates += int64(res.Duplicates)
	b.c.mu.Unlock()
	b.c.cfg.Metrics.published(b.entity, res.Stored, res.Duplicates)
	if err != nil {
		return fmt.Errorf("publish %d events: %w", n, err)
	}
	return nil
}

// drain waits for the batch in flight after a failure, so that no publish of
// a failed cycle overlaps the next cycle's. Its error is the failure's echo.
func (b *batch) drain() { _ = b.wait() }

// flush publishes everything collected and returns once the stream has
// acknowledged all of it: only then may the checkpoint move.
func (b *batch) flush(ctx context.Context) error {
	if err := b.send(ctx); err != nil {
		return err
	}
	return b.wait()
}

// headerRoom is what fits reserves of the max payload for an event's
// headers (the CloudEvents ones, Nats-Msg-Id and the atomic batch's),
// which count towards it with the body.
const headerRoom = 4 << 10

// fitsIn reports whether event m, with room for its headers, is no larger
// than maxPayload.
func fitsIn(m *nats.Msg, maxPayload int64) bool {
	return int64(len(m.Data))+headerRoom <= maxPayload
}

// fits refuses an event larger than the NATS server takes.
func (c *Capture) fits(m *nats.Msg) error {
	if limit := streams.MaxPayload(c.js); !fitsIn(m, limit) {
		return fmt.Errorf("%w: the event is %d bytes and the NATS server takes at most %d (max_payload, %d of it kept for headers)",
			ErrUnpublishable, len(m.Data), limit, headerRoom)
	}
	return nil
}

// ErrUnpublishable is why an aggregate was dead-lettered by capture
// instead of published: no retry can make it an event.
var ErrUnpublishable = errors.New("cannot be published")

// unpublishable records, on dlq.capture.<entity>, an aggregate that can
// never be an event, with the reason, and counts it. The record holds the
// key, the version and the reason, not the aggregate (it may be what is
// too large); the row is fixed in Edge, and its next change is captured
// as usual. A failure to record it fails the cycle, which is retried.
func (c *Capture) unpublishable(ctx context.Context, r Row, epoch int64, reason error) error {
	key := r.Key
	if len(key) > schemas.MaxTokenLen {
		key = key[:schemas.MaxTokenLen] + "..."
	}
	body, _ := json.Marshal(map[string]any{"site": c.cfg.Site, "entity": r.Entity, "key": key, "version": r.Version, "epoch": epoch, "reason": reason.Error()})
	m := nats.NewMsg("dlq.capture." + string(r.Entity))
	m.Data = body
	m.Header.Set(streams.HeaderDLQConsumer, streams.CaptureDLQConsumer)
	m.Header.Set(streams.HeaderDLQReason, fmt.Sprintf("%s %s version %d: %v; fix the row in Edge, and its next change is captured as usual", r.Entity, key, r.Version, reason))
	sum := sha256.Sum256([]byte(r.Key))
	m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("capture:%s:%s:%x:%d@%d", c.cfg.Site, r.Entity, sum[:12], r.Version, epoch))
	if _, err := streams.PublishMsg(ctx, c.js, m); err != nil {
		return fmt.Errorf("dead-letter %s %s: %w", r.Entity, key, err)
	}
	c.mu.Lock()
	c.stats.Unpublished++
	c.mu.Unlock()
	c.cfg.Metrics.unpublished(r.Entity)
	c.log.Error("an Edge aggregate cannot be published; dead-lettered with the reason, the rest goes on (see `edgesync dlq list`)",
		"entity", r.Entity, "key", key, "version", r.Version, "err", reason)
	return nil
}
