package edgesql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/edgesync/edgesync/schemas"
)

// Report says what the database lacks for capture and for the Edge writer.
type Report struct {
	Database string
	// User is the database user the login maps to: grants go to it, not to
	// the login (GRANT ... TO names a database principal).
	User string
	// CompatibilityLevel is the database's; edgesync uses nothing that
	// needs more than SQL Server 2008's 100, so it is only reported.
	CompatibilityLevel int
	DatabaseTracking   bool     // CHANGE_TRACKING_CURRENT_VERSION() is not NULL
	SnapshotIsolation  bool     // ALTER DATABASE ... SET ALLOW_SNAPSHOT_ISOLATION ON
	MissingTables      []string // tables without change tracking
	MissingObjects     []string // mapped tables that do not exist
	MissingGrants      []string // "SELECT ON [dbo].[Customers]", "VIEW CHANGE TRACKING ON ..."
	// Unverified are tables whose change tracking the login cannot see
	// (metadata is visible only with a permission on the table): checked
	// again once the grants are there, never reported as off.
	Unverified []string
	// KeyProblems are tracked tables whose primary key is not the one the
	// mapping names: CHANGETABLE(VERSION ...) needs exactly its columns,
	// and ENABLE CHANGE_TRACKING needs a primary key at all.
	KeyProblems []string
	// RetentionDays is the change retention; -1 when the login cannot see
	// sys.change_tracking_databases (VIEW DATABASE STATE).
	RetentionDays int
	// WriterGrants are the permissions the Edge writer lacks (writer and
	// store roles); capture does not need them.
	WriterGrants []string
	// WriterMissing are tables only the writer uses that do not exist.
	WriterMissing []string
	// OwnTables holds the statements creating edgesync's ledger and links
	// when they are missing (the Edge writer needs them; capture does not).
	OwnTables []string
	// Numbering says, per sequence the writer numbers, whether its column
	// is IDENTITY and what the mapping chooses: the installer's evidence
	// for choosing (docs/edge-access.md, Numbering).
	Numbering []string
}

// OK reports whether capture can run.
func (r Report) OK() bool {
	return r.DatabaseTracking && r.SnapshotIsolation && len(r.MissingTables) == 0 && len(r.MissingObjects) == 0 &&
		len(r.MissingGrants) == 0 && len(r.Unverified) == 0 && len(r.KeyProblems) == 0
}

// WriterOK reports whether the Edge writer can run.
func (r Report) WriterOK() bool {
	return len(r.WriterGrants) == 0 && len(r.WriterMissing) == 0 && len(r.OwnTables) == 0
}

// Script is the exact T-SQL a DBA runs to give edgesync what it lacks,
// with a comment for what only a person can fix.
func (r Report) Script() string {
	var b strings.Builder
	db := quote(r.Database)
	if !r.SnapshotIsolation {
		fmt.Fprintf(&b, "ALTER DATABASE %s SET ALLOW_SNAPSHOT_ISOLATION ON;\n", db)
	}
	if !r.DatabaseTracking {
		fmt.Fprintf(&b, "ALTER DATABASE %s SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 7 DAYS, AUTO_CLEANUP = ON);\n", db)
	}
	for _, t := range r.MissingTables {
		fmt.Fprintf(&b, "ALTER TABLE %s ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = OFF);\n", t)
	}
	for _, g := range r.MissingGrants {
		fmt.Fprintf(&b, "GRANT %s TO %s;\n", g, quote(r.User))
	}
	for _, o := range r.MissingObjects {
		fmt.Fprintf(&b, "-- table %s does not exist: fix the edge mapping file (--edge-mapping)\n", o)
	}
	for _, k := range r.KeyProblems {
		fmt.Fprintf(&b, "-- %s\n", k)
	}
	for _, t := range r.Unverified {
		fmt.Fprintf(&b, "-- change tracking on %s could not be read with this login: run `edgesync edge check` again after the grants\n", t)
	}
	if len(r.WriterGrants) > 0 || len(r.WriterMissing) > 0 || len(r.OwnTables) > 0 {
		b.WriteString("-- for the Edge writer (writer and store roles):\n")
	}
	for _, g := range r.WriterGrants {
		fmt.Fprintf(&b, "GRANT %s TO %s;\n", g, quote(r.User))
	}
	for _, o := range r.WriterMissing {
		fmt.Fprintf(&b, "-- table %s does not exist: the writer records partner activity there; fix the edge mapping file\n", o)
	}
	for _, s := range r.OwnTables {
		fmt.Fprintf(&b, "%s;\n", s)
	}
	for _, n := range r.Numbering {
		fmt.Fprintf(&b, "-- numbering: %s\n", n)
	}
	return b.String()
}

