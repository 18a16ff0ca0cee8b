package edgesql

import (
	"context"
	"crypto/rand"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/url"
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
	// reader is capture's connection: a login with only what edge check
	// asks for capture (SELECT and VIEW CHANGE TRACKING on the tables), so
	// the suite proves the least privilege is enough. nil: d.
	reader *DB
}

func (h sqlHarness) Source() capture.ChangeSource {
	if h.reader != nil {
		return h.reader
	}
	return h.d
}

// leastPrivilege makes a login and database user with only the grants
// edge check asks for capture, and returns capture's connection as it.
func leastPrivilege(t *testing.T, d *DB, schema string) *DB {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(os.Getenv(dsnVar))
	if err != nil || u.Scheme != "sqlserver" {
		t.Logf("*** %s is not a sqlserver:// URL: the least-privilege run is SKIPPED", dsnVar)
		return nil
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	login, password := schema+"_reader", "Es-"+hex.EncodeToString(b)+"-x9"
	exec := func(q string) {
		_, err := d.db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	exec(fmt.Sprintf("CREATE LOGIN %s WITH PASSWORD = '%s', CHECK_POLICY = OFF", quote(login), password))
	t.Cleanup(func() { _, _ = d.db.ExecContext(ctx, "DROP LOGIN "+quote(login)) })
	exec(fmt.Sprintf("CREATE USER %s FOR LOGIN %s", quote(login), quote(login)))
	t.Cleanup(func() { _, _ = d.db.ExecContext(ctx, "DROP USER IF EXISTS "+quote(login)) })
	tracked, lookups := d.tables()
	for _, tbl := range append(tracked, lookups...) {
		exec(fmt.Sprintf("GRANT SELECT ON %s TO %s", tbl, quote(login)))
	}
	for _, tbl := range tracked {
		exec(fmt.Sprintf("GRANT VIEW CHANGE TRACKING ON %s TO %s", tbl, quote(login)))
	}
	u.User = url.UserPassword(login, password)
	r, err := Open(ctx, u.String(), d.m, time.Local)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	rep, err := r.Check(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK(), "the least-privilege login lacks:\n%s", rep.Script())
	return r
}

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
		d, schema := openScratch(t)
		return sqlHarness{d: d, t: t, reader: leastPrivilege(t, d, schema)}
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

// one runs one statement in its own transaction and scans what it returns
// (nil: nothing).
func (h sqlHarness) one(ctx context.Context, stmt string, dst any, args ...any) error {
	return h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		if dst == nil {
			_, err := tx.ExecContext(ctx, q(stmt), args...)
			return err
		}
		return tx.QueryRowContext(ctx, q(stmt), args...).Scan(dst)
	})
}

func (h sqlHarness) NewAppointment(ctx context.Context, customerKey string) (string, error) {
	s, id := splitKey(customerKey)
	var appt int64
	err := h.one(ctx, `INSERT INTO {Appointments} ({Appointments.StoreId}, {Appointments.CustomerStoreId}, {Appointments.CustomerId},
 {Appointments.ApptType}, {Appointments.BeginAt}, {Appointments.Status}) OUTPUT inserted.{Appointments.ApptId}
 VALUES (1, @s, @id, 'FOLLOWUP', DATEADD(day, 1, SYSDATETIME()), 'OPEN')`, &appt, sql.Named("s", s), sql.Named("id", id))
	return storeSeqKey(aggKey{1, appt}), err
}

func (h sqlHarness) NewServiceJob(ctx context.Context, customerKey string) (string, error) {
	s, id := splitKey(customerKey)
	err := h.one(ctx, `INSERT INTO {ServiceJobs} ({ServiceJobs.JobStoreId}, {ServiceJobs.SaleNo}, {ServiceJobs.JobNo}, {ServiceJobs.JobType},
 {ServiceJobs.CustomerStoreId}, {ServiceJobs.CustomerId}, {ServiceJobs.DateEntered}, {ServiceJobs.Status})
 VALUES (1, 900, 1, 'REPAIR', @s, @id, SYSDATETIME(), 'NOTREADY')`, nil, sql.Named("s", s), sql.Named("id", id))
	return serviceKey(aggKey{1, 900, 1}), err
}

