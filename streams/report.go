package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Every role that can know something the streams cannot (a connector's
// partner calls, capture's distance from Edge, a gateway's deliveries) puts
// a report in the status bucket every few seconds. A report that stops
// coming is itself the news: the role is down or cut off.

// Reported is what every report carries: when it was made and how often
// one comes, so a reader can tell a late report from a missing role.
type Reported struct {
	At    time.Time     `json:"at"`
	Every time.Duration `json:"every"` // nanoseconds, as time.Duration
}

// Stale reports whether the next reports are overdue at now: three missed
// in a row, and a few seconds for a busy server.
func (r Reported) Stale(now time.Time) bool {
	every := r.Every
	if every <= 0 {
		every = reportEvery
	}
	return now.Sub(r.At) > 3*every+2*time.Second
}

// ConnectorReport is what a connector tells the status page: what it can
// know and the streams cannot.
type ConnectorReport struct {
	Reported
	Connector       string    `json:"connector"` // its durable consumer on EDGE
	Partner         string    `json:"partner"`
	CallsLastMinute int       `json:"callsLastMinute"`
	LimitPerMinute  int       `json:"limitPerMinute"` // negative: no limit
	LastCallOK      time.Time `json:"lastCallOk,omitzero"`
	LastFailure     time.Time `json:"lastFailure,omitzero"`
	Failure         string    `json:"failure,omitempty"`
	// FailingSince is the first failed call of the streak the last call
	// belongs to; zero when the last call succeeded.
	FailingSince time.Time `json:"failingSince,omitzero"`
	Applied      int64     `json:"applied"`
	Skipped      int64     `json:"skipped"`
	// Settled counts the events this process finished (acknowledged or
	// dead-lettered): the status page's rate and ETA come from it.
	Settled int64 `json:"settled"`
	// Parked counts the events whose handling keeps failing, set aside
	// while the others go on; ParkedSample is the longest parked of them.
	Parked       int         `json:"parked,omitempty"`
	ParkedSample []ParkedMsg `json:"parkedSample,omitempty"`
	// Webhooks is what the connector's watch over its partner's webhooks
	// did, when it has one.
	Webhooks *WebhookReport `json:"webhooks,omitempty"`
}

// WebhookReport is a connector's watch over its partner's webhooks: how
// often it found one stopped and repaired it, and its last catch-up of
// what the webhooks missed.
type WebhookReport struct {
	Repairs     int       `json:"repairs,omitempty"`
	LastRepair  string    `json:"lastRepair,omitempty"` // what was wrong
	RepairedAt  time.Time `json:"repairedAt,omitzero"`
	LastCatchUp time.Time `json:"lastCatchUp,omitzero"`
	CaughtUp    int       `json:"caughtUp,omitempty"` // changes its last catch-up published
}

// The status bucket's key prefixes, one per kind of role.
const (
	ReportConnector = "connector."
	ReportCapture   = "capture."
	ReportGateway   = "gateway."
)

// ReportKey is the status bucket's key of a connector's report.
func ReportKey(connector string) string { return ReportConnector + connector }

// reportEvery is how often a role reports (a variable for tests).
var reportEvery = 5 * time.Second

// ReportEvery is how often roles report unless told otherwise.
func ReportEvery() time.Duration { return reportEvery }

// RunReports puts report() under key in the status bucket now and every
// every (ReportEvery when zero) until ctx ends; report is given the
// Reported to embed. A report that cannot be stored is logged once: the
// status page then shows the role's report as old, nothing else fails.
func RunReports[T any](ctx context.Context, js jetstream.JetStream, key string, every time.Duration, report func(Reported) T, log *slog.Logger) {
	if every <= 0 {
		every = reportEvery
	}
	var kv jetstream.KeyValue
	warned := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var err error
		if kv == nil {
			// Opened here, not once before the loop: a role that starts
			// before NATS (a gateway with a spool) reports once it can.
			kv, err = js.KeyValue(ctx, BucketStatus)
		}
		if err == nil {
			var body []byte
			if body, err = json.Marshal(report(Reported{At: time.Now().UTC(), Every: every})); err == nil {
				_, err = kv.Put(ctx, key, body)
			}
		}
		if err != nil && ctx.Err() == nil && !warned {
			log.Warn("status report not stored; will keep trying (is the status bucket there? `edgesync streams init` makes it)", "report", key, "err", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReadReports reads every report whose key starts with prefix, by key.
func ReadReports[T any](ctx context.Context, js jetstream.JetStream, prefix string) (map[string]T, error) {
	kv, err := js.KeyValue(ctx, BucketStatus)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", BucketStatus, err)
	}
	keys, err := kv.ListKeysFiltered(ctx, prefix+">")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return map[string]T{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", BucketStatus, err)
	}
	out := map[string]T{}
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		var r T
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, fmt.Errorf("decode %s: %w", key, err)
		}
		out[strings.TrimPrefix(key, prefix)] = r
	}
	return out, nil
}

// Reports reads every connector's latest report, by connector.
func Reports(ctx context.Context, js jetstream.JetStream) (map[string]ConnectorReport, error) {
	return ReadReports[ConnectorReport](ctx, js, ReportConnector)
}
