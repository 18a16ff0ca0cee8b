// Package scale measures the initial upload with every role its own
// process (test/fleet): time from the first role's start until both
// partners hold the whole chain, and each process's peak memory, at a few
// sizes so the growth shows. The emulators' limits are lifted.
package scale

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/fleet"
)

// ceiling is how many 1 KiB POSTs a second senders concurrent senders get
// answered by a handler that reads the body and answers 200, over
// loopback: the most a connector making that many calls at once could
// make, whatever it does.
func ceiling(b *testing.B, d time.Duration, senders int) float64 {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer hs.Close()
	body := bytes.Repeat([]byte("x"), 1024)
	var n atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for time.Since(start) < d {
				resp, err := http.Post(hs.URL, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// fsyncLatency is the median time to append 1 KiB to a file in dir and
// fsync it, what nats-server does before it acknowledges each write with
// sync_interval always.
func fsyncLatency(b *testing.B, dir string) time.Duration {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	require.NoError(b, err)
	defer f.Close()
	buf := bytes.Repeat([]byte("x"), 1024)
	took := make([]time.Duration, 500)
	for i := range took {
		start := time.Now()
		_, err := f.Write(buf)
		require.NoError(b, err)
		require.NoError(b, f.Sync())
		took[i] = time.Since(start)
	}
	slices.Sort(took)
	return took[len(took)/2]
}

// streamWrites is how many messages each stream and bucket stored since
// the fleet started (KV removals count: each is a stored marker).
func streamWrites(ctx context.Context, b *testing.B, f *fleet.Fleet) map[string]uint64 {
	out := map[string]uint64{}
	names := f.JetStream().StreamNames(ctx)
	for name := range names.Name() {
		s, err := f.JetStream().Stream(ctx, name)
		require.NoError(b, err)
		out[name] = s.CachedInfo().State.LastSeq
	}
	require.NoError(b, names.Err())
	return out
}

// timeline samples the pipeline every second until ctx ends and returns
// when each stage last had work: capture the last time the EDGE stream
// grew, each consumer the last time it had a backlog. The stage that ends
// last is the one to make faster.
func timeline(ctx context.Context, f *fleet.Fleet, from time.Time) (stop func() []string) {
	last := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var edge uint64
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if s, err := f.JetStream().Stream(ctx, streams.StreamEdge); err == nil && s.CachedInfo().State.LastSeq > edge {
				edge = s.CachedInfo().State.LastSeq
				last["capture"] = time.Now()
			}
			for _, c := range f.Status(ctx).Consumers {
				if c.Backlog > 0 {
					last[c.Name] = time.Now()
				}
			}
		}
	}()
	return func() []string {
		<-done
		var out []string
		for _, name := range slices.Sorted(maps.Keys(last)) {
			out = append(out, fmt.Sprintf("%s %s", name, last[name].Sub(from).Round(time.Second)))
		}
		return out
	}
}

// BenchmarkInitialUpload: EDGESYNC_SCALE_CUSTOMERS lists the sizes
// (customers in a two-store chain; 10000,100000 by default). Per size it
// prints the chain, the time to caught up, every process's peak RSS and
// CPU time (the test bed's own processes compete for the same cores), and
// the writes each stream stored beside this disk's fsync latency, measured
// in the same run: with sync_interval always, a stream's writes times that
// latency is time its one write loop cannot go below.
// EDGESYNC_SCALE_PROFILE=<dir> also takes a CPU profile of every process
// there, 30 s from the 20th second (go tool pprof <dir>/customers=N/<process>.pprof).
// EDGESYNC_SCALE_SYNC=2m runs nats-server with that sync interval instead
// of always, to measure what the shipped durability costs.
func BenchmarkInitialUpload(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if s := os.Getenv("EDGESYNC_SCALE_CUSTOMERS"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(b, err, "EDGESYNC_SCALE_CUSTOMERS")
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) {
			for range b.N {
				upload(b, n)
			}
		})
	}
}