// numberColumns are the columns the writer's sequences number.
var numberColumns = map[string][2]string{
	"customer": {"Customers", "CustomerId"}, "whyin": {"WhyIns", "WhyInId"},
	"note": {"CustomerNotes", "NoteId"}, "wish": {"WishListItems", "WishId"},
}

// numberingAdvice says of one sequence what its column is and what the
// mapping chooses.
func numberingAdvice(seq, column string, identity bool, rule schemas.NumberRule, chosen bool) string {
	is := "is not IDENTITY: choose counter (if The Edge numbers from a counter table) or, only if nothing else numbers it, max"
	if identity {
		is = "is IDENTITY: choose identity"
	}
	choice := "the mapping chooses none: the writer will not start"
	if chosen {
		choice = "the mapping chooses " + rule.Strategy
		if identity != (rule.Strategy == schemas.NumberIdentity) {
			choice += ", which does not fit"
		}
	}
	return fmt.Sprintf("%s: %s %s; %s", seq, column, is, choice)
}

// tables lists the physical names of every table capture reads, tracked
// ones first.
func (d *DB) tables() (trackedTables, lookups []string) {
	seen := map[string]bool{}
	for _, def := range entities {
		for _, t := range def.tracked {
			if n := tableName(d.m, t.table); !seen[n] {
				seen[n] = true
				trackedTables = append(trackedTables, n)
			}
		}
	}
	for _, t := range []string{"Customers", "WhyIns", "Categories"} {
		if n := tableName(d.m, t); !seen[n] {
			seen[n] = true
			lookups = append(lookups, n)
		}
	}
	sort.Strings(trackedTables)
	return trackedTables, lookups
}

// writerPerms are the permissions the Edge writer's statements need, by
// logical table (writeSQL).
var writerPerms = []struct {
	table string
	perms []string
}{
	{"Customers", []string{"SELECT", "INSERT", "UPDATE"}},
	{"CustomerContactMethods", []string{"SELECT", "INSERT"}},
	{"WhyIns", []string{"SELECT", "INSERT"}},
	{"CustomerNotes", []string{"SELECT", "INSERT", "UPDATE"}},
	{"WishListItems", []string{"SELECT", "INSERT", "UPDATE"}},
	{"Notifications", []string{"UPDATE"}},
	{"CustomerActivity", []string{"INSERT"}},
}

// primaryKeys lists the physical primary-key columns each tracked table
// must have, as the mapping names them.
func (d *DB) primaryKeys() map[string][]string {
	out := map[string][]string{}
	for _, def := range entities {
		for _, t := range def.tracked {
			var cols []string
			for _, c := range t.pk {
				cols = append(cols, d.m.Tables[t.table].Columns[c])
			}
			out[tableName(d.m, t.table)] = cols
		}
	}
	return out
}

