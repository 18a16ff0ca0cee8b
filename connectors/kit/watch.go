package kit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Partner changes reach Edge through webhooks, and a webhook can stop: a
// partner disables it after hours of failed deliveries (a gateway down
// over a weekend, a rotated secret answered 401), someone deletes it, a
// DNS mistake points it elsewhere. A Watch checks a partner's webhooks
// every few minutes and repairs them, and lists what the partner changed
// since its last listing to publish it into PARTNER as the gateway would:
// the writer's merge rules apply to it like to a delivery, and a change
// the writer already has writes nothing.

// Webhooks is what a partner's client gives a Watch: its records (the
// catch-up lists those changed since the last listing) and its webhooks.
type Webhooks interface {
	Records
	// Inspect compares the partner's webhooks with those edgesync needs.
	Inspect(ctx context.Context) ([]Problem, error)
}

// Problem is one webhook that is not as edgesync needs it.
type Problem struct {
	Webhook string // which (its URL and location)
	What    string // missing, disabled, ...
	Repair  func(ctx context.Context) error
}

// WatchConfig configures a Watch.
type WatchConfig struct {
	Partner string
	// CheckEvery is how often the webhooks are inspected (5 min when
	// zero); CatchUpEvery how often changes are listed even when every
	// webhook looks right (1 h when zero): the safety net.
	CheckEvery, CatchUpEvery time.Duration
	// Namespace keys the catch-up's watermark in the projection bucket
	// (the connector's name).
	Namespace string
	// Metrics, when set, count the repairs and the records caught up.
	Metrics *WatchMetrics
}

// WatchMetrics are edgesync_webhook_repairs_total and
// edgesync_caught_up_total, by partner; register them (a
// prometheus.Collector) where the process serves its metrics.
type WatchMetrics struct {
	repairs, caughtUp *prometheus.CounterVec
}

// NewWatchMetrics returns the watch's metrics.
func NewWatchMetrics() *WatchMetrics {
	return &WatchMetrics{
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgesync_webhook_repairs_total",
			Help: "Partner webhooks found missing, disabled or wrong and repaired."}, []string{"partner"}),
		caughtUp: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgesync_caught_up_total",
			Help: "Partner records a catch-up listed and published into PARTNER."}, []string{"partner"}),
	}
}

// Describe is prometheus.Collector's.
func (m *WatchMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.repairs.Describe(ch)
	m.caughtUp.Describe(ch)
}

// Collect is prometheus.Collector's.
func (m *WatchMetrics) Collect(ch chan<- prometheus.Metric) {
	m.repairs.Collect(ch)
	m.caughtUp.Collect(ch)
}

// Repairs is the repairs counter of partner, for tests.
func (m *WatchMetrics) Repairs(partner string) prometheus.Counter {
	return m.repairs.WithLabelValues(partner)
}

func (m *WatchMetrics) repaired(partner string) {
	if m != nil {
		m.repairs.WithLabelValues(partner).Inc()
	}
}

func (m *WatchMetrics) caught(partner string, n int) {
	if m != nil {
		m.caughtUp.WithLabelValues(partner).Add(float64(n))
	}
}

// overlap is how far before the last listing the next one starts: a
// change made while a listing ran, or stamped by a clock a little behind.
const overlap = 2 * time.Minute

// Watch keeps a partner's webhooks and catches up what they missed.
type Watch struct {
	hooks Webhooks
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	cfg   WatchConfig
	log   *slog.Logger

	mu      sync.Mutex
	report  streams.WebhookReport
	trigger chan struct{}
}

// NewWatch returns a Watch; the streams and buckets must exist.
func NewWatch(ctx context.Context, hooks Webhooks, js jetstream.JetStream, cfg WatchConfig, log *slog.Logger) (*Watch, error) {
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 5 * time.Minute
	}
	if cfg.CatchUpEvery <= 0 {
		cfg.CatchUpEvery = time.Hour
	}
	if cfg.Namespace == "" {
		cfg.Namespace = cfg.Partner
	}
	kv, err := js.KeyValue(ctx, streams.BucketProjection)
	if err != nil {
		return nil, fmt.Errorf("%s watch: open bucket %s: %w", cfg.Partner, streams.BucketProjection, err)
	}
	return &Watch{hooks: hooks, js: js, kv: kv, cfg: cfg, log: log, trigger: make(chan struct{}, 1)}, nil
}

// Report reads what the Watch did, for the status page.
func (w *Watch) Report() streams.WebhookReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.report
}

