// Package edgesql is edgesync's access to The Edge's SQL Server database, and
// the only package that holds T-SQL. It reads changes with Change Tracking
// (SQL Server Express has it; it has neither SQL Server Agent nor CDC), under
// SNAPSHOT isolation so that each aggregate is read consistently at one
// version. Table and column names come from a schemas.Mapping.
package edgesql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	_ "github.com/microsoft/go-mssqldb" // registers the "sqlserver" driver

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
)

// chunk is how many aggregates one load reads: large enough to amortise a
// round trip, small enough that memory stays flat whatever the table size.
const chunk = 500

// DB is The Edge's database.
type DB struct {
	db   *sql.DB
	m    schemas.Mapping
	sql  map[string]string // expanded queries by name
	defs map[schemas.Entity]entityDef
	// zone is the store's time zone, in which The Edge's datetime columns
	// hold their wall clock (times.go).
	zone *time.Location
}

// Open connects to SQL Server with a go-mssqldb DSN
// ("sqlserver://user:password@host?database=Edge"); zone is the time zone
// The Edge's clock runs in (the store server's). Errors never repeat the
// DSN, which may hold a password.
func Open(ctx context.Context, dsn string, m schemas.Mapping, zone *time.Location) (*DB, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if zone == nil {
		return nil, errors.New("open edge database: the store's time zone is required (The Edge writes local time)")
	}
	conn, err := sql.Open("sqlserver", dsn)
	if err != nil {
		return nil, errors.New("open edge database: the DSN is not valid (want sqlserver://user:password@host?database=name)")
	}
	d, err := newDB(conn, m)
	if err != nil {
		conn.Close()
		return nil, err
	}
	d.zone = zone
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to edge database: %w", err)
	}
	return d, nil
}

// newDB expands every query through the mapping, so a mapping that lacks a
// name fails here and not in the middle of a capture.
func newDB(conn *sql.DB, m schemas.Mapping) (*DB, error) {
	d := &DB{db: conn, m: m, sql: make(map[string]string), defs: make(map[schemas.Entity]entityDef), zone: time.UTC}
	add := func(name, tmpl string) error {
		q, err := expand(m, tmpl)
		if err != nil {
			return fmt.Errorf("edge query %s: %w", name, err)
		}
		d.sql[name] = q
		return nil
	}
	for _, set := range []map[string]string{loadSQL, writeSQL} {
		for name, tmpl := range set {
			if err := add(name, tmpl); err != nil {
				return nil, err
			}
		}
	}
	for _, def := range entities {
		e := string(def.entity)
		for name, tmpl := range map[string]string{e + ".changes": def.changesSQL(), e + ".versions": def.versionsSQL(), e + ".page": def.page} {
			if err := add(name, tmpl); err != nil {
				return nil, err
			}
		}
		d.defs[def.entity] = def
	}
	if c := m.Counters; c.Table != "" {
		// The counter strategy's statement: the counter's next number,
		// taken and kept in one statement.
		d.sql["write.counter"] = fmt.Sprintf("DECLARE @c TABLE (v bigint);\nUPDATE %s.%s SET %s = %s + 1 OUTPUT inserted.%s INTO @c WHERE %s = @n;\nSELECT v FROM @c;",
			quote(m.Schema), quote(c.Table), quote(c.Value), quote(c.Value), quote(c.Value), quote(c.Name))
	}
	for name, q := range d.sql {
		for n := 2; n <= 3; n++ {
			q = strings.ReplaceAll(q, keysMarker(n), keysTable(n))
		}
		d.sql[name] = q
	}
	return d, nil
}

// Mapping is the site's mapping the database was opened with.
func (d *DB) Mapping() schemas.Mapping { return d.m }

// Close closes the connection pool.
func (d *DB) Close() error { return d.db.Close() }

// CurrentVersion implements capture.ChangeSource.
func (d *DB) CurrentVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	if err := d.db.QueryRowContext(ctx, "SELECT CHANGE_TRACKING_CURRENT_VERSION()").Scan(&v); err != nil {
		return 0, fmt.Errorf("read change tracking version: %w", err)
	}
	if !v.Valid {
		return 0, errors.New("change tracking is not enabled on the database: run `edgesync edge check`")
	}
	return v.Int64, nil
}

