package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ConnectorReport is what a connector tells the status page every few
// seconds: what it can know and the streams cannot.
type ConnectorReport struct {
	Connector       string    `json:"connector"` // its durable consumer on EDGE
	Partner         string    `json:"partner"`
	CallsLastMinute int       `json:"callsLastMinute"`
	LimitPerMinute  int       `json:"limitPerMinute"` // negative: no limit
	LastCallOK      time.Time `json:"lastCallOk,omitzero"`
	LastFailure     time.Time `json:"lastFailure,omitzero"`
	Failure         string    `json:"failure,omitempty"`
	Applied         int64     `json:"applied"`
	Skipped         int64     `json:"skipped"`
	At              time.Time `json:"at"`
	// Parked counts the events whose handling keeps failing, set aside
	// while the others go on; ParkedSample is the longest parked of them.
	Parked       int         `json:"parked,omitempty"`
	ParkedSample []ParkedMsg `json:"parkedSample,omitempty"`
}

// ReportKey is the status bucket's key of a connector's report.
func ReportKey(connector string) string { return "connector." + connector }

// reportEvery is how often a connector reports (a variable for tests).
var reportEvery = 5 * time.Second

// runReports puts the connector's report in the status bucket now and every
// few seconds until ctx ends (Consume runs it for ConsumerConfig.Report). A report that cannot be stored is logged once: the
// status page then shows the connector's report as old, nothing else fails.
func runReports(ctx context.Context, js jetstream.JetStream, report func() ConnectorReport, log *slog.Logger) {
	kv, err := js.KeyValue(ctx, BucketStatus)
	if err != nil {
		log.Warn("no status reports: the status bucket is missing (run `edgesync streams init`)", "bucket", BucketStatus, "err", err)
		return
	}
	warned := false
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	for {
		r := report()
		r.At = time.Now().UTC()
		body, _ := json.Marshal(r)
		if _, err := kv.Put(ctx, ReportKey(r.Connector), body); err != nil && ctx.Err() == nil && !warned {
			log.Warn("status report not stored; will keep trying", "connector", r.Connector, "err", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reports reads every connector's latest report.
func Reports(ctx context.Context, js jetstream.JetStream) (map[string]ConnectorReport, error) {
	kv, err := js.KeyValue(ctx, BucketStatus)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", BucketStatus, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", BucketStatus, err)
	}
	out := map[string]ConnectorReport{}
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		var r ConnectorReport
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, fmt.Errorf("decode %s: %w", key, err)
		}
		out[r.Connector] = r
	}
	return out, nil
}
