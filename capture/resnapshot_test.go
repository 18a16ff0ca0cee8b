package capture_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// latest is the newest event of each subject in EDGE.
func latest(t *testing.T, srv *natstest.Server) map[string]schemas.Envelope {
	out := map[string]schemas.Envelope{}
	for _, m := range natstest.Messages(t, srv.JS, streams.StreamEdge) {
		env, err := schemas.DecodeEnvelope(m.Data)
		require.NoError(t, err)
		out[m.Subject] = env
	}
	return out
}

func subject(t *testing.T, e schemas.Entity, key string) string {
	s, err := schemas.EdgeSubjectFor(e, key)
	require.NoError(t, err)
	return s.String()
}

// Capture away longer than Change Tracking's retention: the edits and
// deletions it missed are no longer in any change list, and the rows they
// touched have NULL versions (CHANGETABLE(VERSION ...) after cleanup). The
// re-snapshot must supersede what connectors hold, not be judged stale
// against it, and must publish what was deleted meanwhile.
func TestAnOutageLongerThanTheRetentionSupersedesAndDeletes(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	c := newCapture(t, srv, db)
	require.NoError(t, c.Cycle(ctx))
	customer := db.CustomerKeys()[0]
	before := latest(t, srv)
	var note string
	for subj, env := range before {
		if s, _ := schemas.ParseEdgeSubject(subj); s.Entity == schemas.EntityNote && env.Data != nil && string(env.Data) != "null" {
			note = env.Key
			break
		}
	}
	require.NotEmpty(t, note, "the generator makes notes")

	_, err := db.Update("", func(tx *edgesim.Tx) error {
		cu := tx.Customer(customer)
		cu.FirstName = "Renamed"
		if err := tx.PutCustomer(cu); err != nil {
			return err
		}
		tx.Delete(schemas.EntityNote, note)
		return nil
	})
	require.NoError(t, err)
	cur, err := db.CurrentVersion(ctx)
	require.NoError(t, err)
	// The retention cleans up every change capture missed, and the store
	// goes on.
	db.ExpireChanges(cur)
	_, err = db.Update("", func(tx *edgesim.Tx) error {
		_, err := tx.NewCustomer("002", schemas.Customer{FirstName: "Late", SyncEnabled: true})
		return err
	})
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))
	assert.Positive(t, c.Stats().Resnapshots)

	after := latest(t, srv)
	was, now := before[subject(t, schemas.EntityCustomer, customer)], after[subject(t, schemas.EntityCustomer, customer)]
	assert.True(t, now.Supersedes(was.Epoch, was.Version), "the re-snapshot's state (%d@%d) supersedes the one published before (%d@%d)",
		now.Version, now.Epoch, was.Version, was.Epoch)
	var cu schemas.Customer
	require.NoError(t, now.DecodeData(&cu))
	assert.Equal(t, "Renamed", cu.FirstName)
	gone := after[subject(t, schemas.EntityNote, note)]
	assert.Equal(t, schemas.EdgeEventType(schemas.EntityNote, true), gone.Type, "the note deleted during the outage is published as deleted")
	assert.True(t, gone.Supersedes(before[subject(t, schemas.EntityNote, note)].Epoch, before[subject(t, schemas.EntityNote, note)].Version))
}

// changesDuringSnapshot commits a change to one existing customer as the
// customers' snapshot starts, as a busy store would: its version is then
// past the cycle's, and the snapshot leaves it to the next cycle.
type changesDuringSnapshot struct {
	*edgesim.DB
	key  string
	done bool
}

func (s *changesDuringSnapshot) Snapshot(ctx context.Context, e schemas.Entity, fn func(capture.Row) error) (int64, error) {
	if e == schemas.EntityCustomer && !s.done {
		s.done = true
		if _, err := s.DB.Update("", func(tx *edgesim.Tx) error {
			cu := tx.Customer(s.key)
			cu.LastName = "Changed mid-snapshot"
			return tx.PutCustomer(cu)
		}); err != nil {
			return 0, err
		}
	}
	return s.DB.Snapshot(ctx, e, fn)
}

// A row that changed after the cycle's version still exists: a re-snapshot
// (here of a database restored behind the checkpoint) must not publish it
// as deleted, and the next cycle publishes its change.
func TestARowChangedDuringTheResnapshotIsNotDeleted(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	require.NoError(t, newCapture(t, srv, db).Cycle(ctx))
	backup := edgesim.New()
	require.NoError(t, edgesim.Generate(backup, edgesim.Spec{Seed: 7, Stores: 1, CustomersPerStore: 3}))
	key := backup.CustomerKeys()[0]
	c, err := capture.New(ctx, &changesDuringSnapshot{DB: backup, key: key}, srv.JS, capture.Config{Site: "test"}, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))
	assert.Equal(t, schemas.EdgeEventType(schemas.EntityCustomer, false), latest(t, srv)[subject(t, schemas.EntityCustomer, key)].Type,
		"not published as deleted by the re-snapshot that passed it over")
	require.NoError(t, c.Cycle(ctx))
	got := latest(t, srv)[subject(t, schemas.EntityCustomer, key)]
	var cu schemas.Customer
	require.NoError(t, got.DecodeData(&cu))
	assert.Equal(t, "Changed mid-snapshot", cu.LastName)
}

// A stream that went back under surviving checkpoints (NATS state lost or
// restored from an old backup, the checkpoint bucket kept) would leave
// connectors without the store's customers for good: a capture starting
// on it sees the stream holds none of what the checkpoint says was
// published, says so, and takes a new snapshot.
func TestAStreamThatWentBackUnderItsCheckpointsIsSnapshotAgain(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	require.NoError(t, newCapture(t, srv, db).Cycle(ctx))
	n := len(latest(t, srv))
	require.Positive(t, n)
	// The stream lost, made afresh; the checkpoints kept.
	require.NoError(t, srv.JS.DeleteStream(ctx, streams.StreamEdge))
	require.NoError(t, streams.Provision(ctx, srv.JS, streams.DefaultConfig()))

	c := newCapture(t, srv, db) // a capture starting afresh on the same checkpoints
	require.NoError(t, c.Cycle(ctx))
	assert.Positive(t, c.Stats().Snapshots, "the stream's loss is seen, and the snapshot taken again")
	assert.Len(t, latest(t, srv), n, "every aggregate is in the stream again")
}
