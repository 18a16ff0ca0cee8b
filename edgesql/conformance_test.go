package edgesql

import (
	"context"
	"crypto/rand"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/test/edgeconformance"
	"github.com/edgesync/edgesync/writer"
)

//go:embed testdata/proposed-schema.sql
var proposedSchema string

const dsnVar = "EDGESYNC_MSSQL_DSN"

func TestMain(m *testing.M) {
	if os.Getenv(dsnVar) == "" {
		fmt.Fprintf(os.Stderr, "\n*** %s is not set: the SQL Server integration tests of edgesql are SKIPPED. ***\n"+
			"*** Only the simulator ran the Edge conformance suite. Set it to a go-mssqldb DSN of a scratch   ***\n"+
			"*** database (sqlserver://user:pass@host?database=edgesync_test) to run them.                   ***\n\n", dsnVar)
	}
	os.Exit(m.Run())
}

// openScratch connects to the DSN's database, turns Change Tracking and
// snapshot isolation on if it may, and creates the proposed schema in a
// fresh SQL schema that is dropped when the test ends.
func openScratch(t *testing.T) (*DB, string) {
	t.Helper()
	dsn := os.Getenv(dsnVar)
	if dsn == "" {
		t.Skipf("%s is not set: SQL Server integration test SKIPPED", dsnVar)
	}
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "es_" + hex.EncodeToString(b)
	m := schemas.DefaultMapping()
	m.Schema, m.EdgesyncSchema = name, name+"_es"
	// The proposed schema numbers customers and why-ins by no IDENTITY,
	// and nothing else writes to a scratch database.
	m.Numbering["customer"] = schemas.NumberRule{Strategy: schemas.NumberMax}
	m.Numbering["whyin"] = schemas.NumberRule{Strategy: schemas.NumberMax}
	d, err := Open(ctx, dsn, m, time.Local)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })

	exec := func(q string) {
		_, err := d.db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	exec("CREATE SCHEMA " + quote(name))
	for _, stmt := range strings.Split(strings.ReplaceAll(proposedSchema, "{schema}", quote(name)), ";") {
		if s := strings.TrimSpace(stripComments(stmt)); s != "" {
			exec(s)
		}
	}
	t.Cleanup(func() {
		tracked, lookups := d.tables()
		for _, tbl := range append(tracked, lookups...) {
			_, _ = d.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl)
		}
		_, _ = d.db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quote(name))
		_, _ = d.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+d.own("AppliedEvents"))
		_, _ = d.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+d.own("Links"))
		_, _ = d.db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quote(name+"_es"))
	})
	r, err := d.Check(ctx)
	require.NoError(t, err)
	require.NoError(t, d.Enable(ctx, r))
	r, err = d.Check(ctx)
	require.NoError(t, err)
	require.True(t, r.OK(), "after enabling, still missing:\n%s", r.Script())
	return d, name
}

func stripComments(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

type sqlHarness struct {
	d *DB
	t *testing.T
}

func (h sqlHarness) Source() capture.ChangeSource { return h.d }

// tx runs fn in one transaction, marked with origin's Change Tracking
// context when origin is a partner.
func (h sqlHarness) tx(ctx context.Context, fn func(tx *sql.Tx, q func(string) string) error) error {
	tx, err := h.d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	q := func(tmpl string) string {
		s, err := expand(h.d.m, tmpl)
		require.NoError(h.t, err)
		return s
	}
	if err := fn(tx, q); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func splitKey(key string) (int, int) {
	var s, id int
	_, _ = fmt.Sscanf(key, "%d-%d", &s, &id)
	return s, id
}

func (h sqlHarness) NewCustomer(ctx context.Context, store, first, email string) (string, error) {
	var key string
	err := h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		var id int
		if err := tx.QueryRowContext(ctx, q("SELECT ISNULL(MAX({Customers.CustomerId}), 0) + 1 FROM {Customers} WITH (UPDLOCK, HOLDLOCK) WHERE {Customers.CustomerStoreId} = @s"),
			sql.Named("s", store)).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q("INSERT INTO {Customers} ({Customers.CustomerStoreId}, {Customers.CustomerId}, {Customers.FirstName}, {Customers.SyncEnabled}) VALUES (@s, @id, @f, 1)"),
			sql.Named("s", store), sql.Named("id", id), sql.Named("f", first)); err != nil {
			return err
		}
		var s int
		_, _ = fmt.Sscanf(store, "%d", &s)
		key = custKey(int64(s), int64(id))
		return h.insertEmail(ctx, tx, q, key, email, true)
	})
	return key, err
}

