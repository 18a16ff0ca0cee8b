package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
)

// BenchmarkLiveDuringUpload measures what a store sees while its initial
// upload of EDGESYNC_BENCH_CUSTOMERS customers (10,000) runs at the
// partner's rate limit: live changes made at a store's pace from the start
// (every EDGESYNC_BENCH_LIVE_EVERY_MS, 3,000: one new customer, one edited
// email, one sale of a customer the upload may not have reached), from the
// Edge commit to the partner's receipt, and the upload's time against the
// limit's lower bound. The limit is compressed, EDGESYNC_BENCH_TIME_FACTOR
// times for Podium (10) and EDGESYNC_BENCH_CB_TIME_FACTOR for Clientbook
// (100, so 56,000 calls end in minutes); the live changes' latencies are in
// real seconds, capture polling at its default 250 ms.
func BenchmarkLiveDuringUpload(b *testing.B) {
	customers := envInt(b, "EDGESYNC_BENCH_CUSTOMERS", 10_000)
	every := time.Duration(envInt(b, "EDGESYNC_BENCH_LIVE_EVERY_MS", 3000)) * time.Millisecond
	b.Run("podium-300-per-minute", func(b *testing.B) {
		factor := envInt(b, "EDGESYNC_BENCH_TIME_FACTOR", 10)
		for range b.N {
			liveDuringPodiumUpload(b, customers, factor, every)
		}
	})
	b.Run("clientbook-120-per-minute", func(b *testing.B) {
		factor := envInt(b, "EDGESYNC_BENCH_CB_TIME_FACTOR", 100)
		for range b.N {
			liveDuringClientbookUpload(b, customers, factor, every)
		}
	})
}

const capturePoll = 250 * time.Millisecond // capture's default

func uploadSpec(customers int) edgesim.Spec {
	return edgesim.Spec{Seed: 5, Stores: 1, CustomersPerStore: customers, SalesPerCustomer: 1.5, ItemsPerStore: customers / 10}
}

func liveDuringPodiumUpload(b *testing.B, customers, factor int, every time.Duration) {
	window := time.Minute / time.Duration(factor)
	r := newPodiumRigB(b, func(s *rigSetup) {
		require.NoError(b, edgesim.Generate(s.db, uploadSpec(customers)))
		s.podium.Tier = projectors.TierClienteling
		s.capture.PollInterval = capturePoll
		s.emu.SetLimitWindow(300, window)
		s.client.RatePerMinute, s.client.RateWindow = 300, window
	})
	start := time.Now() // the data was there before capture started
	up := &upload{js: r.srv.JS, durable: podium.Durable, calls: func() int { return r.emu.Counter("requests") }}
	changes := storePace(b, r.db, every, func() bool { return up.done(b) })
	r.settle()
	elapsed := time.Since(start)
	var lat []time.Duration
	for _, c := range changes {
		var at time.Time
		switch c.kind {
		case "new customer":
			ct, ok := r.emu.ContactByIdentifier(c.email)
			require.True(b, ok, "%s in Podium", c.email)
			at = ct.CreatedAt
		case "edited email":
			ct, ok := r.emu.ContactByIdentifier(c.email)
			require.True(b, ok, "%s in Podium", c.email)
			at = ct.UpdatedAt
			if ct.CreatedAt.After(c.committed) {
				at = ct.CreatedAt // the edit made the contact: the upload had not reached it
			}
		case "sale":
			at = purchaseReceived(b, r, c.key)
		}
		lat = append(lat, at.Sub(c.committed))
	}
	slowest(changes, lat, start)
	reportLive(b, "podium", customers, r.emu.Counter("requests"), 300, window, factor, elapsed, lat, len(changes), up)
	require.Zero(b, r.emu.Counter("rate_limited"), "the client never drew a 429")
}