// Check reads the database's set-up and the login's permissions. It
// changes nothing.
func (d *DB) Check(ctx context.Context) (Report, error) {
	r := Report{RetentionDays: -1}
	var snap int
	if err := d.db.QueryRowContext(ctx, "SELECT DB_NAME(), USER_NAME(), snapshot_isolation_state, compatibility_level FROM sys.databases WHERE database_id = DB_ID()").
		Scan(&r.Database, &r.User, &snap, &r.CompatibilityLevel); err != nil {
		return r, fmt.Errorf("check database: %w", err)
	}
	r.SnapshotIsolation = snap == 1
	// The current version is NULL only when the database does not track
	// changes; sys.change_tracking_databases would hide its row from a
	// login without VIEW DATABASE STATE, and read as "off".
	var cur sql.NullInt64
	if err := d.db.QueryRowContext(ctx, "SELECT CHANGE_TRACKING_CURRENT_VERSION()").Scan(&cur); err != nil {
		return r, fmt.Errorf("check database change tracking: %w", err)
	}
	r.DatabaseTracking = cur.Valid
	var retention sql.NullInt64
	var units sql.NullString
	err := d.db.QueryRowContext(ctx, "SELECT retention_period, retention_period_units_desc FROM sys.change_tracking_databases WHERE database_id = DB_ID()").
		Scan(&retention, &units)
	switch {
	case errors.Is(err, sql.ErrNoRows): // tracking off, or hidden from this login
	case err != nil:
		return r, fmt.Errorf("check database change retention: %w", err)
	default:
		r.RetentionDays = retentionDays(retention.Int64, units.String)
	}
	tracked, lookups := d.tables()
	keys := d.primaryKeys()
	for _, t := range append(tracked, lookups...) {
		exists, err := d.exists(ctx, t)
		if err != nil {
			return r, err
		}
		if !exists {
			r.MissingObjects = append(r.MissingObjects, t)
			continue
		}
		var canSelect, canView sql.NullInt64
		if err := d.db.QueryRowContext(ctx, "SELECT HAS_PERMS_BY_NAME(@t, 'OBJECT', 'SELECT'), HAS_PERMS_BY_NAME(@t, 'OBJECT', 'VIEW CHANGE TRACKING')", sql.Named("t", t)).
			Scan(&canSelect, &canView); err != nil {
			return r, fmt.Errorf("check permissions on %s: %w", t, err)
		}
		if canSelect.Int64 != 1 {
			r.MissingGrants = append(r.MissingGrants, "SELECT ON "+t)
		}
		if slices.Contains(lookups, t) {
			continue
		}
		if canView.Int64 != 1 {
			r.MissingGrants = append(r.MissingGrants, "VIEW CHANGE TRACKING ON "+t)
		}
		if canSelect.Int64 != 1 && canView.Int64 != 1 {
			// Its metadata is hidden from this login: nothing below
			// could be told from "not there".
			r.Unverified = append(r.Unverified, t)
			continue
		}
		var on int
		if err := d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sys.change_tracking_tables WHERE object_id = OBJECT_ID(@t)", sql.Named("t", t)).Scan(&on); err != nil {
			return r, fmt.Errorf("check change tracking on %s: %w", t, err)
		}
		if on == 0 {
			r.MissingTables = append(r.MissingTables, t)
		}
		if p, err := d.keyProblem(ctx, t, keys[t]); err != nil {
			return r, err
		} else if p != "" {
			r.KeyProblems = append(r.KeyProblems, p)
		}
	}
	if err := d.checkWriter(ctx, &r); err != nil {
		return r, err
	}
	return r, nil
}

func (d *DB) exists(ctx context.Context, table string) (bool, error) {
	var id sql.NullInt64
	if err := d.db.QueryRowContext(ctx, "SELECT OBJECT_ID(@t)", sql.Named("t", table)).Scan(&id); err != nil {
		return false, fmt.Errorf("check table %s: %w", table, err)
	}
	return id.Valid, nil
}

