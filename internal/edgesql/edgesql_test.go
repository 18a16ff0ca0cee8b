package edgesql

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
)

// These tests check the T-SQL edgesync generates without a server; the
// conformance suite in conformance_test.go runs it against one.

func TestEveryQueryExpandsWithTheDefaultMapping(t *testing.T) {
	d, err := newDB(nil, schemas.DefaultMapping())
	require.NoError(t, err)
	for name, q := range d.sql {
		assert.NotContains(t, q, "{", name)
	}
	assert.Len(t, d.defs, len(schemas.Entities), "every entity has a definition")

	changes := d.sql["customer.changes"]
	assert.Contains(t, changes, "CHANGETABLE(CHANGES [dbo].[Customers], @since)")
	assert.Contains(t, changes, "CHANGETABLE(CHANGES [dbo].[CustomerContactMethods], @since)")
	assert.Contains(t, changes, "ROW_NUMBER() OVER (PARTITION BY k0, k1, k2 ORDER BY v DESC)")

	versions := d.sql["sale.versions"]
	assert.Contains(t, versions, "CHANGETABLE(VERSION [dbo].[SaleLines], ([SaleStoreId], [SaleNo], [LineNo]), (t.[SaleStoreId], t.[SaleNo], t.[LineNo]))")

	page := d.sql["service.page"]
	assert.Contains(t, page, "(t.[JobStoreId] > @a0 OR (t.[JobStoreId] = @a0 AND t.[SaleNo] > @a1) OR (t.[JobStoreId] = @a0 AND t.[SaleNo] = @a1 AND t.[JobNo] > @a2))")
	assert.Contains(t, d.sql["wishlist.page"], "t.[DateRemoved] IS NULL")
	assert.Contains(t, d.sql["write.field.Key3"], "SET [Key3] = @v")
	assert.Contains(t, d.sql["write.method"], "WHERE NOT EXISTS", "partner contact methods are only ever added")
	assert.Contains(t, d.OwnTablesSQL()[1], "CREATE TABLE [edgesync].[AppliedEvents]")
}

// A site whose Edge database names things differently changes the mapping
// file, not the code.
func TestSiteMappingRenamesTablesAndColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "site.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"schema":"edge","tables":{"Customers":{"table":"Clients","columns":{"FirstName":"GivenName"}}}}`), 0o600))
	m, err := schemas.LoadMapping(path)
	require.NoError(t, err)
	d, err := newDB(nil, m)
	require.NoError(t, err)
	assert.Contains(t, d.sql["customer"], "c.[GivenName]")
	assert.Contains(t, d.sql["customer"], "FROM [edge].[Clients] AS c")
	assert.Contains(t, d.sql["customer.changes"], "CHANGETABLE(CHANGES [edge].[Clients], @since)")

	for body, want := range map[string]string{
		`{"tables":{"Clientz":{}}}`:                                `unknown table "Clientz"`,
		`{"tables":{"Customers":{"columns":{"FirstNam":"x"}}}}`:    `has no column "FirstNam"`,
		`{"tables":{"Customers":{"columns":{"FirstName":"a]b"}}}}`: "not a usable SQL Server name",
		`{"schema": 3}`: "cannot unmarshal",
	} {
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		_, err := schemas.LoadMapping(path)
		assert.ErrorContains(t, err, want, body)
	}
	_, err = schemas.LoadMapping(filepath.Join(t.TempDir(), "missing.json"))
	assert.Error(t, err)
}

func TestExpandRejectsUnknownNames(t *testing.T) {
	_, err := expand(schemas.DefaultMapping(), "SELECT {Customers.Nope} FROM {Nowhere}")
	assert.ErrorContains(t, err, "{Customers.Nope}, {Nowhere}")
}

func TestOriginContext(t *testing.T) {
	assert.Equal(t, "podium", OriginFromContext(OriginContext("podium")))
	assert.Equal(t, "", OriginFromContext(nil))
	assert.Equal(t, "", OriginFromContext([]byte("some other integration")))
}