// purchaseReceived is when Podium took the purchase of a sale.
func purchaseReceived(b *testing.B, r *podiumRig, sale string) time.Time {
	for _, fe := range r.emu.FeedEvents(projectors.FeedPurchase) {
		var ev podiumapi.FeedEvent
		require.NoError(b, json.Unmarshal(fe.Body, &ev))
		if ev.Purchase != nil && ev.Purchase.SaleNumber == sale {
			return fe.ReceivedAt
		}
	}
	b.Fatalf("the purchase of sale %s is not in Podium", sale)
	return time.Time{}
}

func liveDuringClientbookUpload(b *testing.B, customers, factor int, every time.Duration) {
	window := time.Minute / time.Duration(factor)
	db := edgesim.New()
	require.NoError(b, edgesim.Generate(db, uploadSpec(customers)))
	r := newClientbookRigOn(b, db, capturePoll, func(_ *projectors.ClientbookOptions, c *clientbook.ClientConfig, e *clientbookemu.Emulator) {
		e.SetLimitWindow(clientbookemu.RateLimit, window)
		c.RatePerMinute, c.RateWindow = clientbookemu.RateLimit, window
	})
	r.wait = 2 * time.Hour
	start := time.Now()
	up := &upload{js: r.srv.JS, durable: clientbook.Durable, calls: func() int { return r.emu.Counter("requests") }}
	changes := storePace(b, db, every, func() bool { return up.done(b) })
	r.settle()
	elapsed := time.Since(start)
	var lat []time.Duration
	for _, c := range changes {
		var at time.Time
		switch c.kind {
		case "new customer", "edited email":
			at = r.client(c.key).UpdatedAt
		case "sale":
			p, ok := r.emu.Purchase(r.client(c.customer).ID, c.key)
			require.True(b, ok, "the purchase of sale %s in Clientbook", c.key)
			at = p.ReceivedAt
		}
		lat = append(lat, at.Sub(c.committed))
	}
	slowest(changes, lat, start)
	reportLive(b, "clientbook", customers, r.emu.Counter("requests")-2, clientbookemu.RateLimit, window, factor, elapsed, lat, len(changes), up)
	require.Zero(b, r.emu.Counter("rate_limited"), "the client never drew a 429")
}

// upload follows the bulk lanes of durable: open from the first one seen
// to none left, and the partner calls made meanwhile.
type upload struct {
	js          jetstream.JetStream
	durable     string
	calls       func() int
	from, to    time.Time
	callsAtFrom int
	callsAtTo   int
}

// done reports, once a bulk lane was seen, whether none is left.
func (u *upload) done(b *testing.B) bool {
	names, err := streams.BulkLanes(context.Background(), u.js, streams.StreamEdge, u.durable)
	require.NoError(b, err)
	lanes := len(names)
	switch {
	case lanes > 0 && u.from.IsZero():
		u.from, u.callsAtFrom = time.Now(), u.calls()
	case lanes == 0 && !u.from.IsZero():
		u.to, u.callsAtTo = time.Now(), u.calls()
		return true
	}
	return false
}

// liveChange is one change a store made, and when Edge committed it.
type liveChange struct {
	kind      string
	key       string // the customer's, or the sale's
	customer  string // a sale's customer
	email     string // a new or edited email
	committed time.Time
}

