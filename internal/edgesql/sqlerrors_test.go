package edgesql

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strings"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
)

// Every transaction the package opens is one go-mssqldb's Conn.BeginTx
// accepts: it refuses ReadOnly outright ("read-only transactions are not
// supported"), and the isolation levels LevelWriteCommitted and
// LevelLinearizable. A read-only snapshot made capture fail at a real
// store's first read.
func TestTransactionsAreOnesGoMssqldbAccepts(t *testing.T) {
	for name, opts := range map[string]sql.TxOptions{"snapshot": snapshotTxOptions, "write": writeTxOptions} {
		assert.False(t, opts.ReadOnly, "%s: go-mssqldb refuses read-only transactions", name)
		assert.NotContains(t, []sql.IsolationLevel{sql.LevelWriteCommitted, sql.LevelLinearizable}, opts.Isolation, name)
	}
	assert.Equal(t, sql.LevelSnapshot, snapshotTxOptions.Isolation, "capture reads each aggregate at one version")
}

// OUTPUT without INTO fails with error 334 on a table with an enabled
// trigger; every OUTPUT writes INTO the table variable scalar declares.
func TestEveryOutputClauseHasInto(t *testing.T) {
	d, err := newDB(nil, schemas.DefaultMapping())
	require.NoError(t, err)
	output := regexp.MustCompile(`(?is)OUTPUT\s+inserted\.\S+(\s+INTO)?`)
	n := 0
	for name, q := range d.sql {
		for _, m := range output.FindAllStringSubmatch(q, -1) {
			n++
			assert.NotEmpty(t, m[1], "%s: %s", name, m[0])
		}
	}
	assert.Positive(t, n)
}

// What SQL Server refuses for good is dead-lettered with the reason; a
// write that lost a race is tried again inside the writer, and a duplicate
// key that persists is refused.
func TestSQLErrorsAreClassified(t *testing.T) {
	for _, tt := range []struct {
		number    int32
		permanent bool
		race      bool
	}{
		{334, true, false}, {208, true, false}, {207, true, false}, {229, true, false}, {544, true, false}, {242, true, false},
		{515, true, false}, {547, true, false}, {2627, true, true}, {2601, true, true},
		{1205, false, true}, {3960, false, true}, {3961, false, true}, {4060, false, false},
	} {
		err := classifySQL(mssql.Error{Number: tt.number, Message: "m"})
		var p interface{ Permanent() bool }
		assert.Equal(t, tt.permanent, errors.As(err, &p) && p.Permanent(), "error %d", tt.number)
		assert.Equal(t, tt.race, raced[tt.number], "error %d", tt.number)
	}

	calls := 0
	err := retryRaces(context.Background(), func() error {
		if calls++; calls < 3 {
			return mssql.Error{Number: 1205, Message: "deadlock victim"}
		}
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 3, calls, "a deadlock victim is tried again at once")

	calls = 0
	err = retryRaces(context.Background(), func() error { calls++; return mssql.Error{Number: 2627, Message: "duplicate key"} })
	assert.Equal(t, raceAttempts, calls, "a duplicate that persists is not a race")
	var p interface{ Permanent() bool }
	assert.True(t, errors.As(classifySQL(err), &p))

	calls = 0
	err = retryRaces(context.Background(), func() error { calls++; return mssql.Error{Number: 208, Message: "Invalid object name"} })
	assert.Equal(t, 1, calls, "a refusal is not retried")
	assert.ErrorContains(t, classifySQL(err), "a table the mapping names does not exist")
}

// A snapshot page orders by the key columns themselves, so each page is a
// seek on the primary key; ordered by a CAST, SQL Server sorted the rest
// of the table for every page.
func TestSnapshotPagesFollowThePrimaryKey(t *testing.T) {
	d, err := newDB(nil, schemas.DefaultMapping())
	require.NoError(t, err)
	page := d.sql["item.page"]
	assert.Contains(t, page, "SELECT DISTINCT TOP (@n) t.[ItemStoreId] AS k0, t.[CatId] AS k1, t.[StockNo] AS k2 FROM [dbo].[Items] AS t")
	assert.True(t, strings.HasSuffix(page, "ORDER BY t.[ItemStoreId], t.[CatId], t.[StockNo]"), page)
	for _, e := range schemas.Entities {
		assert.NotContains(t, d.sql[string(e)+".page"], "CAST(t.", e)
	}
}