func (h sqlHarness) insertEmail(ctx context.Context, tx *sql.Tx, q func(string) string, key, email string, preferred bool) error {
	s, id := splitKey(key)
	_, err := tx.ExecContext(ctx, q(`INSERT INTO {CustomerContactMethods} ({CustomerContactMethods.CustomerStoreId}, {CustomerContactMethods.CustomerId},
 {CustomerContactMethods.Method}, {CustomerContactMethods.PhoneOrEmail}, {CustomerContactMethods.IsPreferred}) VALUES (@s, @id, 'EMAIL', @e, @p)`),
		sql.Named("s", s), sql.Named("id", id), sql.Named("e", email), sql.Named("p", preferred))
	return err
}

func (h sqlHarness) AddEmail(ctx context.Context, key, email, origin string) error {
	return h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		s, id := splitKey(key)
		stmt := q(`INSERT INTO {CustomerContactMethods} ({CustomerContactMethods.CustomerStoreId}, {CustomerContactMethods.CustomerId},
 {CustomerContactMethods.Method}, {CustomerContactMethods.PhoneOrEmail}, {CustomerContactMethods.IsPreferred}) VALUES (@s, @id, 'EMAIL', @e, 0)`)
		args := []any{sql.Named("s", s), sql.Named("id", id), sql.Named("e", email)}
		if origin != "" {
			stmt = "WITH CHANGE_TRACKING_CONTEXT (@ctx) " + stmt
			args = append(args, sql.Named("ctx", OriginContext(origin)))
		}
		_, err := tx.ExecContext(ctx, stmt, args...)
		return err
	})
}

func (h sqlHarness) NewSale(ctx context.Context, customerKey string, lines int) (string, error) {
	cs, cid := splitKey(customerKey)
	var key string
	err := h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		var no int
		if err := tx.QueryRowContext(ctx, q("SELECT ISNULL(MAX({Sales.SaleNo}), 0) + 1 FROM {Sales} WITH (UPDLOCK, HOLDLOCK) WHERE {Sales.SaleStoreId} = @s"),
			sql.Named("s", cs)).Scan(&no); err != nil {
			return err
		}
		total := fmt.Sprintf("%d.00", 100*lines)
		if _, err := tx.ExecContext(ctx, q(`INSERT INTO {Sales} ({Sales.SaleStoreId}, {Sales.SaleNo}, {Sales.SaleDate}, {Sales.CustomerStoreId},
 {Sales.CustomerId}, {Sales.Subtotal}, {Sales.TaxTotal}, {Sales.Total}) VALUES (@s, @n, SYSDATETIME(), @s, @c, @t, 0, @t)`),
			sql.Named("s", cs), sql.Named("n", no), sql.Named("c", cid), sql.Named("t", total)); err != nil {
			return err
		}
		key = storeKey(aggKey{int64(cs), int64(no)})
		for i := range lines {
			if err := h.insertLine(ctx, tx, q, cs, no, i+1); err != nil {
				return err
			}
		}
		return nil
	})
	return key, err
}

func (h sqlHarness) insertLine(ctx context.Context, tx *sql.Tx, q func(string) string, store, sale, line int) error {
	_, err := tx.ExecContext(ctx, q(`INSERT INTO {SaleLines} ({SaleLines.SaleStoreId}, {SaleLines.SaleNo}, {SaleLines.LineNo}, {SaleLines.LineType},
 {SaleLines.Qty}, {SaleLines.Amount}) VALUES (@s, @n, @l, 'MERCH', 1, 100.00)`),
		sql.Named("s", store), sql.Named("n", sale), sql.Named("l", line))
	return err
}