// MinValidVersion implements capture.ChangeSource: the highest minimum valid
// version over the aggregate's tables.
func (d *DB) MinValidVersion(ctx context.Context, e schemas.Entity) (int64, error) {
	return d.minValid(ctx, d.db, e)
}

func (d *DB) minValid(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, e schemas.Entity) (int64, error) {
	def, ok := d.defs[e]
	if !ok {
		return 0, fmt.Errorf("unknown entity %q", e)
	}
	var max int64
	for _, t := range def.tracked {
		var v sql.NullInt64
		name := tableName(d.m, t.table)
		if err := q.QueryRowContext(ctx, "SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(@t))", sql.Named("t", name)).Scan(&v); err != nil {
			return 0, fmt.Errorf("min valid version of %s: %w", name, err)
		}
		if !v.Valid {
			return 0, fmt.Errorf("change tracking is not enabled on %s: run `edgesync edge check`", name)
		}
		max = maxInt(max, v.Int64)
	}
	return max, nil
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// The transactions the package opens, in one place so a test can check
// them against what go-mssqldb accepts: its Conn.BeginTx answers any
// ReadOnly transaction with "read-only transactions are not supported"
// (mssql.go), so capture's reads could not start at a real store. They
// are read-only by what they run, not by an option.
var (
	// snapshotTxOptions: every read sees the database as of the first.
	snapshotTxOptions = sql.TxOptions{Isolation: sql.LevelSnapshot}
	// writeTxOptions: the Edge writer's one transaction per event.
	writeTxOptions = sql.TxOptions{Isolation: sql.LevelReadCommitted}
)

// snapshotTx starts a SNAPSHOT transaction: every read in it sees the
// database as of its first read.
func (d *DB) snapshotTx(ctx context.Context) (*sql.Tx, error) {
	tx, err := d.db.BeginTx(ctx, &snapshotTxOptions)
	if err != nil {
		return nil, fmt.Errorf("begin snapshot transaction (is ALLOW_SNAPSHOT_ISOLATION on? run `edgesync edge check`): %w", err)
	}
	return tx, nil
}

// Snapshot implements capture.ChangeSource. The version is read before the
// first data read, so the snapshot holds at least every change up to it: a
// change that lands in between is published again by the next cycle, never
// lost.
func (d *DB) Snapshot(ctx context.Context, e schemas.Entity, fn func(capture.Row) error) (int64, error) {
	def, ok := d.defs[e]
	if !ok {
		return 0, fmt.Errorf("unknown entity %q", e)
	}
	tx, err := d.snapshotTx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var at int64
	if err := tx.QueryRowContext(ctx, "SELECT CHANGE_TRACKING_CURRENT_VERSION()").Scan(&at); err != nil {
		return 0, fmt.Errorf("snapshot %s: read version: %w", e, err)
	}
	after := aggKey{-1, -1, -1} // before every key
	for {
		keys, err := d.page(ctx, tx, e, after)
		if err != nil {
			return 0, err
		}
		if len(keys) == 0 {
			break
		}
		versions, err := d.versions(ctx, tx, e, keys)
		if err != nil {
			return 0, err
		}
		data, err := def.load(ctx, d, tx, keyArgs(keys, def.keyLen()))
		if err != nil {
			return 0, fmt.Errorf("snapshot %s: %w", e, err)
		}
		for _, k := range keys {
			agg, ok := data[k]
			if !ok {
				continue
			}
			v := versions[k]
			if err := fn(capture.Row{Entity: e, Key: def.format(k), Version: v.version, Origin: v.origin, Data: agg}); err != nil {
				return 0, err
			}
		}
		after = keys[len(keys)-1]
	}
	return at, tx.Commit()
}

func (d *DB) page(ctx context.Context, q querier, e schemas.Entity, after aggKey) ([]aggKey, error) {
	rows, err := q.QueryContext(ctx, d.sql[string(e)+".page"], sql.Named("n", chunk),
		sql.Named("a0", after[0]), sql.Named("a1", after[1]), sql.Named("a2", after[2]))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: list keys: %w", e, err)
	}
	defer rows.Close()
	var keys []aggKey
	for rows.Next() {
		var k aggKey
		if err := rows.Scan(&k[0], &k[1], &k[2]); err != nil {
			return nil, fmt.Errorf("snapshot %s: list keys: %w", e, err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

type versioned struct {
	version int64
	origin  string
}

func (d *DB) versions(ctx context.Context, q querier, e schemas.Entity, keys []aggKey) (map[aggKey]versioned, error) {
	rows, err := q.QueryContext(ctx, d.sql[string(e)+".versions"], keyArgs(keys, d.defs[e].keyLen())...)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: read versions: %w", e, err)
	}
	defer rows.Close()
	out := make(map[aggKey]versioned, len(keys))
	for rows.Next() {
		var k aggKey
		var v versioned
		var ctxBytes []byte
		if err := rows.Scan(&k[0], &k[1], &k[2], &v.version, &ctxBytes); err != nil {
			return nil, fmt.Errorf("snapshot %s: read versions: %w", e, err)
		}
		v.origin = OriginFromContext(ctxBytes)
		out[k] = v
	}
	return out, rows.Err()
}

// ErrCheckpointTooOld means Change Tracking no longer holds the changes since
// the checkpoint; the caller must take a new snapshot.
var ErrCheckpointTooOld = errors.New("checkpoint is older than the change tracking retention")

type change struct {
	key aggKey
	versioned
}

// Changes implements capture.ChangeSource. Inside one snapshot transaction
// it lists the aggregates changed since `since`, keeps those whose latest
// change is at or below `until` (a later one is reported by the next cycle),
// and reads their state: with no later change visible, that state is exactly
// the one at their version.
func (d *DB) Changes(ctx context.Context, e schemas.Entity, since, until int64, fn func(capture.Row) error) error {
	def, ok := d.defs[e]
	if !ok {
		return fmt.Errorf("unknown entity %q", e)
	}
	tx, err := d.snapshotTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	minValid, err := d.minValid(ctx, tx, e)
	if err != nil {
		return err
	}
	if since < minValid {
		return fmt.Errorf("changes of %s since %d (min valid %d): %w", e, since, minValid, ErrCheckpointTooOld)
	}
	changes, err := d.changed(ctx, tx, e, since, until)
	if err != nil {
		return err
	}
	// Microsoft's advice: check the min valid version again after reading
	// CHANGETABLE, since the cleanup may have run in between and removed
	// changes the list should have held.
	if minValid, err = d.minValid(ctx, tx, e); err != nil {
		return err
	}
	if since < minValid {
		return fmt.Errorf("changes of %s since %d (min valid %d after the read): %w", e, since, minValid, ErrCheckpointTooOld)
	}
	for start := 0; start < len(changes); start += chunk {
		part := changes[start:min(start+chunk, len(changes))]
		keys := make([]aggKey, len(part))
		for i, c := range part {
			keys[i] = c.key
		}
		data, err := def.load(ctx, d, tx, keyArgs(keys, def.keyLen()))
		if err != nil {
			return fmt.Errorf("changes of %s: %w", e, err)
		}
		for _, c := range part {
			agg, live := data[c.key]
			row := capture.Row{Entity: e, Key: def.format(c.key), Version: c.version, Origin: c.origin, Deleted: !live}
			if live {
				row.Data = agg
			}
			if err := fn(row); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// changed reads the change list whole before loading anything: without MARS
// a connection cannot run a query while another's rows are open.
func (d *DB) changed(ctx context.Context, q querier, e schemas.Entity, since, until int64) ([]change, error) {
	rows, err := q.QueryContext(ctx, d.sql[string(e)+".changes"], sql.Named("since", since))
	if err != nil {
		return nil, fmt.Errorf("changes of %s since %d: %w", e, since, err)
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var c change
		var ctxBytes []byte
		if err := rows.Scan(&c.key[0], &c.key[1], &c.key[2], &c.version, &ctxBytes); err != nil {
			return nil, fmt.Errorf("changes of %s: %w", e, err)
		}
		if c.version > until {
			continue
		}
		c.origin = OriginFromContext(ctxBytes)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changes of %s: %w", e, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// contextPrefix marks the Change Tracking context of edgesync's own writes.
const contextPrefix = "edgesync:"

// OriginContext is the CHANGE_TRACKING_CONTEXT value the Edge writer sets on
// writes it makes for partner: capture reads it back as the event's origin.
func OriginContext(partner string) []byte { return []byte(contextPrefix + partner) }

// OriginFromContext returns the partner of an edgesync write, or "" for a
// change made by anything else (Edge itself, other integrations).
func OriginFromContext(b []byte) string {
	if s, ok := strings.CutPrefix(string(b), contextPrefix); ok {
		return s
	}
	return ""
}