// CatchUpNow asks for a catch-up at once (a gap seen elsewhere).
func (w *Watch) CatchUpNow() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Run checks and catches up until ctx ends. A failed check or catch-up is
// logged and tried again at the next tick: the watermark only moves once a
// listing was published whole.
func (w *Watch) Run(ctx context.Context) {
	if _, err := w.watermark(ctx); err != nil {
		w.log.Warn("no catch-up watermark yet", "partner", w.cfg.Partner, "err", err)
	}
	check := time.NewTicker(w.cfg.CheckEvery)
	defer check.Stop()
	catchUp := time.NewTicker(w.cfg.CatchUpEvery)
	defer catchUp.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			repaired, err := w.Check(ctx)
			if err != nil {
				w.log.Warn("webhooks could not be checked; trying again", "partner", w.cfg.Partner, "err", err, "retry_in", w.cfg.CheckEvery)
				continue
			}
			if !repaired {
				continue
			}
		case <-catchUp.C:
		case <-w.trigger:
		}
		if err := w.CatchUp(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("catch-up failed; trying again at the next check", "partner", w.cfg.Partner, "err", err)
		}
	}
}

// Check inspects the webhooks and repairs what is wrong. It reports
// whether it repaired anything: deliveries may have been lost meanwhile.
func (w *Watch) Check(ctx context.Context) (bool, error) {
	problems, err := w.hooks.Inspect(ctx)
	if err != nil {
		return false, fmt.Errorf("inspect %s's webhooks: %w", w.cfg.Partner, err)
	}
	repaired := false
	for _, p := range problems {
		if err := p.Repair(ctx); err != nil {
			return repaired, fmt.Errorf("repair %s's webhook %s: %w", w.cfg.Partner, p.Webhook, err)
		}
		repaired = true
		w.log.Warn("webhook repaired: the changes made meanwhile are caught up now", "partner", w.cfg.Partner, "webhook", p.Webhook, "was", p.What)
		w.cfg.Metrics.repaired(w.cfg.Partner)
		w.mu.Lock()
		w.report.Repairs++
		w.report.LastRepair, w.report.RepairedAt = p.What, time.Now().UTC()
		w.mu.Unlock()
	}
	return repaired, nil
}

func (w *Watch) watermarkKey() string { return w.cfg.Namespace + ".catchup" }

// watermark is when the last whole listing started; on the first run it
// is now: a catch-up fetches what webhooks missed, not the partner's
// history (the writer downloads that as records change).
func (w *Watch) watermark(ctx context.Context) (time.Time, error) {
	t, ok, err := streams.GetJSON[time.Time](ctx, w.kv, w.watermarkKey())
	if err != nil || ok {
		return t, err
	}
	now := time.Now().UTC()
	return now, streams.PutJSON(ctx, w.kv, w.watermarkKey(), now)
}

// CatchUp lists what the partner changed since the watermark (less an
// overlap) and publishes each change into PARTNER with an event id of the
// record and its change time: a listing repeated within the dedupe window
// stores nothing twice, and the writer's ledger applies each change once.
func (w *Watch) CatchUp(ctx context.Context) error {
	since, err := w.watermark(ctx)
	if err != nil {
		return err
	}
	started := time.Now().UTC()
	n := 0
	err = w.hooks.List(ctx, since.Add(-overlap), func(r Record) error {
		pe := r.Event
		m, err := pe.Msg()
		if err != nil {
			// A record that cannot be an event never holds the others.
			w.log.Warn("catch-up: a changed record cannot be an event; skipped", "partner", w.cfg.Partner, "id", pe.PartnerID, "err", err)
			return nil
		}
		if _, err := streams.PublishMsg(ctx, w.js, m); err != nil {
			return fmt.Errorf("publish caught-up %s %s: %w", pe.Entity, pe.PartnerID, err)
		}
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s's changes since %s: %w", w.cfg.Partner, since.Format(time.RFC3339), err)
	}
	if err := streams.PutJSON(ctx, w.kv, w.watermarkKey(), started); err != nil {
		return err
	}
	w.cfg.Metrics.caught(w.cfg.Partner, n)
	w.mu.Lock()
	w.report.LastCatchUp, w.report.CaughtUp = started, n
	w.mu.Unlock()
	if n > 0 {
		w.log.Info("partner changes caught up", "partner", w.cfg.Partner, "records", n, "since", since.Add(-overlap).Format(time.RFC3339))
	}
	return nil
}

// AddTo puts what w did in a connector's status report; a nil w adds
// nothing.
func (w *Watch) AddTo(r *streams.ConnectorReport) {
	if w == nil {
		return
	}
	wr := w.Report()
	r.Webhooks = &wr
}

// CaughtUp is the partner event a catch-up publishes for one record the
// partner changed: typ as its webhook names a change, an event id of the
// record and its change time (a listing repeated within the dedupe window
// stores nothing twice), data as the gateway would have stored it.
func CaughtUp(partner, entity, typ, id string, changed time.Time, data []byte) schemas.PartnerEnvelope {
	return schemas.PartnerEnvelope{
		ID:   partner + ":catchup:" + id + ":" + changed.UTC().Format(time.RFC3339Nano),
		Type: typ, Source: "edgesync/catchup/" + partner, Time: time.Now().UTC(),
		Partner: partner, Entity: entity, PartnerID: id, Data: data,
	}
}

// Start runs w until the returned stop is called (which waits for it).
func (w *Watch) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}
