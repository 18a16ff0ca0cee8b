package edgesim_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
)

func TestRetentionAdvancesMinValidVersion(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	db := edgesim.New(edgesim.WithClock(func() time.Time { return now }), edgesim.WithRetention(90*time.Minute))
	for range 3 {
		_, err := db.Update("", func(tx *edgesim.Tx) error {
			_, err := tx.NewCustomer("001", schemas.Customer{FirstName: "Ada"})
			return err
		})
		require.NoError(t, err)
		now = now.Add(time.Hour)
	}
	// Commits at 9:00, 10:00, 11:00; the 11:00 commit forgot 9:00.
	mv, err := db.MinValidVersion(ctx, schemas.EntityCustomer)
	require.NoError(t, err)
	assert.EqualValues(t, 1, mv)
	assert.Error(t, db.Changes(ctx, schemas.EntityCustomer, 0, 3, func(capture.Row) error { return nil }))
	var got []string
	require.NoError(t, db.Changes(ctx, schemas.EntityCustomer, 1, 3, func(r capture.Row) error { got = append(got, r.Key); return nil }))
	assert.Equal(t, []string{"001-000002", "001-000003"}, got)
}

func TestGenerateIsDeterministic(t *testing.T) {
	spec := edgesim.Spec{Seed: 9, Stores: 2, CustomersPerStore: 30, SalesPerCustomer: 1.2, ItemsPerStore: 5}
	a, b := edgesim.New(), edgesim.New()
	require.NoError(t, edgesim.Generate(a, spec))
	require.NoError(t, edgesim.Generate(b, spec))
	dir := t.TempDir()
	require.NoError(t, a.Save(filepath.Join(dir, "a.json")))
	require.NoError(t, b.Save(filepath.Join(dir, "b.json")))
	for _, e := range schemas.Entities {
		na, _ := a.Count(context.Background(), e)
		nb, _ := b.Count(context.Background(), e)
		assert.Equal(t, na, nb, e)
	}
	assert.Equal(t, a.Customer("002-000007"), b.Customer("002-000007"))
}

func TestSaveAndLoadKeepVersionsAndChanges(t *testing.T) {
	ctx := context.Background()
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, edgesim.Spec{Seed: 1, Stores: 1, CustomersPerStore: 10}))
	churn := edgesim.NewChurn(db, 5)
	for range 10 {
		_, err := churn.Step()
		require.NoError(t, err)
	}
	path := filepath.Join(t.TempDir(), "db.json")
	require.NoError(t, db.Save(path))
	loaded, err := edgesim.Load(path)
	require.NoError(t, err)
	v1, _ := db.CurrentVersion(ctx)
	v2, _ := loaded.CurrentVersion(ctx)
	assert.Equal(t, v1, v2)
	count := func(d *edgesim.DB) int {
		n := 0
		require.NoError(t, d.Changes(ctx, schemas.EntityCustomer, 1, v1, func(capture.Row) error { n++; return nil }))
		return n
	}
	assert.Equal(t, count(db), count(loaded), "changes since a checkpoint survive a restart")

	_, err = edgesim.Load(filepath.Join(t.TempDir(), "missing.json"))
	assert.Error(t, err)
}

func TestTransactionsAreAtomic(t *testing.T) {
	ctx := context.Background()
	db := edgesim.New()
	before, _ := db.CurrentVersion(ctx)
	_, err := db.Update("", func(tx *edgesim.Tx) error {
		if _, err := tx.NewCustomer("001", schemas.Customer{FirstName: "Ada"}); err != nil {
			return err
		}
		_, err := tx.NewCustomer("1", schemas.Customer{FirstName: "Bad store"})
		return err
	})
	require.Error(t, err)
	after, _ := db.CurrentVersion(ctx)
	assert.Equal(t, before, after)
	n, _ := db.Count(ctx, schemas.EntityCustomer)
	assert.Zero(t, n, "nothing of a failed transaction is applied")
}

// churnedSpec is the chain churned generates: one store of five customers.
var churnedSpec = edgesim.Spec{Seed: 3, Stores: 1, CustomersPerStore: 5}

// churned generates a durable database at path and makes 25 changes, each
// in its journal.
func churned(t *testing.T, path string) (*edgesim.DB, *edgesim.Churn) {
	t.Helper()
	db, generated, err := edgesim.Open(path, churnedSpec)
	require.NoError(t, err)
	require.True(t, generated)
	churn := edgesim.NewChurn(db, 7)
	for range 25 {
		_, err := churn.Step()
		require.NoError(t, err)
	}
	return db, churn
}

