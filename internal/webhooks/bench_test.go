package webhooks_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/test/natstest"
)

// BenchmarkGateway sends signed Podium deliveries from 32 concurrent
// senders (Podium delivers per webhook in order; a chain has many) to the
// gateway, which verifies each and stores it in the PARTNER stream with
// fsync before answering. The baseline, in the same run, is the same
// deliveries to a handler that reads the body and answers 200: the HTTP
// ceiling of this machine. Figures: deliveries/s, p50/p99/max answer time,
// and the ratio to the baseline.
func BenchmarkGateway(b *testing.B) {
	const senders, perSender = 32, 250
	bodies := make([][]byte, senders*perSender)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"data":{"after":{"uid":"c-%d","name":"Ada %d","emails":["ada.%d@example.com"]},"errors":[]},"metadata":{"event_type":"contact.updated","event_uid":"evt-%d","version":"2021.04.01"}}`, i, i, i, i))
	}
	srv := natstest.Start(b)
	v := webhooks.PodiumVerifier(secret, 5*time.Minute)
	g, err := webhooks.New(srv.JS, webhooks.Config{Podium: &v, Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	nothing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})
	for i := 0; i < b.N; i++ {
		base := load(b, nothing, bodies, senders, fmt.Sprintf("-base-%d", i))
		raw := publishRaw(b, srv, bodies, senders, fmt.Sprintf("-raw-%d", i))
		gw := load(b, g.Handler(), bodies, senders, fmt.Sprintf("-%d", i))
		b.Logf("gateway: %.0f deliveries/s, answer p50 %s p99 %s max %s; do-nothing handler: %.0f/s, p99 %s (ratio %.2f); "+
			"raw JetStream publishes of the same bodies, same senders and fsync: %.0f/s (ratio %.2f)",
			gw.rate, gw.p50, gw.p99, gw.max, base.rate, base.p99, gw.rate/base.rate, raw, gw.rate/raw)
		b.ReportMetric(gw.rate/raw, "ratio-to-raw-publish")
		b.ReportMetric(gw.rate, "deliveries/s")
		b.ReportMetric(float64(gw.p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(gw.rate/base.rate, "ratio-to-baseline")
	}
}

// publishRaw publishes the bodies to the PARTNER stream with a Msg-Id
// each, senders at a time, with no HTTP and no verification: the storage
// ceiling the gateway sits on.
func publishRaw(b *testing.B, srv *natstest.Server, bodies [][]byte, senders int, suffix string) float64 {
	start := time.Now()
	fanOut(senders, len(bodies), func(i int) {
		m := nats.NewMsg(fmt.Sprintf("partner.podium.contact.c-%d", i))
		m.Data = bodies[i]
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("raw%s-%d", suffix, i))
		if _, err := srv.JS.PublishMsg(context.Background(), m); err != nil {
			b.Errorf("raw publish: %v", err)
		}
	})
	return float64(len(bodies)) / time.Since(start).Seconds()
}

// fanOut calls fn for 0..n-1 from senders goroutines, each taking every
// senders-th index in order, and returns when all are done.
func fanOut(senders, n int, fn func(i int)) {
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < n; i += senders {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

type loadResult struct {
	rate          float64
	p50, p99, max time.Duration
}

// load posts every body once, senders at a time, each body made unique by
// suffix (so a second round is not deduplicated away), and times answers.
func load(b *testing.B, h http.Handler, bodies [][]byte, senders int, suffix string) loadResult {
	hs := httptest.NewServer(h)
	defer hs.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	lat := make([]time.Duration, len(bodies))
	var failed sync.Once
	start := time.Now()
	fanOut(senders, len(bodies), func(i int) {
		body := bytes.Replace(bodies[i], []byte(`"event_uid":"evt-`), []byte(`"event_uid":"evt`+suffix+`-`), 1)
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/webhooks/podium", bytes.NewReader(body))
		for k, vs := range sign(body, now) {
			req.Header[k] = vs
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		lat[i] = time.Since(t0)
		if err != nil || resp.StatusCode != http.StatusOK {
			failed.Do(func() { b.Errorf("delivery %d: %v %v", i, err, resp) })
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return loadResult{rate: float64(len(bodies)) / elapsed.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], max: lat[len(lat)-1]}
}
