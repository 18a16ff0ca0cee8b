package capture_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func smallSpec() edgesim.Spec {
	return edgesim.Spec{Seed: 7, Stores: 2, CustomersPerStore: 40, SalesPerCustomer: 1, ItemsPerStore: 10, SyncDisabledEvery: 10}
}

// generated starts a server and a simulator holding smallSpec's chain.
func generated(t *testing.T) (*natstest.Server, *edgesim.DB) {
	t.Helper()
	srv, db := natstest.Start(t), edgesim.New()
	require.NoError(t, edgesim.Generate(db, smallSpec()))
	return srv, db
}

func newCapture(t *testing.T, srv *natstest.Server, db *edgesim.DB) *capture.Capture {
	t.Helper()
	c, err := capture.New(context.Background(), db, srv.JS, capture.Config{Site: "test", Batch: 64}, quiet)
	require.NoError(t, err)
	return c
}

func TestSnapshotEmitsEveryAggregateValidAgainstItsSchema(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	c := newCapture(t, srv, db)

	require.NoError(t, c.Cycle(ctx))

	msgs := natstest.Messages(t, srv.JS, streams.StreamEdge)
	var want int64
	for _, e := range schemas.Entities {
		n, err := db.Count(ctx, e)
		require.NoError(t, err)
		want += n
	}
	require.EqualValues(t, want, len(msgs), "one event per live aggregate")
	seen := map[schemas.Entity]int{}
	for _, m := range msgs {
		require.NoError(t, schemas.Validate(m.Data), "event on %s", m.Subject)
		subj, err := schemas.ParseEdgeSubject(m.Subject)
		require.NoError(t, err)
		env, err := schemas.DecodeEnvelope(m.Data)
		require.NoError(t, err)
		assert.Equal(t, subj.Key(), env.Key)
		assert.Equal(t, env.ID, m.Header.Get(schemas.HeaderMsgID))
		assert.Equal(t, env.Type, m.Header.Get(schemas.HeaderType))
		assert.Equal(t, schemas.SpecVersion, m.Header.Get(schemas.HeaderSpecVersion))
		assert.Equal(t, schemas.LaneBulk, m.Header.Get(schemas.HeaderLane), "a snapshot is bulk work")
		seen[subj.Entity]++
	}
	for _, e := range []schemas.Entity{schemas.EntityCustomer, schemas.EntityWishList, schemas.EntityNote, schemas.EntitySale,
		schemas.EntityAppointment, schemas.EntityService, schemas.EntityItem} {
		assert.Positive(t, seen[e], "the generator makes %s rows", e)
	}
}

func TestRestartResumesFromCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := natstest.StartIn(t, dir)
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, smallSpec()))
	require.NoError(t, newCapture(t, srv, db).Cycle(ctx))
	published := len(natstest.Messages(t, srv.JS, streams.StreamEdge))
	srv.Stop()

	_, err := edgesim.NewChurn(db, 1).Step()
	require.NoError(t, err)
	srv = natstest.StartIn(t, dir)
	c := newCapture(t, srv, db)
	require.NoError(t, c.Cycle(ctx))
	st := c.Stats()
	assert.Zero(t, st.Snapshots, "resumed, no snapshot")
	assert.Zero(t, st.Duplicates)
	msgs := natstest.Messages(t, srv.JS, streams.StreamEdge)
	require.Greater(t, len(msgs), published)
	for _, m := range msgs[published:] {
		assert.Empty(t, m.Header.Get(schemas.HeaderLane), "a change is live: %s", m.Subject)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	srv := natstest.Start(t)
	db := edgesim.New()
	c, err := capture.New(context.Background(), db, srv.JS, capture.Config{Site: "s", PollInterval: 10 * time.Millisecond}, quiet)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	cancel()
	require.NoError(t, <-done)
}

func TestNewRejectsBadConfig(t *testing.T) {
	srv := natstest.Start(t)
	for _, cfg := range []capture.Config{{}, {Site: "a.b"}, {Site: "s", Entities: []schemas.Entity{"bogus"}}} {
		_, err := capture.New(context.Background(), edgesim.New(), srv.JS, cfg, quiet)
		assert.Error(t, err, "%+v", cfg)
	}
}

