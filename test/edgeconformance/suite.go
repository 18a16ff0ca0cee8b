// Package edgeconformance is the one test suite every implementation of the
// Edge change source runs: the Edge simulator always, SQL Server when
// EDGESYNC_MSSQL_DSN is set. Each case drives the source through the real
// capture loop into a real embedded JetStream and checks what arrived. An
// implementation is done when this suite passes, not when it compiles.
package edgeconformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// Harness is an Edge database under test and the actions an Edge user (or
// edgesync's writer, with an origin) takes on it. Each action is one
// committed transaction.
type Harness interface {
	Source() capture.ChangeSource
	NewCustomer(ctx context.Context, store, firstName, email string) (key string, err error)
	// AddEmail adds an email in one transaction marked with origin (a
	// partner's, or "" for an Edge user).
	AddEmail(ctx context.Context, customerKey, email, origin string) error
	Rename(ctx context.Context, customerKey, firstName string) error
	Inactivate(ctx context.Context, customerKey string) error
	AddNote(ctx context.Context, customerKey, text, origin string) (key string, err error)
	DeleteNote(ctx context.Context, noteKey string) error
	// NewSale rings up a sale to a customer with lines lines of 100.00
	// each, in one transaction; AddSaleLine adds one more line to it.
	NewSale(ctx context.Context, customerKey string, lines int) (key string, err error)
	AddSaleLine(ctx context.Context, saleKey string) error
	// One aggregate of each other entity, for a customer of store 001
	// (an item is the store's): an appointment, a repair job, whose status
	// change SetJobStatus records in the job's history (a child table), an
	// item in stock, a queued text, a wish.
	NewAppointment(ctx context.Context, customerKey string) (key string, err error)
	NewServiceJob(ctx context.Context, customerKey string) (key string, err error)
	SetJobStatus(ctx context.Context, jobKey, status string) error
	NewItem(ctx context.Context) (key string, err error)
	NewNotification(ctx context.Context, customerKey string) (key string, err error)
	AddWish(ctx context.Context, customerKey, description string) error
	// ExpireChanges makes the source forget every change so far, as
	// retention cleanup does: a checkpoint taken before is now too old.
	ExpireChanges(ctx context.Context) error
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	t   *testing.T
	h   Harness
	srv *natstest.Server
	cap *capture.Capture
}

func (f *fixture) newCapture() *capture.Capture {
	c, err := capture.New(context.Background(), f.h.Source(), f.srv.JS, capture.Config{Site: "conformance", Batch: 7}, quiet)
	require.NoError(f.t, err)
	return c
}

func (f *fixture) cycle() {
	require.NoError(f.t, f.cap.Cycle(context.Background()))
}

// events returns every event in the EDGE stream, checked against its schema.
func (f *fixture) events() []schemas.Envelope {
	var out []schemas.Envelope
	for _, m := range natstest.Messages(f.t, f.srv.JS, streams.StreamEdge) {
		require.NoError(f.t, schemas.Validate(m.Data), "event on %s", m.Subject)
		env, err := schemas.DecodeEnvelope(m.Data)
		require.NoError(f.t, err)
		subj, err := schemas.ParseEdgeSubject(m.Subject)
		require.NoError(f.t, err)
		require.Equal(f.t, subj.Key(), env.Key)
		require.Equal(f.t, env.ID, m.Header.Get(jetstream.MsgIDHeader))
		out = append(out, env)
	}
	return out
}

func (f *fixture) must(err error) {
	f.t.Helper()
	require.NoError(f.t, err)
}

// mustJSON is an envelope as it travels, for schema validation.
func mustJSON(t *testing.T, env schemas.Envelope) []byte {
	b, err := json.Marshal(env)
	require.NoError(t, err)
	return b
}

func customer(t *testing.T, env schemas.Envelope) schemas.Customer {
	var c schemas.Customer
	require.NoError(t, env.DecodeData(&c))
	return c
}

// crashingSource is a source whose reader dies after a number of snapshot
// rows: crash closes capture's connection, as a killed process's would be.
type crashingSource struct {
	capture.ChangeSource
	after int
	crash func()
}

func (s crashingSource) Snapshot(ctx context.Context, e schemas.Entity, fn func(capture.Row) error) (int64, error) {
	n := 0
	return s.ChangeSource.Snapshot(ctx, e, func(r capture.Row) error {
		if n++; n == s.after {
			s.crash()
			return errors.New("killed")
		}
		return fn(r)
	})
}

