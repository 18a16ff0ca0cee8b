package streams

import "github.com/prometheus/client_golang/prometheus"

// ConsumerMetrics count what durable consumers did with their messages; one
// set serves every consumer, labelled by its name.
type ConsumerMetrics struct {
	messages *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// NewConsumerMetrics registers the consumer metrics with reg.
func NewConsumerMetrics(reg prometheus.Registerer) *ConsumerMetrics {
	m := &ConsumerMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgesync_consumer_messages_total",
			Help: "Messages handled by a durable consumer, by outcome: done, retry (redelivered later), dead_lettered.",
		}, []string{"consumer", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgesync_consumer_handle_seconds", Help: "Time to handle one message, partner calls included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"consumer"}),
	}
	reg.MustRegister(m.messages, m.seconds)
	return m
}

func (m *ConsumerMetrics) observe(consumer, outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(consumer, outcome).Inc()
	m.seconds.WithLabelValues(consumer).Observe(seconds)
}
