package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
)

// BenchmarkChangeToPartner measures the time from an Edge commit in the
// simulator to the Podium emulator receiving the call it causes, at a steady
// rate of changes, for each capture poll interval and two kinds of change: a
// new customer (one contact call each) and a sale of a known customer (a
// purchase, which the connector gathers into data-feed lists). It also splits
// the time at the EDGE stream: commit → stored is capture's share, stored →
// received the connector's. The rates are 50 and 500 changes a second, each
// for max(400, 4 s) changes. See docs/benchmarks.md.
func BenchmarkChangeToPartner(b *testing.B) {
	for _, poll := range []time.Duration{20 * time.Millisecond, 250 * time.Millisecond, time.Second} {
		for _, rate := range []int{50, 500} {
			for _, kind := range []string{"contact", "sale"} {
				b.Run(fmt.Sprintf("poll=%s/rate=%d/%s", poll, rate, kind), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						latencyOnce(b, poll, rate, max(400, 4*rate), kind)
					}
				})
			}
		}
	}
}

func latencyOnce(b *testing.B, poll time.Duration, rate, changes int, kind string) {
	r := newPodiumRigB(b, func(s *rigSetup) { s.capture.PollInterval = poll })
	var buyer string
	r.edge("", func(tx *edgesim.Tx) error {
		buyer = newCustomer(tx, "001", "Buyer", "buyer@example.com", "")
		return nil
	})
	r.settle()
	ctx := context.Background()
	committed := make(map[string]time.Time, changes) // aggregate key → commit
	emails := make(map[string]string, changes)       // new customer's key → email
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range changes {
		<-tick.C
		at := time.Now() // before the commit: the figure errs long, never short
		var key string
		r.edge("", func(tx *edgesim.Tx) error {
			if kind == "sale" {
				var err error
				key, err = tx.NewSale("001", schemas.Sale{CustomerKey: buyer, Total: 1000, Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", Qty: 1, Amount: 1000}}})
				return err
			}
			email := fmt.Sprintf("latency%05d@example.com", i)
			key = newCustomer(tx, "001", fmt.Sprintf("Latency%05d", i), email, "")
			emails[key] = email
			return nil
		})
		committed[key] = at
	}
	r.settle()

	entity := schemas.EntityCustomer
	received := map[string]time.Time{} // event id → the emulator's receipt
	if kind == "sale" {
		entity = schemas.EntitySale
		for _, fe := range r.emu.FeedEvents(projectors.FeedPurchase) {
			received[fe.EventID] = fe.ReceivedAt
		}
	}
	stream, err := r.srv.JS.Stream(ctx, streams.StreamEdge)
	require.NoError(b, err)
	var total, captured, delivered []time.Duration
	for key, at := range committed {
		subj, err := schemas.EdgeSubjectFor(entity, key)
		require.NoError(b, err)
		m, err := stream.GetLastMsgForSubject(ctx, subj.String())
		require.NoError(b, err)
		got, ok := received[m.Header.Get(jetstream.MsgIDHeader)]
		if kind == "contact" {
			c, found := r.emu.ContactByIdentifier(emails[key])
			got, ok = c.CreatedAt, found
		}
		require.True(b, ok, "%s reached Podium", key)
		total = append(total, got.Sub(at))
		captured = append(captured, m.Time.Sub(at))
		delivered = append(delivered, got.Sub(m.Time))
	}
	t, cp, d := percentiles(total), percentiles(captured), percentiles(delivered)
	b.ReportMetric(ms(t.p50), "p50-ms")
	b.ReportMetric(ms(t.p95), "p95-ms")
	b.ReportMetric(ms(t.p99), "p99-ms")
	b.ReportMetric(ms(t.max), "max-ms")
	fmt.Fprintf(os.Stderr, "poll %s, %d %s changes at %d/s: commit → Podium p50 %.0f ms, p95 %.0f, p99 %.0f, max %.0f"+
		" | commit → EDGE stream p50 %.0f, p99 %.0f | stream → Podium p50 %.0f, p99 %.0f\n",
		poll, changes, kind, rate, ms(t.p50), ms(t.p95), ms(t.p99), ms(t.max), ms(cp.p50), ms(cp.p99), ms(d.p50), ms(d.p99))
}

type quantiles struct{ p50, p95, p99, max time.Duration }

// percentiles uses the nearest-rank method: p99 of 400 samples is the
// fourth largest.
func percentiles(ds []time.Duration) quantiles {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) time.Duration { return s[int(math.Ceil(q*float64(len(s))))-1] }
	return quantiles{p50: rank(0.50), p95: rank(0.95), p99: rank(0.99), max: s[len(s)-1]}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
