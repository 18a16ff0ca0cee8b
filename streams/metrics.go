package streams

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConsumerMetrics count what durable consumers did with their messages; one
// set serves every consumer, labelled by its name.
type ConsumerMetrics struct {
	messages *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	latency  *prometheus.HistogramVec
	backlog  *prometheus.GaugeVec
}

// NewConsumerMetrics registers the consumer metrics with reg.
func NewConsumerMetrics(reg prometheus.Registerer) *ConsumerMetrics {
	m := &ConsumerMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgesync_consumer_messages_total",
			Help: "Messages handled by a durable consumer, by outcome: done, retry (redelivered later), waiting (for an earlier event), dead_lettered.",
		}, []string{"consumer", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgesync_consumer_handle_seconds", Help: "Time to handle one message, partner calls included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"consumer"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "edgesync_consumer_latency_seconds",
			Help:    "From a message's storing in its stream to its handling done: for a connector, an Edge change captured to the partner's answer.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14), // 50 ms to 7 min
		}, []string{"consumer"}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgesync_consumer_backlog", Help: "Messages a durable consumer has yet to finish: not delivered, and delivered but not acknowledged.",
		}, []string{"consumer"}),
	}
	reg.MustRegister(m.messages, m.seconds, m.latency, m.backlog)
	return m
}

func (m *ConsumerMetrics) done(consumer string, stored time.Time) {
	if m == nil || stored.IsZero() {
		return
	}
	m.latency.WithLabelValues(consumer).Observe(time.Since(stored).Seconds())
}

func (m *ConsumerMetrics) setBacklog(consumer string, n uint64) {
	if m == nil {
		return
	}
	m.backlog.WithLabelValues(consumer).Set(float64(n))
}

func (m *ConsumerMetrics) observe(consumer, outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(consumer, outcome).Inc()
	m.seconds.WithLabelValues(consumer).Observe(seconds)
}