// storePace makes changes as a store does, every every, until uploaded
// says the partner holds every customer; it returns what it made.
func storePace(b *testing.B, db *edgesim.DB, every time.Duration, uploaded func() bool) []liveChange {
	rng := rand.New(rand.NewPCG(9, 9))
	keys := db.CustomerKeys()
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var out []liveChange
	commit := func(c *liveChange, fn func(tx *edgesim.Tx) error) {
		_, err := db.Update("", fn)
		require.NoError(b, err)
		c.committed = time.Now()
		out = append(out, *c)
	}
	next := 0
	pick := func() *schemas.Customer {
		for ; next < len(keys); next++ {
			if c := db.Customer(keys[next]); c != nil && c.SyncEnabled && email(c) != "" {
				next++
				return c
			}
		}
		return nil // each is edited once: from here on, only walk-ins
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; !uploaded(); n++ {
		<-t.C
		walkIn := liveChange{kind: "new customer", email: fmt.Sprintf("walk-in-%d@example.com", n)}
		commit(&walkIn, func(tx *edgesim.Tx) error {
			walkIn.key = newCustomer(tx, "001", "Walk", walkIn.email, "")
			return nil
		})
		ed := pick()
		if ed == nil {
			continue
		}
		edit := liveChange{kind: "edited email", key: ed.Key, email: fmt.Sprintf("edited-%d@example.com", n)}
		commit(&edit, func(tx *edgesim.Tx) error {
			cu := tx.Customer(ed.Key)
			for i := range cu.ContactMethods {
				if cu.ContactMethods[i].Method == schemas.MethodEmail {
					cu.ContactMethods[i].Value = edit.email
				}
			}
			return tx.PutCustomer(cu)
		})
		buyer := pick()
		if buyer == nil {
			continue
		}
		sale := liveChange{kind: "sale", customer: buyer.Key}
		commit(&sale, func(tx *edgesim.Tx) error {
			var err error
			sale.key, err = tx.NewSale("001", schemas.Sale{CustomerKey: buyer.Key, Total: 1999, Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", Qty: 1, Amount: 1999}}})
			return err
		})
	}
	return out
}

// slowest prints the three slowest live changes: what they were and when
// in the upload they were made.
func slowest(changes []liveChange, lat []time.Duration, start time.Time) {
	idx := make([]int, len(lat))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(lat[b], lat[a]) })
	for _, i := range idx[:min(3, len(idx))] {
		fmt.Fprintf(os.Stderr, "  slow: %s %s made %s into the run: %s\n", changes[i].kind, changes[i].key,
			changes[i].committed.Sub(start).Round(time.Millisecond), lat[i].Round(time.Millisecond))
	}
}

// reportLive prints and reports the live changes' latencies and the
// upload's time against the limit's lower bound: the whole run's (from
// capture's start to the last change settled) and the bulk lanes' own
// (open to closed, with the calls made meanwhile, live ones included).
func reportLive(b *testing.B, partner string, customers, calls, limit int, window time.Duration, factor int, elapsed time.Duration, lat []time.Duration, n int, up *upload) {
	q := percentiles(lat)
	bound := time.Duration(float64(calls) / float64(limit) * float64(window))
	lanes := up.to.Sub(up.from)
	laneBound := time.Duration(float64(up.callsAtTo-up.callsAtFrom) / float64(limit) * float64(window))
	b.ReportMetric(float64(q.p99.Milliseconds()), "live-p99-ms")
	b.ReportMetric(laneBound.Seconds()/lanes.Seconds(), "of-lower-bound")
	fmt.Fprintf(os.Stderr, "%s: upload of %d customers at %d per %s (%dx compressed): the run %d calls in %s, lower bound %s, %.0f%% of it; "+
		"the bulk lanes %d calls in %s, lower bound %s, %.0f%% of it (at the real pace %s); "+
		"%d live changes, commit → %s p50 %s, p95 %s, p99 %s, max %s (capture polls every %s)\n",
		partner, customers, limit, window, factor, calls, elapsed.Round(time.Second), bound.Round(time.Second), 100*bound.Seconds()/elapsed.Seconds(),
		up.callsAtTo-up.callsAtFrom, lanes.Round(time.Second), laneBound.Round(time.Second), 100*laneBound.Seconds()/lanes.Seconds(),
		(lanes * time.Duration(factor)).Round(time.Minute), n, partner, q.p50.Round(time.Millisecond), q.p95.Round(time.Millisecond),
		q.p99.Round(time.Millisecond), q.max.Round(time.Millisecond), capturePoll)
}
