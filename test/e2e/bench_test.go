package e2e

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
)

func envInt(b *testing.B, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		return n
	}
	return def
}

// BenchmarkPodiumInitialUpload measures the first upload of
// EDGESYNC_BENCH_CUSTOMERS customers (10,000) with their sales history
// (1.5 a customer) from the Edge simulator to the Podium emulator: once with
// no rate limit (the pipeline's own ceiling), once at Podium's 300 requests a
// minute. The limited run compresses time by EDGESYNC_BENCH_TIME_FACTOR (10:
// 300 requests per 6 seconds) so it ends in minutes; 1 runs it at the real
// pace. It reports the time against the limit's lower bound, calls/limit.
func BenchmarkPodiumInitialUpload(b *testing.B) {
	customers := envInt(b, "EDGESYNC_BENCH_CUSTOMERS", 10_000)
	factor := envInt(b, "EDGESYNC_BENCH_TIME_FACTOR", 10)
	for _, limited := range []bool{false, true} {
		name := "unlimited"
		if limited {
			name = "300-per-minute"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				uploadOnce(b, customers, limited, factor)
			}
		})
	}
}

func uploadOnce(b *testing.B, customers int, limited bool, factor int) {
	window := time.Minute / time.Duration(factor)
	r := newPodiumRigB(b, func(s *rigSetup) {
		s.podium.Tier = projectors.TierClienteling
		if limited {
			s.emu.SetLimitWindow(300, window)
			s.client.RatePerMinute, s.client.RateWindow = 300, window
		}
	})
	spec := edgesim.Spec{Seed: 5, Stores: 1, CustomersPerStore: customers, SalesPerCustomer: 1.5}
	require.NoError(b, edgesim.Generate(r.db, spec))
	start := time.Now()
	r.settle()
	elapsed := time.Since(start)
	calls := r.emu.Counter("requests")
	contacts := r.emu.ContactCount()
	b.ReportMetric(float64(contacts)/elapsed.Seconds(), "contacts/s")
	what := fmt.Sprintf("initial upload of %d customers (%d contacts, %d purchases)", customers, contacts, len(r.emu.FeedEvents(projectors.FeedPurchase)))
	reportUpload(b, what, calls, customers, elapsed, limited, 300, window, factor)
	require.Zero(b, r.emu.Counter("rate_limited"), "the client never drew a 429")
}

// BenchmarkClientbookInitialUpload measures the first upload to Clientbook
// of EDGESYNC_BENCH_CUSTOMERS customers with their history (1.5 sales a
// customer, wishes, notes, service jobs, items): once with no rate limit,
// once at the documented 120 requests a minute compressed by
// EDGESYNC_BENCH_TIME_FACTOR, on EDGESYNC_BENCH_CB_LIMITED_CUSTOMERS
// customers (1,000) so it ends in minutes.
func BenchmarkClientbookInitialUpload(b *testing.B) {
	factor := envInt(b, "EDGESYNC_BENCH_TIME_FACTOR", 10)
	for _, limited := range []bool{false, true} {
		name, customers := "unlimited", envInt(b, "EDGESYNC_BENCH_CUSTOMERS", 10_000)
		if limited {
			name, customers = "120-per-minute", envInt(b, "EDGESYNC_BENCH_CB_LIMITED_CUSTOMERS", 1_000)
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				uploadClientbookOnce(b, customers, limited, factor)
			}
		})
	}
}

func uploadClientbookOnce(b *testing.B, customers int, limited bool, factor int) {
	window := time.Minute / time.Duration(factor)
	r := newClientbookRig(b, func(_ *projectors.ClientbookOptions, c *clientbook.ClientConfig, e *clientbookemu.Emulator) {
		if limited {
			e.SetLimitWindow(clientbookemu.RateLimit, window)
			c.RatePerMinute, c.RateWindow = clientbookemu.RateLimit, window
		}
	})
	r.wait = 2 * time.Hour
	spec := edgesim.Spec{Seed: 5, Stores: 1, CustomersPerStore: customers, SalesPerCustomer: 1.5, ItemsPerStore: customers / 10}
	require.NoError(b, edgesim.Generate(r.db, spec))
	start := time.Now()
	r.settle()
	elapsed := time.Since(start)
	calls := r.emu.Counter("requests") - 2 // the webhook subscription
	tot := r.emu.Totals()
	what := fmt.Sprintf("clientbook initial upload of %d customers (%d clients, %d purchases, %d products, %d activities)",
		customers, tot.Clients, tot.Purchases, tot.Products, tot.Activities)
	reportUpload(b, what, calls, customers, elapsed, limited, clientbookemu.RateLimit, window, factor)
	require.Equal(b, customers, tot.Clients)
	require.Zero(b, r.emu.Counter("rate_limited"), "the client never drew a 429")
}

// reportUpload prints and reports an upload's figures; a limited run also
// against the limit's lower bound, calls / (limit per window).
func reportUpload(b *testing.B, what string, calls, customers int, elapsed time.Duration, limited bool, limit int, window time.Duration, factor int) {
	b.ReportMetric(elapsed.Seconds(), "s-total")
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(calls)/float64(customers), "calls/customer")
	line := fmt.Sprintf("%s: %d calls in %s, %.0f calls/s", what, calls, elapsed.Round(time.Millisecond), float64(calls)/elapsed.Seconds())
	if limited {
		bound := time.Duration(float64(calls) / float64(limit) * float64(window))
		b.ReportMetric(bound.Seconds()/elapsed.Seconds(), "of-lower-bound")
		line += fmt.Sprintf("; at %d per %s the lower bound is %s: %.0f%% of it; at the real pace that is %s",
			limit, window, bound.Round(time.Millisecond), 100*bound.Seconds()/elapsed.Seconds(), (elapsed * time.Duration(factor)).Round(time.Second))
	}
	fmt.Fprintln(os.Stderr, line)
}
