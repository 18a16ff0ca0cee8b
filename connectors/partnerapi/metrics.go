package partnerapi

import "github.com/prometheus/client_golang/prometheus"

// CallMetrics counts partner calls by answer, for the graphs an operator
// keeps: how many succeed, how many the rate limit turns away, how many
// the partner fails or refuses. One set serves every client of a process.
type CallMetrics struct {
	calls *prometheus.CounterVec
}

// NewCallMetrics returns edgesync_partner_calls_total; register it (it is a
// prometheus.Collector) where the process serves its metrics.
func NewCallMetrics() *CallMetrics {
	return &CallMetrics{calls: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgesync_partner_calls_total",
		Help: "Partner API calls by partner and answer: 2xx, 429 (rate limited), 5xx, refused (another 4xx), redirect, no_answer.",
	}, []string{"partner", "outcome"})}
}

// Describe is prometheus.Collector's.
func (m *CallMetrics) Describe(ch chan<- *prometheus.Desc) { m.calls.Describe(ch) }

// Collect is prometheus.Collector's.
func (m *CallMetrics) Collect(ch chan<- prometheus.Metric) { m.calls.Collect(ch) }

func (m *CallMetrics) observe(partner string, status int) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(partner, outcome(status)).Inc()
}

// outcome is a call's answer class: few values, so the series stay few.
func outcome(status int) string {
	switch {
	case status == 0:
		return "no_answer"
	case status < 300:
		return "2xx"
	case status < 400:
		return "redirect"
	case status == 429:
		return "429"
	case status >= 500:
		return "5xx"
	default:
		return "refused"
	}
}