// keyProblem compares a table's primary key with the columns the mapping
// says it has, in any order; "" when they agree.
func (d *DB) keyProblem(ctx context.Context, table string, want []string) (string, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT c.name FROM sys.indexes AS i
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.object_id = OBJECT_ID(@t) AND i.is_primary_key = 1 ORDER BY ic.key_ordinal`, sql.Named("t", table))
	if err != nil {
		return "", fmt.Errorf("check the primary key of %s: %w", table, err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return "", fmt.Errorf("check the primary key of %s: %w", table, err)
		}
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("check the primary key of %s: %w", table, err)
	}
	return keyMismatch(table, got, want), nil
}

// keyMismatch says how a table's primary key (got) differs from the one
// the mapping names (want); "" when they hold the same columns.
func keyMismatch(table string, got, want []string) string {
	if len(got) == 0 {
		return fmt.Sprintf("%s has no primary key: Change Tracking needs one (the mapping expects (%s))", table, strings.Join(want, ", "))
	}
	g, w := slices.Sorted(slices.Values(lower(got))), slices.Sorted(slices.Values(lower(want)))
	if slices.Equal(g, w) {
		return ""
	}
	return fmt.Sprintf("%s has primary key (%s) but the edge mapping names (%s): fix the mapping's columns (--edge-mapping)",
		table, strings.Join(got, ", "), strings.Join(want, ", "))
}

func lower(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	return out
}

// checkWriter adds what the Edge writer lacks: its tables, its grants,
// edgesync's own tables.
func (d *DB) checkWriter(ctx context.Context, r *Report) error {
	for _, w := range writerPerms {
		t := tableName(d.m, w.table)
		exists, err := d.exists(ctx, t)
		if err != nil {
			return err
		}
		if !exists {
			if !slices.Contains(r.MissingObjects, t) {
				r.WriterMissing = append(r.WriterMissing, t)
			}
			continue
		}
		for _, p := range w.perms {
			var has sql.NullInt64
			if err := d.db.QueryRowContext(ctx, "SELECT HAS_PERMS_BY_NAME(@t, 'OBJECT', @p)", sql.Named("t", t), sql.Named("p", p)).Scan(&has); err != nil {
				return fmt.Errorf("check %s permission on %s: %w", p, t, err)
			}
			if has.Int64 != 1 {
				r.WriterGrants = append(r.WriterGrants, p+" ON "+t)
			}
		}
	}
	for _, seq := range schemas.NumberSequences {
		nc := numberColumns[seq]
		t := tableName(d.m, nc[0])
		col := d.m.Tables[nc[0]].Columns[nc[1]]
		var ident sql.NullInt64
		if err := d.db.QueryRowContext(ctx, "SELECT COLUMNPROPERTY(OBJECT_ID(@t), @c, 'IsIdentity')", sql.Named("t", t), sql.Named("c", col)).Scan(&ident); err != nil {
			return fmt.Errorf("check numbering of %s: %w", t, err)
		}
		rule, chosen := d.m.Numbering[seq]
		r.Numbering = append(r.Numbering, numberingAdvice(seq, t+"."+quote(col), ident.Int64 == 1, rule, chosen))
	}
	var ledger, links sql.NullInt64
	if err := d.db.QueryRowContext(ctx, "SELECT OBJECT_ID(@a), OBJECT_ID(@b)", sql.Named("a", d.own("AppliedEvents")), sql.Named("b", d.own("Links"))).
		Scan(&ledger, &links); err != nil {
		return fmt.Errorf("check edgesync tables: %w", err)
	}
	if !ledger.Valid || !links.Valid {
		r.OwnTables = d.OwnTablesSQL()
	}
	return nil
}

func retentionDays(n int64, units string) int {
	switch strings.ToUpper(units) {
	case "MINUTES":
		return int(n / (24 * 60))
	case "HOURS":
		return int(n / 24)
	}
	return int(n)
}

// Enable runs the part of the report's script that turns Change Tracking and
// snapshot isolation on. It needs ALTER permission on the database; grants
// stay the DBA's decision.
func (d *DB) Enable(ctx context.Context, r Report) error {
	db := quote(r.Database)
	var stmts []string
	if !r.SnapshotIsolation {
		stmts = append(stmts, fmt.Sprintf("ALTER DATABASE %s SET ALLOW_SNAPSHOT_ISOLATION ON", db))
	}
	if !r.DatabaseTracking {
		stmts = append(stmts, fmt.Sprintf("ALTER DATABASE %s SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 7 DAYS, AUTO_CLEANUP = ON)", db))
	}
	for _, t := range r.MissingTables {
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = OFF)", t))
	}
	stmts = append(stmts, r.OwnTables...)
	for _, s := range stmts {
		if _, err := d.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w (ask a DBA to run `edgesync edge check` and the SQL it prints)", s, err)
		}
	}
	return nil
}