// A database restored from a backup is behind the checkpoint: capture takes
// a new snapshot rather than waiting for versions it already passed.
func TestDatabaseBehindCheckpointTriggersResnapshot(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	backup := edgesim.New()
	require.NoError(t, edgesim.Generate(backup, edgesim.Spec{Seed: 7, Stores: 1, CustomersPerStore: 3}))
	require.NoError(t, newCapture(t, srv, db).Cycle(ctx))

	reg := prometheus.NewRegistry()
	c, err := capture.New(ctx, backup, srv.JS, capture.Config{Site: "test", Metrics: capture.NewMetrics(reg)}, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))
	assert.EqualValues(t, len(schemas.Entities), c.Stats().Resnapshots)
	assert.EqualValues(t, 1, metricValue(t, reg, "edgesync_capture_snapshots_total", "customer", "behind"))
	cur, err := backup.CurrentVersion(ctx)
	require.NoError(t, err)
	cp, ok, err := c.LoadCheckpoint(ctx, schemas.EntityCustomer)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, cur, cp.Version)
}

// metricValue reads one labelled counter or gauge from a registry.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, l := range m.GetLabel() {
				vals = append(vals, l.GetValue())
			}
			if assert.ObjectsAreEqual(labels, vals) {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

// interleaved commits a new customer with a sale right after the customers
// snapshot, before the sales snapshot, as a busy store would.
type interleaved struct {
	*edgesim.DB
	done bool
}

func (s *interleaved) Snapshot(ctx context.Context, e schemas.Entity, fn func(capture.Row) error) (int64, error) {
	at, err := s.DB.Snapshot(ctx, e, fn)
	if e == schemas.EntityCustomer && !s.done {
		s.done = true
		_, err = s.DB.Update("", func(tx *edgesim.Tx) error {
			k, err := tx.NewCustomer("001", schemas.Customer{FirstName: "Late"})
			if err != nil {
				return err
			}
			_, err = tx.NewSale("001", schemas.Sale{CustomerKey: k})
			return err
		})
	}
	return at, err
}

// Every entity of a capture cycle is cut at the cycle's version: a sale
// never reaches the stream before the customer it names, so a connector
// never waits for a customer (which, with enough such sales, stalled one).
func TestSnapshotsOfACycleShareOneVersion(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	src := &interleaved{DB: db}
	c, err := capture.New(ctx, src, srv.JS, capture.Config{Site: "test"}, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))
	require.NoError(t, c.Cycle(ctx))

	seen := map[string]bool{}
	for _, m := range natstest.Messages(t, srv.JS, streams.StreamEdge) {
		env, err := schemas.DecodeEnvelope(m.Data)
		require.NoError(t, err)
		switch {
		case strings.HasPrefix(m.Subject, "edge.customer."):
			seen[env.Key] = true
		case strings.HasPrefix(m.Subject, "edge.sale."):
			var s schemas.Sale
			require.NoError(t, env.DecodeData(&s))
			if s.CustomerKey != "" {
				assert.True(t, seen[s.CustomerKey], "sale %s came before its customer %s", s.Key, s.CustomerKey)
			}
		}
	}
}

// countingSource counts what capture asks of the database.
type countingSource struct {
	*edgesim.DB
	calls map[string]int
}

func (s *countingSource) CurrentVersion(ctx context.Context) (int64, error) {
	s.calls["CurrentVersion"]++
	return s.DB.CurrentVersion(ctx)
}

func (s *countingSource) MinValidVersion(ctx context.Context, e schemas.Entity) (int64, error) {
	s.calls["MinValidVersion"]++
	return s.DB.MinValidVersion(ctx, e)
}

func (s *countingSource) Changes(ctx context.Context, e schemas.Entity, from, until int64, fn func(capture.Row) error) error {
	s.calls["Changes"]++
	return s.DB.Changes(ctx, e, from, until, fn)
}

// A short poll must be cheap on SQL Server: a poll that finds nothing new
// reads the current version and nothing else. The version is the database's,
// so after any commit each entity reads its retention and its changes once.
func TestAPollReadsOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	src := &countingSource{DB: db, calls: map[string]int{}}
	c, err := capture.New(ctx, src, srv.JS, capture.Config{Site: "test"}, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx)) // the initial snapshot

	clear(src.calls)
	require.NoError(t, c.Cycle(ctx))
	assert.Equal(t, map[string]int{"CurrentVersion": 1}, src.calls, "an idle poll")

	_, err = db.Update("", func(tx *edgesim.Tx) error {
		_, err := tx.NewCustomer("001", schemas.Customer{FirstName: "Ada", LastName: "Lovelace", SyncEnabled: true})
		return err
	})
	require.NoError(t, err)
	clear(src.calls)
	require.NoError(t, c.Cycle(ctx))
	n := len(schemas.Entities)
	assert.Equal(t, map[string]int{"CurrentVersion": 1, "MinValidVersion": n, "Changes": n}, src.calls, "a poll after one new customer")
}