func upload(b *testing.B, customers int) {
	// Five sale lines per customer in all (about 1.7 sales of 3 lines) and
	// items on hand besides the sold ones, as the chain asks.
	profiles := os.Getenv("EDGESYNC_SCALE_PROFILE")
	fsync := fsyncLatency(b, b.TempDir())
	f := fleet.Start(b, fleet.Options{CustomersPerStore: customers / 2, SalesPerCustomer: 1.7, ItemsPerStore: customers / 10, Poll: 250 * time.Millisecond,
		NoPersist: true, Pprof: profiles != "", SyncInterval: os.Getenv("EDGESYNC_SCALE_SYNC")})
	ctx := context.Background()
	profiled := make(chan struct{})
	go func() {
		defer close(profiled)
		if profiles == "" {
			return
		}
		// Past the snapshot's first seconds, while every role is busy.
		time.Sleep(20 * time.Second)
		files, err := f.CPUProfiles(ctx, filepath.Join(profiles, fmt.Sprintf("customers=%d", customers)), 30*time.Second)
		b.Logf("CPU profiles of 30 s from the 20th second: %s (err: %v)", strings.Join(files, " "), err)
	}()
	tctx, stopTimeline := context.WithCancel(ctx)
	stages := timeline(tctx, f, f.RolesStarted)
	chk, _ := f.WaitCaughtUp(ctx, 60*time.Minute)
	took := time.Since(f.RolesStarted)
	stopTimeline()
	b.Logf("last busy, after the first role started: %s", strings.Join(stages(), ", "))
	<-profiled
	var counts []string
	for _, e := range []string{"customer", "sale", "item"} {
		n, err := f.Edge.Count(ctx, schemas.Entity(e))
		require.NoError(b, err)
		counts = append(counts, fmt.Sprintf("%d %ss", n, e))
	}
	// Every role and simulator by name, then the NATS servers; the peak is the roles'.
	procs := slices.SortedFunc(maps.Values(f.Procs()), func(a, b *fleet.Proc) int { return strings.Compare(a.Name, b.Name) })
	var mem []string
	var peak int64
	for _, p := range append(procs, f.NATS...) {
		rss, err := p.PeakRSS()
		require.NoError(b, err)
		cpu, err := p.CPUTime()
		require.NoError(b, err)
		mem = append(mem, fmt.Sprintf("%s %d MiB %s", p.Name, rss>>20, cpu.Round(time.Second)))
		if slices.Contains(fleet.Roles, p.Name) {
			peak = max(peak, rss)
		}
	}
	b.Logf("%s: caught up %s after the first role started (%s); peak RSS and CPU time used: %s", strings.Join(counts, ", "), took.Round(100*time.Millisecond), chk, strings.Join(mem, ", "))
	writes := streamWrites(ctx, b, f)
	var line []string
	for _, name := range slices.Sorted(maps.Keys(writes)) {
		n := writes[name]
		line = append(line, fmt.Sprintf("%s %d (%.1f a customer, %s of fsyncs)", name, n, float64(n)/float64(customers),
			(time.Duration(n)*fsync).Round(time.Second)))
	}
	// Capture's EDGE writes are atomic batches, an fsync per batch, so their
	// line overstates its fsync time; every other write is stored alone.
	// API requests are the reads from a stream's leader, the consumers'
	// pulls and the like: work for the server besides the writes.
	acct, err := f.JetStream().AccountInfo(ctx)
	require.NoError(b, err)
	b.Logf("sync_interval %s; fsync of 1 KiB on this disk, same run: %s (median of 500); writes stored: %s; JetStream API requests: %d (%.1f a customer)",
		cmp.Or(os.Getenv("EDGESYNC_SCALE_SYNC"), "always"), fsync.Round(time.Microsecond), strings.Join(line, ", "),
		acct.API.Total, float64(acct.API.Total)/float64(customers))
	for _, a := range []struct {
		name    string
		admin   emulator.Admin
		senders int // the calls the connector makes at once
	}{{"podium", f.Podium, 1}, {"clientbook", f.Clientbook, fleet.ClientbookWorkers}} {
		c, err := a.admin.Counters(ctx)
		require.NoError(b, err)
		rate := float64(c["requests"]) / took.Seconds()
		top := ceiling(b, 5*time.Second, a.senders)
		b.Logf("%s connector: %d calls, %.0f calls/s; the ceiling of %d sender(s) against a do-nothing handler, same run: %.0f calls/s (ratio %.2f)",
			a.name, c["requests"], rate, a.senders, top, rate/top)
	}
	b.ReportMetric(took.Seconds(), "s-to-caught-up")
	b.ReportMetric(float64(peak>>20), "MiB-peak-role")
}
