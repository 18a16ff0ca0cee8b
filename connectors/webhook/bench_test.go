package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/webhook"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// BenchmarkDeliver measures how fast the connector empties a backlog of
// customers into a local receiver that verifies every signature: the
// connector's own cost (JetStream, state, signing, HTTP), with no rate
// limit and no network in between. docs/benchmarks.md has the figures.
func BenchmarkDeliver(b *testing.B) {
	for _, bc := range []struct {
		name    string
		n       int
		latency time.Duration // how long the receiver takes to answer
	}{{"local receiver", 2000, 0}, {"receiver answering in 20ms", 400, 20 * time.Millisecond}} {
		for _, workers := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/workers=%d", bc.name, workers), func(b *testing.B) { deliver(b, bc.n, bc.latency, workers) })
		}
	}
}

func deliver(b *testing.B, n int, latency time.Duration, workers int) {
	const secret = "benchmark-secret-16"
	for range b.N {
		b.StopTimer()
		ctx, cancel := context.WithCancel(context.Background())
		srv := natstest.Start(b)
		var got atomic.Int64
		hs := httptest.NewServer(webhook.Receiver{Secrets: []string{secret}, Take: func(*http.Request, webhook.Event) error {
			time.Sleep(latency)
			got.Add(1)
			return nil
		}})
		for i := range n {
			k := fmt.Sprintf("001-%06d", i+1)
			m, err := schemas.EdgeEvent{Source: "edgesync/capture/bench", Entity: schemas.EntityCustomer, Key: k, Version: 1, Time: time.Now(),
				Data: &schemas.Customer{Key: k, Store: "001", FirstName: "Bench", SyncEnabled: true}}.Msg()
			require.NoError(b, err)
			_, err = streams.PublishMsg(ctx, srv.JS, m)
			require.NoError(b, err)
		}
		c, err := webhook.New(ctx, srv.JS, webhook.Config{URL: hs.URL, Secret: secret, PerMinute: -1, Workers: workers}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.NoError(b, err)
		b.StartTimer()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		for got.Load() < int64(n) {
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		hs.Close()
		b.ReportMetric(float64(n)/took.Seconds(), "events/s")
		b.StartTimer()
	}
}
