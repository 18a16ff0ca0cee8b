package capture

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgesync/edgesync/schemas"
)

// Metrics are capture's Prometheus metrics.
type Metrics struct {
	events      *prometheus.CounterVec
	duplicates  prometheus.Counter
	snapshots   *prometheus.CounterVec
	checkpoint  *prometheus.GaugeVec
	cycleErrors prometheus.Counter
	cycle       prometheus.Histogram
	unpubs      *prometheus.CounterVec
}

// NewMetrics registers capture's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgesync_capture_events_total", Help: "Edge events stored in the EDGE stream.",
		}, []string{"entity"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgesync_capture_duplicates_total", Help: "Events the stream already held (republished after a restart).",
		}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgesync_capture_snapshots_total",
			Help: "Snapshots taken, by reason: initial, expired (checkpoint older than the change retention), behind (database restored behind the checkpoint).",
		}, []string{"entity", "reason"}),
		checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgesync_capture_checkpoint_version", Help: "Change version up to which every change is in the EDGE stream.",
		}, []string{"entity"}),
		cycleErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgesync_capture_cycle_errors_total", Help: "Capture cycles that failed and were retried at the next poll.",
		}),
		cycle: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "edgesync_capture_cycle_seconds", Help: "Duration of capture cycles.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 8),
		}),
		unpubs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgesync_capture_unpublishable_total", Help: "Edge aggregates dead-lettered because they can never be an event (too large, a key too long for a subject).",
		}, []string{"entity"}),
	}
	reg.MustRegister(m.events, m.duplicates, m.snapshots, m.checkpoint, m.cycleErrors, m.cycle, m.unpubs)
	return m
}

// Snapshot reasons.
const (
	reasonInitial = "initial"
	reasonExpired = "expired"
	reasonBehind  = "behind"
	// reasonStreamLost: the checkpoint survived the events it stands for.
	reasonStreamLost = "stream_lost"
)

// The methods accept a nil receiver so capture runs without metrics.

func (m *Metrics) published(e schemas.Entity, stored, dups int) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(string(e)).Add(float64(stored))
	m.duplicates.Add(float64(dups))
}

// start shows every captured entity's counters from the start, at zero:
// a dashboard sees an entity with no event yet as 0, not as missing.
func (m *Metrics) start(entities []schemas.Entity) {
	if m == nil {
		return
	}
	for _, e := range entities {
		m.events.WithLabelValues(string(e))
		m.unpubs.WithLabelValues(string(e))
	}
}

func (m *Metrics) unpublished(e schemas.Entity) {
	if m != nil {
		m.unpubs.WithLabelValues(string(e)).Inc()
	}
}

func (m *Metrics) snapshot(e schemas.Entity, reason string) {
	if m != nil {
		m.snapshots.WithLabelValues(string(e), reason).Inc()
	}
}

func (m *Metrics) checkpointed(e schemas.Entity, v int64) {
	if m != nil {
		m.checkpoint.WithLabelValues(string(e)).Set(float64(v))
	}
}

func (m *Metrics) cycled(seconds float64, err error) {
	if m == nil {
		return
	}
	m.cycle.Observe(seconds)
	if err != nil {
		m.cycleErrors.Inc()
	}
}
