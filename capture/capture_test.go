package capture_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/edgesim"
	"github.com/edgesync/edgesync/test/natstest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func smallSpec() edgesim.Spec {
	return edgesim.Spec{Seed: 7, Stores: 2, CustomersPerStore: 40, SalesPerCustomer: 1, ItemsPerStore: 10, SyncDisabledEvery: 10}
}

func newCapture(t *testing.T, srv *natstest.Server, db *edgesim.DB) *capture.Capture {
	t.Helper()
	c, err := capture.New(context.Background(), db, srv.NC, srv.JS, capture.Config{Site: "test", Batch: 64}, quiet)
	require.NoError(t, err)
	return c
}

// edgeEvents reads every message of the EDGE stream.
func edgeEvents(t *testing.T, js jetstream.JetStream) []jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, streams.StreamEdge)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		out = append(out, *m)
	}
	return out
}

func TestSnapshotEmitsEveryAggregateValidAgainstItsSchema(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, smallSpec()))
	c := newCapture(t, srv, db)

	require.NoError(t, c.Cycle(ctx))

	msgs := edgeEvents(t, srv.JS)
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
		seen[subj.Entity]++
	}
	for _, e := range []schemas.Entity{schemas.EntityCustomer, schemas.EntityWishList, schemas.EntityNote, schemas.EntitySale,
		schemas.EntityAppointment, schemas.EntityService, schemas.EntityItem} {
		assert.Positive(t, seen[e], "the generator makes %s rows", e)
	}
}

func TestIncrementalChangesAndChildRows(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, smallSpec()))
	c := newCapture(t, srv, db)
	require.NoError(t, c.Cycle(ctx))
	before := len(edgeEvents(t, srv.JS))

	key := db.CustomerKeys()[3]
	// A child row (a new contact method) re-emits the whole customer.
	v, err := db.Update("", func(tx *edgesim.Tx) error {
		_, err := tx.AddContactMethod(key, schemas.ContactMethod{Method: schemas.MethodEmail, Value: "new@example.org"})
		return err
	})
	require.NoError(t, err)
	// A write edgesync made on behalf of Podium carries that origin.
	note, err := db.Update("podium", func(tx *edgesim.Tx) error {
		_, err := tx.PutNote(schemas.Note{CustomerKey: key, Text: "from podium"})
		return err
	})
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))

	msgs := edgeEvents(t, srv.JS)
	require.Len(t, msgs, before+2)
	cust, err := schemas.DecodeEnvelope(msgs[before].Data)
	require.NoError(t, err)
	assert.Equal(t, schemas.EdgeEventID(schemas.EntityCustomer, key, v), cust.ID)
	var got schemas.Customer
	require.NoError(t, cust.DecodeData(&got))
	assert.Equal(t, "new@example.org", got.ContactMethods[len(got.ContactMethods)-1].Value)
	assert.Empty(t, cust.Origin)

	n, err := schemas.DecodeEnvelope(msgs[before+1].Data)
	require.NoError(t, err)
	assert.Equal(t, "podium", n.Origin)
	assert.Equal(t, note, n.Version)
	assert.Equal(t, "podium", msgs[before+1].Header.Get(schemas.HeaderOrigin))

	// Nothing changed: a cycle publishes nothing.
	require.NoError(t, c.Cycle(ctx))
	assert.Len(t, edgeEvents(t, srv.JS), before+2)
}

func TestDeleteEmitsDeletedEvent(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	db := edgesim.New()
	var key string
	_, err := db.Update("", func(tx *edgesim.Tx) error {
		c, err := tx.NewCustomer("001", schemas.Customer{FirstName: "Ada"})
		if err != nil {
			return err
		}
		key, err = tx.PutNote(schemas.Note{CustomerKey: c, Text: "hello"})
		return err
	})
	require.NoError(t, err)
	c := newCapture(t, srv, db)
	require.NoError(t, c.Cycle(ctx))
	_, err = db.Update("", func(tx *edgesim.Tx) error { tx.Delete(schemas.EntityNote, key); return nil })
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))

	msgs := edgeEvents(t, srv.JS)
	last := msgs[len(msgs)-1]
	require.NoError(t, schemas.Validate(last.Data))
	env, err := schemas.DecodeEnvelope(last.Data)
	require.NoError(t, err)
	assert.True(t, env.Deleted())
	assert.Equal(t, "edge.note.deleted", env.Type)
}

// Invariant: no lost change, no duplicated event. A capture that crashed after
// publishing and before checkpointing publishes everything again on restart;
// the stream drops the duplicates by Nats-Msg-Id.
func TestCrashBetweenPublishAndCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := natstest.StartIn(t, dir)
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, smallSpec()))
	require.NoError(t, newCapture(t, srv, db).Cycle(ctx))
	published := len(edgeEvents(t, srv.JS))

	// The crash: the checkpoints never made it.
	kv, err := srv.JS.KeyValue(ctx, streams.BucketCheckpoints)
	require.NoError(t, err)
	for _, e := range schemas.Entities {
		require.NoError(t, kv.Purge(ctx, "test."+string(e)))
	}
	srv.Stop()

	srv = natstest.StartIn(t, dir)
	c := newCapture(t, srv, db)
	require.NoError(t, c.Cycle(ctx))
	assert.Len(t, edgeEvents(t, srv.JS), published)
	st := c.Stats()
	assert.EqualValues(t, published, st.Duplicates)
	assert.Zero(t, st.Published[schemas.EntityCustomer])
}

func TestRestartResumesFromCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := natstest.StartIn(t, dir)
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, smallSpec()))
	require.NoError(t, newCapture(t, srv, db).Cycle(ctx))
	published := len(edgeEvents(t, srv.JS))
	srv.Stop()

	_, err := edgesim.NewChurn(db, 1).Step()
	require.NoError(t, err)
	srv = natstest.StartIn(t, dir)
	c := newCapture(t, srv, db)
	require.NoError(t, c.Cycle(ctx))
	st := c.Stats()
	assert.Zero(t, st.Snapshots, "resumed, no snapshot")
	assert.Zero(t, st.Duplicates)
	assert.Greater(t, len(edgeEvents(t, srv.JS)), published)
}

func TestExpiredCheckpointTriggersResnapshot(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, smallSpec()))
	c := newCapture(t, srv, db)
	require.NoError(t, c.Cycle(ctx))

	churn := edgesim.NewChurn(db, 3)
	for range 20 {
		_, err := churn.Step()
		require.NoError(t, err)
	}
	cur, err := db.CurrentVersion(ctx)
	require.NoError(t, err)
	db.ExpireChanges(cur - 1) // retention cleanup overtook the checkpoint

	require.NoError(t, c.Cycle(ctx))
	st := c.Stats()
	assert.EqualValues(t, len(schemas.Entities), st.Resnapshots)
	cp, ok, err := c.LoadCheckpoint(ctx, schemas.EntityCustomer)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, cur, cp.Version)
}

func TestRunStopsOnCancel(t *testing.T) {
	srv := natstest.Start(t)
	db := edgesim.New()
	c, err := capture.New(context.Background(), db, srv.NC, srv.JS, capture.Config{Site: "s", PollInterval: 10 * time.Millisecond}, quiet)
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
		_, err := capture.New(context.Background(), edgesim.New(), srv.NC, srv.JS, cfg, quiet)
		assert.Error(t, err, "%+v", cfg)
	}
}