// Key lists go as VALUES rows of named parameters, not through OPENJSON,
// which needs database compatibility level 130: an ISV database carried
// forward from an older SQL Server often has less. Every list is padded
// to one length, so each query has one text, and stays under SQL
// Server's 2,100 parameters.
func TestKeyListsWorkAtEveryCompatibilityLevel(t *testing.T) {
	d, err := newDB(nil, schemas.DefaultMapping())
	require.NoError(t, err)
	for name, q := range d.sql {
		assert.NotContains(t, strings.ToUpper(q), "OPENJSON", name)
		assert.NotContains(t, q, "#KEYS", name)
	}
	assert.Contains(t, d.sql["customer"], "JOIN (SELECT DISTINCT k0, k1 FROM (VALUES (@k0_0, @k1_0), (@k0_1, @k1_1),")
	assert.Contains(t, d.sql["service.versions"], "(@k0_499, @k1_499, @k2_499)) AS v (k0, k1, k2)) AS k ON t.[JobStoreId] = k.k0")

	args := keyArgs([]aggKey{{1, 652, 0}, {2, 7, 0}}, 2)
	require.Len(t, args, 2*chunk)
	assert.LessOrEqual(t, len(keyArgs([]aggKey{{1, 1, 1}}, 3)), 2100-10, "room for a query's other parameters")
	at := func(i int) sql.NamedArg { return args[i].(sql.NamedArg) }
	assert.Equal(t, sql.Named("k0_0", int64(1)), at(0))
	assert.Equal(t, sql.Named("k1_0", int64(652)), at(1))
	assert.Equal(t, sql.Named("k0_1", int64(2)), at(2))
	assert.Equal(t, sql.Named("k1_1", int64(7)), at(3))
	assert.Equal(t, sql.Named("k1_499", int64(652)), at(len(args)-1), "padded with the first key")
}

func TestKeyFormatsMatchTheSimulator(t *testing.T) {
	assert.Equal(t, "001-000652", storeKey(aggKey{1, 652}))
	assert.Equal(t, "001-126396-002", serviceKey(aggKey{1, 126396, 2}))
	assert.Equal(t, "001-100-05199", itemKey(aggKey{1, 100, 5199}))
	assert.Equal(t, "002-17", storeSeqKey(aggKey{2, 17}))
}

func TestReportScript(t *testing.T) {
	own, _ := newDB(nil, schemas.DefaultMapping())
	r := Report{Database: "Edge", User: "edgesync_user", MissingTables: []string{"[dbo].[Customers]"}, OwnTables: own.OwnTablesSQL(),
		MissingGrants: []string{"VIEW CHANGE TRACKING ON [dbo].[Customers]"}, MissingObjects: []string{"[dbo].[Clients]"},
		Unverified:   []string{"[dbo].[Sales]"},
		KeyProblems:  []string{keyMismatch("[dbo].[Items]", []string{"ItemId"}, []string{"ItemStoreId", "CatId", "StockNo"})},
		WriterGrants: []string{"INSERT ON [dbo].[CustomerActivity]"}}
	script := r.Script()
	for _, want := range []string{
		"ALTER DATABASE [Edge] SET ALLOW_SNAPSHOT_ISOLATION ON;",
		"ALTER DATABASE [Edge] SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 7 DAYS, AUTO_CLEANUP = ON);",
		"ALTER TABLE [dbo].[Customers] ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = OFF);",
		"GRANT VIEW CHANGE TRACKING ON [dbo].[Customers] TO [edgesync_user];", // the database user, not the login
		"-- table [dbo].[Clients] does not exist",
		"-- change tracking on [dbo].[Sales] could not be read with this login", // never said to be off
		"-- [dbo].[Items] has primary key (ItemId) but the edge mapping names (ItemStoreId, CatId, StockNo)",
		"-- for the Edge writer (writer and store roles):\nGRANT INSERT ON [dbo].[CustomerActivity] TO [edgesync_user];",
		"CREATE TABLE [edgesync].[Links]",
	} {
		assert.Contains(t, script, want)
	}
	assert.NotContains(t, script, "ENABLE CHANGE_TRACKING ON [dbo].[Sales]")
	assert.False(t, r.OK())
	assert.False(t, r.WriterOK())
	assert.True(t, Report{DatabaseTracking: true, SnapshotIsolation: true}.OK())
	assert.False(t, Report{DatabaseTracking: true, SnapshotIsolation: true, Unverified: []string{"t"}}.OK(), "unverified is not ready")
	assert.Equal(t, "", keyMismatch("t", []string{"B", "a"}, []string{"A", "b"}), "the same columns in any order")
	assert.Contains(t, keyMismatch("t", nil, []string{"a"}), "has no primary key: Change Tracking needs one")
	assert.Equal(t, 3, retentionDays(72, "HOURS"))
	assert.True(t, strings.HasSuffix(script, "\n"))
}