func (h sqlHarness) SetJobStatus(ctx context.Context, jobKey, status string) error {
	var k [3]int
	_, _ = fmt.Sscanf(jobKey, "%d-%d-%d", &k[0], &k[1], &k[2])
	args := []any{sql.Named("s", k[0]), sql.Named("n", k[1]), sql.Named("j", k[2]), sql.Named("st", status)}
	return h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		if _, err := tx.ExecContext(ctx, q(`INSERT INTO {ServiceJobHistory} ({ServiceJobHistory.JobStoreId}, {ServiceJobHistory.SaleNo},
 {ServiceJobHistory.JobNo}, {ServiceJobHistory.HistSeq}, {ServiceJobHistory.ChangedAt}, {ServiceJobHistory.FromStatus}, {ServiceJobHistory.ToStatus})
 SELECT j.{ServiceJobs.JobStoreId}, j.{ServiceJobs.SaleNo}, j.{ServiceJobs.JobNo},
  (SELECT ISNULL(MAX(h.{ServiceJobHistory.HistSeq}), 0) + 1 FROM {ServiceJobHistory} AS h WHERE h.{ServiceJobHistory.JobStoreId} = @s
    AND h.{ServiceJobHistory.SaleNo} = @n AND h.{ServiceJobHistory.JobNo} = @j),
  SYSDATETIME(), j.{ServiceJobs.Status}, @st
 FROM {ServiceJobs} AS j WHERE j.{ServiceJobs.JobStoreId} = @s AND j.{ServiceJobs.SaleNo} = @n AND j.{ServiceJobs.JobNo} = @j`), args...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, q(`UPDATE {ServiceJobs} SET {ServiceJobs.Status} = @st
 WHERE {ServiceJobs.JobStoreId} = @s AND {ServiceJobs.SaleNo} = @n AND {ServiceJobs.JobNo} = @j`), args...)
		return err
	})
}

func (h sqlHarness) NewItem(ctx context.Context) (string, error) {
	var no int64
	err := h.tx(ctx, func(tx *sql.Tx, q func(string) string) error {
		if err := tx.QueryRowContext(ctx, q("SELECT ISNULL(MAX({Items.StockNo}), 0) + 1 FROM {Items} WITH (UPDLOCK, HOLDLOCK) WHERE {Items.ItemStoreId} = 1 AND {Items.CatId} = 100")).Scan(&no); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, q(`INSERT INTO {Items} ({Items.ItemStoreId}, {Items.CatId}, {Items.StockNo}, {Items.StockType}, {Items.Status},
 {Items.Descr}, {Items.RetailPrice}, {Items.CurrentPrice}, {Items.DateStatusChanged})
 VALUES (1, 100, @n, 'STOCK', 'I', N'Pearl studs', 450.00, 450.00, SYSDATETIME())`), sql.Named("n", no))
		return err
	})
	return itemKey(aggKey{1, 100, no}), err
}

func (h sqlHarness) NewNotification(ctx context.Context, customerKey string) (string, error) {
	s, id := splitKey(customerKey)
	var n int64
	err := h.one(ctx, `INSERT INTO {Notifications} ({Notifications.StoreId}, {Notifications.CustomerStoreId}, {Notifications.CustomerId},
 {Notifications.Channel}, {Notifications.Provider}, {Notifications.ToAddress}, {Notifications.Body}, {Notifications.Status})
 OUTPUT inserted.{Notifications.NotificationId} VALUES (1, @s, @id, 'SMS', 'PODIUM', '+15125550101', N'Your repair is ready', 'QUEUED')`,
		&n, sql.Named("s", s), sql.Named("id", id))
	return storeSeqKey(aggKey{1, n}), err
}

func (h sqlHarness) AddWish(ctx context.Context, customerKey, description string) error {
	s, id := splitKey(customerKey)
	return h.one(ctx, `INSERT INTO {WishListItems} ({WishListItems.CustomerStoreId}, {WishListItems.CustomerId}, {WishListItems.WishKind},
 {WishListItems.ItemDesc}, {WishListItems.DateEntered}) VALUES (@s, @id, 'NONSTOCK', @d, SYSDATETIME())`,
		nil, sql.Named("s", s), sql.Named("id", id), sql.Named("d", description))
}