func (h sqlHarness) AddSaleLine(ctx context.Context, saleKey string) error {
	s, no := splitKey(saleKey)
	return h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		var line int
		if err := tx.QueryRowContext(ctx, q("SELECT ISNULL(MAX({SaleLines.LineNo}), 0) + 1 FROM {SaleLines} WHERE {SaleLines.SaleStoreId} = @s AND {SaleLines.SaleNo} = @n"),
			sql.Named("s", s), sql.Named("n", no)).Scan(&line); err != nil {
			return err
		}
		return h.insertLine(ctx, tx, q, s, no, line)
	})
}

func (h sqlHarness) update(ctx context.Context, key, set string, arg any) error {
	s, id := splitKey(key)
	return h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		_, err := tx.ExecContext(ctx, q("UPDATE {Customers} SET "+set+" = @v WHERE {Customers.CustomerStoreId} = @s AND {Customers.CustomerId} = @id"),
			sql.Named("v", arg), sql.Named("s", s), sql.Named("id", id))
		return err
	})
}

func (h sqlHarness) Rename(ctx context.Context, key, first string) error {
	return h.update(ctx, key, "{Customers.FirstName}", first)
}

func (h sqlHarness) Inactivate(ctx context.Context, key string) error {
	return h.update(ctx, key, "{Customers.Inactive}", true)
}

func (h sqlHarness) AddNote(ctx context.Context, customerKey, text, origin string) (string, error) {
	s, id := splitKey(customerKey)
	var key string
	err := h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		stmt := q(`INSERT INTO {CustomerNotes} ({CustomerNotes.CustomerStoreId}, {CustomerNotes.CustomerId}, {CustomerNotes.NoteText})
 OUTPUT inserted.{CustomerNotes.NoteId} VALUES (@s, @id, @t)`)
		args := []any{sql.Named("s", s), sql.Named("id", id), sql.Named("t", text)}
		if origin != "" {
			stmt = "WITH CHANGE_TRACKING_CONTEXT (@ctx) " + stmt
			args = append(args, sql.Named("ctx", OriginContext(origin)))
		}
		var noteID int64
		if err := tx.QueryRowContext(ctx, stmt, args...).Scan(&noteID); err != nil {
			return err
		}
		key = storeSeqKey(aggKey{int64(s), noteID})
		return nil
	})
	return key, err
}

func (h sqlHarness) DeleteNote(ctx context.Context, key string) error {
	s, id := splitKey(key)
	return h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		_, err := tx.ExecContext(ctx, q("DELETE FROM {CustomerNotes} WHERE {CustomerNotes.CustomerStoreId} = @s AND {CustomerNotes.NoteId} = @id"),
			sql.Named("s", s), sql.Named("id", id))
		return err
	})
}

// ExpireChanges turns Change Tracking off and on again on every table: the
// minimum valid version jumps to now, as after retention cleanup.
func (h sqlHarness) ExpireChanges(ctx context.Context) error {
	tracked, _ := h.d.tables()
	for _, t := range tracked {
		for _, s := range []string{"ALTER TABLE " + t + " DISABLE CHANGE_TRACKING", "ALTER TABLE " + t + " ENABLE CHANGE_TRACKING"} {
			if _, err := h.d.db.ExecContext(ctx, s); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestConformanceSQLServer(t *testing.T) {
	edgeconformance.Run(t, func(t *testing.T) edgeconformance.Harness {
		d, _ := openScratch(t)
		return sqlHarness{d: d, t: t}
	})
}

func (h sqlHarness) Writer() writer.EdgeStore { return h.d }

func TestWriterConformanceSQLServer(t *testing.T) {
	edgeconformance.RunWriter(t, func(t *testing.T) edgeconformance.WriterHarness {
		d, _ := openScratch(t)
		return sqlHarness{d: d, t: t}
	})
}

func TestCheckReportsWhatIsMissing(t *testing.T) {
	d, _ := openScratch(t)
	ctx := context.Background()
	tracked, _ := d.tables()
	_, err := d.db.ExecContext(ctx, "ALTER TABLE "+tracked[0]+" DISABLE CHANGE_TRACKING")
	require.NoError(t, err)
	r, err := d.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{tracked[0]}, r.MissingTables)
	require.Contains(t, r.Script(), "ALTER TABLE "+tracked[0]+" ENABLE CHANGE_TRACKING")
}
