package edgesql

import (
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

func TestKeysJSON(t *testing.T) {
	assert.Equal(t, "[[1,652],[2,7]]", keysJSON([]aggKey{{1, 652, 0}, {2, 7, 0}}, 2))
	assert.Equal(t, "[[1,126396,2]]", keysJSON([]aggKey{{1, 126396, 2}}, 3))
}

func TestKeyFormatsMatchTheSimulator(t *testing.T) {
	assert.Equal(t, "001-000652", storeKey(aggKey{1, 652}))
	assert.Equal(t, "001-126396-002", serviceKey(aggKey{1, 126396, 2}))
	assert.Equal(t, "001-100-05199", itemKey(aggKey{1, 100, 5199}))
	assert.Equal(t, "002-17", storeSeqKey(aggKey{2, 17}))
}

func TestReportScript(t *testing.T) {
	own, _ := newDB(nil, schemas.DefaultMapping())
	r := Report{Database: "Edge", Login: "edgesync", MissingTables: []string{"[dbo].[Customers]"}, OwnTables: own.OwnTablesSQL(),
		MissingGrants: []string{"VIEW CHANGE TRACKING ON [dbo].[Customers]"}, MissingObjects: []string{"[dbo].[Clients]"}}
	script := r.Script()
	for _, want := range []string{
		"ALTER DATABASE [Edge] SET ALLOW_SNAPSHOT_ISOLATION ON;",
		"ALTER DATABASE [Edge] SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 3 DAYS, AUTO_CLEANUP = ON);",
		"ALTER TABLE [dbo].[Customers] ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = OFF);",
		"GRANT VIEW CHANGE TRACKING ON [dbo].[Customers] TO [edgesync];",
		"-- table [dbo].[Clients] does not exist",
		"CREATE TABLE [edgesync].[Links]",
	} {
		assert.Contains(t, script, want)
	}
	assert.False(t, r.OK())
	assert.True(t, Report{DatabaseTracking: true, SnapshotIsolation: true}.OK())
	assert.Equal(t, 3, retentionDays(72, "HOURS"))
	assert.True(t, strings.HasSuffix(script, "\n"))
}