// A checkpoint folds the journal only once it has grown past the bound,
// and what it folds is all there after a reopen without Close or Save.
func TestCheckpointFoldsTheJournalOnceItHasGrown(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "edge.json")
	db, churn := churned(t, path)
	defer db.Close()
	journal := func() int64 {
		st, err := os.Stat(path + ".journal")
		require.NoError(t, err)
		return st.Size()
	}
	grown := journal()
	require.Positive(t, grown)

	require.NoError(t, db.Checkpoint(grown+1))
	assert.Equal(t, grown, journal(), "below the bound the journal stays")
	require.NoError(t, db.Checkpoint(grown))
	assert.Zero(t, journal(), "at the bound it is folded into the snapshot")
	require.NoError(t, db.Checkpoint(1))
	assert.Zero(t, journal())

	_, err := churn.Step()
	require.NoError(t, err)
	want, _ := db.CurrentVersion(ctx)
	again, generated, err := edgesim.Open(path, churnedSpec)
	require.NoError(t, err)
	defer again.Close()
	assert.False(t, generated)
	got, _ := again.CurrentVersion(ctx)
	assert.Equal(t, want, got, "the snapshot and the commit after it")
	for _, k := range db.CustomerKeys() {
		assert.Equal(t, db.Customer(k), again.Customer(k), k)
	}
}

// No lost change (invariant 1): a commit is durable once Update returns. The
// database is reopened from its files without Close or Save, as after kill -9.
func TestCommitsSurviveACrashWithoutSave(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "edge.json")
	db, _ := churned(t, path)
	applied, err := db.Apply(ctx, "podium", "evt-1", nil)
	require.NoError(t, err)
	require.True(t, applied)
	want, _ := db.CurrentVersion(ctx)
	wantKeys := db.CustomerKeys()

	// A torn last line is a commit that never returned: it is ignored.
	f, err := os.OpenFile(path+".journal", os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"commit":999,"vers`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	again, generated, err := edgesim.Open(path, churnedSpec)
	require.NoError(t, err)
	assert.False(t, generated)
	got, _ := again.CurrentVersion(ctx)
	assert.Equal(t, want, got)
	assert.Equal(t, wantKeys, again.CustomerKeys())
	assert.True(t, again.Applied("evt-1"), "the ledger is durable too")
	for _, k := range wantKeys {
		assert.Equal(t, db.Customer(k), again.Customer(k), k)
	}
	require.NoError(t, again.Close())
	require.NoError(t, db.Close())
}

// A restore from a backup takes versions back, as restoring SQL Server does.
func TestRestoreGoesBackToTheBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, _, err := edgesim.Open(filepath.Join(dir, "edge.json"), edgesim.Spec{Seed: 3, Stores: 1, CustomersPerStore: 5})
	require.NoError(t, err)
	defer db.Close()
	backup := filepath.Join(dir, "backup.json")
	require.NoError(t, db.Save(backup))
	before, _ := db.CurrentVersion(ctx)
	_, err = db.Update("", func(tx *edgesim.Tx) error {
		_, err := tx.NewCustomer("001", schemas.Customer{FirstName: "Lost"})
		return err
	})
	require.NoError(t, err)
	require.NoError(t, db.Restore(backup))
	after, _ := db.CurrentVersion(ctx)
	assert.Equal(t, before, after)
	assert.Len(t, db.CustomerKeys(), 5)
}

// The Edge writer's numbering strategies, as the simulator models them: a
// sequence (identity, counter) never hands a number out twice; max hands
// out again the number of a deleted last customer, which is why it is
// only ever a site's explicit choice (docs/edge-access.md, Numbering).
func TestCustomerNumberingStrategies(t *testing.T) {
	for _, tt := range []struct {
		strategy string
		next     string
	}{
		{schemas.NumberCounter, "001-000004"},
		{schemas.NumberIdentity, "001-000004"},
		{schemas.NumberMax, "001-000003"},
	} {
		t.Run(tt.strategy, func(t *testing.T) {
			db := edgesim.New(edgesim.WithCustomerNumbering(tt.strategy))
			var keys []string
			for range 3 {
				_, err := db.Update("", func(tx *edgesim.Tx) error {
					k, err := tx.NewCustomer("001", schemas.Customer{FirstName: "A"})
					keys = append(keys, k)
					return err
				})
				require.NoError(t, err)
			}
			assert.Equal(t, []string{"001-000001", "001-000002", "001-000003"}, keys)
			_, err := db.Update("", func(tx *edgesim.Tx) error { tx.Delete(schemas.EntityCustomer, "001-000003"); return nil })
			require.NoError(t, err)
			var next string
			_, err = db.Update("podium", func(tx *edgesim.Tx) error {
				next, err = tx.NewCustomer("001", schemas.Customer{FirstName: "From Podium"})
				return err
			})
			require.NoError(t, err)
			assert.Equal(t, tt.next, next)
		})
	}
}