// Run runs every case; newHarness returns a fresh, empty database each time.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"snapshot then incremental", func(t *testing.T, f *fixture) {
			var keys []string
			for _, n := range []string{"Ada", "Grace", "Edsger"} {
				k, err := f.h.NewCustomer(ctx, "001", n, strings.ToLower(n)+"@example.com")
				f.must(err)
				keys = append(keys, k)
			}
			f.cycle()
			evs := f.events()
			require.Len(t, evs, 3)
			for i, e := range evs {
				assert.Equal(t, keys[i], e.Key)
				assert.Equal(t, "edge.customer.changed", e.Type)
			}
			f.must(f.h.Rename(ctx, keys[1], "Rear Admiral Grace"))
			f.cycle()
			evs = f.events()
			require.Len(t, evs, 4)
			assert.Equal(t, keys[1], evs[3].Key)
			assert.Greater(t, evs[3].Version, evs[1].Version)
			assert.Equal(t, "Rear Admiral Grace", customer(t, evs[3]).FirstName)
			f.cycle()
			assert.Len(t, f.events(), 4, "a cycle without changes publishes nothing")
		}},
		{"insert, update, delete and inactivate", func(t *testing.T, f *fixture) {
			k, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			f.cycle()
			note, err := f.h.AddNote(ctx, k, "ring size 6", "")
			f.must(err)
			f.cycle()
			f.must(f.h.DeleteNote(ctx, note))
			f.must(f.h.Inactivate(ctx, k))
			f.cycle()
			evs := f.events()
			require.Len(t, evs, 4)
			assert.Equal(t, "edge.note.changed", evs[1].Type)
			byType := map[string]schemas.Envelope{}
			for _, e := range evs[2:] {
				byType[e.Type] = e
			}
			assert.True(t, byType["edge.note.deleted"].Deleted())
			assert.Equal(t, note, byType["edge.note.deleted"].Key)
			assert.True(t, customer(t, byType["edge.customer.changed"]).Inactive)
		}},
		{"a child row change re-emits the parent aggregate", func(t *testing.T, f *fixture) {
			k, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			f.cycle()
			f.must(f.h.AddEmail(ctx, k, "ada@work.example.com", ""))
			f.cycle()
			evs := f.events()
			require.Len(t, evs, 2)
			var emails []string
			for _, m := range customer(t, evs[1]).ContactMethods {
				emails = append(emails, m.Value)
			}
			assert.Equal(t, []string{"ada@example.com", "ada@work.example.com"}, emails)
		}},
		{"writes on behalf of a partner carry its origin", func(t *testing.T, f *fixture) {
			k, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			_, err = f.h.AddNote(ctx, k, "from podium", "podium")
			f.must(err)
			_, err = f.h.AddNote(ctx, k, "from the counter", "")
			f.must(err)
			f.cycle()
			origins := map[string]string{}
			for _, e := range f.events() {
				if e.Type == "edge.note.changed" {
					var n schemas.Note
					f.must(e.DecodeData(&n))
					origins[n.Text] = e.Origin
				}
			}
			assert.Equal(t, map[string]string{"from podium": "podium", "from the counter": ""}, origins)
		}},
		{"a crash between publish and checkpoint loses and duplicates nothing", func(t *testing.T, f *fixture) {
			for _, n := range []string{"Ada", "Grace"} {
				_, err := f.h.NewCustomer(ctx, "001", n, strings.ToLower(n)+"@example.com")
				f.must(err)
			}
			f.cycle()
			published := len(f.events())
			kv, err := f.srv.JS.KeyValue(ctx, streams.BucketCheckpoints)
			f.must(err)
			for _, e := range schemas.Entities {
				f.must(kv.Purge(ctx, "conformance."+string(e)))
			}
			f.cap = f.newCapture() // the restarted process
			f.cycle()
			assert.Len(t, f.events(), published)
			assert.EqualValues(t, published, f.cap.Stats().Duplicates)
		}},
		{"a crash with a batch in flight loses and duplicates nothing", func(t *testing.T, f *fixture) {
			const customers = 30 // batches of 7: the crashes fall with one batch in flight and the next half full
			for i := range customers {
				_, err := f.h.NewCustomer(ctx, "001", fmt.Sprintf("Crash%02d", i), fmt.Sprintf("crash%02d@example.com", i))
				f.must(err)
			}
			for _, after := range []int{9, 15, 22, 29} {
				nc, err := f.srv.Connect("crashing capture")
				f.must(err)
				js, err := jetstream.New(nc)
				f.must(err)
				src := crashingSource{ChangeSource: f.h.Source(), after: after, crash: nc.Close}
				c, err := capture.New(ctx, src, js, capture.Config{Site: "conformance", Batch: 7}, quiet)
				f.must(err)
				require.Error(t, c.Cycle(ctx), "the process died after %d rows", after)
			}
			f.cycle() // the process that survives
			seen := map[string]int{}
			for _, e := range f.events() {
				seen[e.ID]++
			}
			assert.Len(t, seen, customers, "every customer reached the stream")
			for id, n := range seen {
				assert.Equal(t, 1, n, "%s stored once", id)
			}
			st := f.cap.Stats()
			assert.EqualValues(t, customers, st.Published[schemas.EntityCustomer]+st.Duplicates)
			assert.Positive(t, st.Duplicates, "what the killed processes stored is dropped as duplicate")
		}},
		{"a checkpoint older than the min valid version triggers a new snapshot", func(t *testing.T, f *fixture) {
			k, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			note, err := f.h.AddNote(ctx, k, "ring size 6", "")
			f.must(err)
			f.cycle()
			first := f.events()
			f.must(f.h.Rename(ctx, k, "Augusta Ada"))
			f.must(f.h.DeleteNote(ctx, note))
			f.must(f.h.ExpireChanges(ctx))
			f.cycle()
			assert.Positive(t, f.cap.Stats().Resnapshots)
			evs := f.events()
			last := map[string]schemas.Envelope{}
			for _, e := range evs {
				last[e.Key] = e
			}
			assert.Equal(t, "Augusta Ada", customer(t, last[k]).FirstName, "the change is not lost")
			// Rows untouched since the cleanup have NULL versions: the
			// re-snapshot's events must still supersede what connectors
			// hold, or they are judged stale and dropped.
			assert.True(t, last[k].Supersedes(first[0].Epoch, first[0].Version), "version %d@%d after %d@%d",
				last[k].Version, last[k].Epoch, first[0].Version, first[0].Epoch)
			assert.True(t, last[note].Deleted(), "a note deleted during the outage is published as deleted")
		}},
		{"a change carries the context of its aggregate's last change only", func(t *testing.T, f *fixture) {
			// SYS_CHANGE_CONTEXT holds the last change's context: an Edge
			// user's rename followed, before the next cycle, by a write on
			// a partner's behalf arrives as one event with the partner's
			// origin. Connectors must not lose the rename on that account.
			k, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			f.cycle()
			f.must(f.h.Rename(ctx, k, "Augusta Ada"))
			f.must(f.h.AddEmail(ctx, k, "ada@podium.example.com", "podium"))
			f.cycle()
			evs := f.events()
			require.Len(t, evs, 2)
			assert.Equal(t, "podium", evs[1].Origin)
			assert.Equal(t, "Augusta Ada", customer(t, evs[1]).FirstName)
		}},
		{"a sale with its lines, and a line added later", func(t *testing.T, f *fixture) {
			k, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			sale, err := f.h.NewSale(ctx, k, 2)
			f.must(err)
			f.cycle()
			sales := func() []schemas.Sale {
				var out []schemas.Sale
				for _, e := range f.events() {
					if e.Type == "edge.sale.changed" {
						var s schemas.Sale
						f.must(e.DecodeData(&s))
						assert.Equal(t, sale, e.Key)
						out = append(out, s)
					}
				}
				return out
			}
			got := sales()
			require.Len(t, got, 1)
			assert.Equal(t, k, got[0].CustomerKey)
			assert.Len(t, got[0].Lines, 2)
			f.must(f.h.AddSaleLine(ctx, sale))
			f.cycle()
			got = sales()
			require.Len(t, got, 2, "a new line re-emits the sale")
			assert.Len(t, got[1].Lines, 3)
		}},
		{"every entity, and a child row re-emitting a service job", func(t *testing.T, f *fixture) {
			k, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			appt, err := f.h.NewAppointment(ctx, k)
			f.must(err)
			job, err := f.h.NewServiceJob(ctx, k)
			f.must(err)
			item, err := f.h.NewItem(ctx)
			f.must(err)
			text, err := f.h.NewNotification(ctx, k)
			f.must(err)
			f.must(f.h.AddWish(ctx, k, "Tennis bracelet"))
			f.cycle()
			byKey := map[string]schemas.Envelope{}
			for _, e := range f.events() {
				byKey[e.Type+" "+e.Key] = e
			}
			for _, want := range []string{"edge.appointment.changed " + appt, "edge.service.changed " + job, "edge.item.changed " + item,
				"edge.notification.changed " + text, "edge.wishlist.changed " + k} {
				require.Contains(t, byKey, want)
				assert.NoError(t, schemas.Validate(mustJSON(t, byKey[want])), want)
			}
			var wl schemas.WishList
			f.must(byKey["edge.wishlist.changed "+k].DecodeData(&wl))
			require.Len(t, wl.Wishes, 1)
			assert.Equal(t, "Tennis bracelet", wl.Wishes[0].Description)

			f.must(f.h.SetJobStatus(ctx, job, "DONE"))
			f.cycle()
			var latest schemas.ServiceJob
			var n int
			for _, e := range f.events() {
				if e.Key == job {
					n++
					f.must(e.DecodeData(&latest))
				}
			}
			assert.Equal(t, 2, n, "the status change re-emits the job")
			assert.Equal(t, "DONE", latest.Status)
			require.NotEmpty(t, latest.History)
			assert.Equal(t, "DONE", latest.History[len(latest.History)-1].To)
		}},
		{"two stores", func(t *testing.T, f *fixture) {
			a, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			b, err := f.h.NewCustomer(ctx, "002", "Grace", "grace@example.com")
			f.must(err)
			f.cycle()
			stores := map[string]string{}
			for _, e := range f.events() {
				stores[e.Key] = e.Store
			}
			assert.Equal(t, map[string]string{a: "001", b: "002"}, stores)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fixture{t: t, h: newHarness(t), srv: natstest.Start(t)}
			f.cap = f.newCapture()
			c.run(t, f)
		})
	}
}
