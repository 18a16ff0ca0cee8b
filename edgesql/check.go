package edgesql

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// Report says what Change Tracking set-up the database lacks.
type Report struct {
	Database          string
	Login             string
	DatabaseTracking  bool     // ALTER DATABASE ... SET CHANGE_TRACKING = ON
	SnapshotIsolation bool     // ALTER DATABASE ... SET ALLOW_SNAPSHOT_ISOLATION ON
	MissingTables     []string // tables without change tracking
	MissingObjects    []string // mapped tables that do not exist
	MissingGrants     []string // "SELECT ON [dbo].[Customers]", "VIEW CHANGE TRACKING ON ..."
	RetentionDays     int      // database change retention, when on
	// OwnTables holds the statements creating edgesync's ledger and links
	// when they are missing (the Edge writer needs them; capture does not).
	OwnTables []string
}

// OK reports whether capture can run.
func (r Report) OK() bool {
	return r.DatabaseTracking && r.SnapshotIsolation && len(r.MissingTables) == 0 && len(r.MissingObjects) == 0 && len(r.MissingGrants) == 0
}

// Script is the exact T-SQL a DBA runs to give edgesync what it lacks.
func (r Report) Script() string {
	var b strings.Builder
	db := quote(r.Database)
	if !r.SnapshotIsolation {
		fmt.Fprintf(&b, "ALTER DATABASE %s SET ALLOW_SNAPSHOT_ISOLATION ON;\n", db)
	}
	if !r.DatabaseTracking {
		fmt.Fprintf(&b, "ALTER DATABASE %s SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 3 DAYS, AUTO_CLEANUP = ON);\n", db)
	}
	for _, t := range r.MissingTables {
		fmt.Fprintf(&b, "ALTER TABLE %s ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = OFF);\n", t)
	}
	for _, g := range r.MissingGrants {
		fmt.Fprintf(&b, "GRANT %s TO %s;\n", g, quote(r.Login))
	}
	for _, o := range r.MissingObjects {
		fmt.Fprintf(&b, "-- table %s does not exist: fix the edge mapping file (--edge-mapping)\n", o)
	}
	for _, s := range r.OwnTables {
		fmt.Fprintf(&b, "%s;\n", s)
	}
	return b.String()
}

// tables lists the physical names of every table edgesync reads, tracked
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

// Check reads the database's Change Tracking set-up and the login's
// permissions. It changes nothing.
func (d *DB) Check(ctx context.Context) (Report, error) {
	var r Report
	var snap int
	if err := d.db.QueryRowContext(ctx, "SELECT DB_NAME(), ORIGINAL_LOGIN(), snapshot_isolation_state FROM sys.databases WHERE database_id = DB_ID()").
		Scan(&r.Database, &r.Login, &snap); err != nil {
		return r, fmt.Errorf("check database: %w", err)
	}
	r.SnapshotIsolation = snap == 1
	var retention sql.NullInt64
	var units sql.NullString
	err := d.db.QueryRowContext(ctx, "SELECT retention_period, retention_period_units_desc FROM sys.change_tracking_databases WHERE database_id = DB_ID()").
		Scan(&retention, &units)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return r, fmt.Errorf("check database change tracking (the login needs VIEW DATABASE STATE): %w", err)
	default:
		r.DatabaseTracking = true
		r.RetentionDays = retentionDays(retention.Int64, units.String)
	}
	tracked, lookups := d.tables()
	for _, t := range append(tracked, lookups...) {
		var id sql.NullInt64
		if err := d.db.QueryRowContext(ctx, "SELECT OBJECT_ID(@t)", sql.Named("t", t)).Scan(&id); err != nil {
			return r, fmt.Errorf("check table %s: %w", t, err)
		}
		if !id.Valid {
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
		if !contains(lookups, t) {
			var on int
			if err := d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sys.change_tracking_tables WHERE object_id = OBJECT_ID(@t)", sql.Named("t", t)).Scan(&on); err != nil {
				return r, fmt.Errorf("check change tracking on %s: %w", t, err)
			}
			if on == 0 {
				r.MissingTables = append(r.MissingTables, t)
			}
			if canView.Int64 != 1 {
				r.MissingGrants = append(r.MissingGrants, "VIEW CHANGE TRACKING ON "+t)
			}
		}
	}
	var ledger, links sql.NullInt64
	if err := d.db.QueryRowContext(ctx, "SELECT OBJECT_ID(@a), OBJECT_ID(@b)", sql.Named("a", d.own("AppliedEvents")), sql.Named("b", d.own("Links"))).
		Scan(&ledger, &links); err != nil {
		return r, fmt.Errorf("check edgesync tables: %w", err)
	}
	if !ledger.Valid || !links.Valid {
		r.OwnTables = d.OwnTablesSQL()
	}
	return r, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
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
		stmts = append(stmts, fmt.Sprintf("ALTER DATABASE %s SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 3 DAYS, AUTO_CLEANUP = ON)", db))
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
