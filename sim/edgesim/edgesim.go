// Package edgesim simulates The Edge's SQL Server database with the semantics
// of SQL Server Change Tracking: every committed transaction gets the next
// change version, Changes reports net changes per aggregate, retention
// cleanup raises the minimum valid version, and snapshots are consistent at
// one version. It implements capture.ChangeSource and serves every test and
// the demo; the SQL Server implementation runs the same conformance suite.
package edgesim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
)

// DB is the simulated Edge database. It is safe for concurrent use.
type DB struct {
	mu        sync.Mutex
	version   int64
	now       func() time.Time
	retention time.Duration // 0 keeps every change
	// customerNumbering is how new customers are numbered (see
	// WithCustomerNumbering).
	customerNumbering string
	commits           []commit       // version and time of each commit still retained
	seq               map[string]int // next number per sequence ("customer/001", "note", ...)

	commitCount int64    // transactions committed, journal records included
	journal     *journal // nil: in memory only
	path        string   // the snapshot the journal belongs to

	// edgesync's own tables: the applied-events ledger, partner links and
	// customer activity entries. Writes to them are part of a transaction.
	ledger     map[string]time.Time
	links      map[string]string // "<partner>/<entity>/<partner id>" -> Edge key
	activities map[string][]Activity

	customers     *table[schemas.Customer]
	wishlists     *table[schemas.WishList]
	notes         *table[schemas.Note]
	sales         *table[schemas.Sale]
	appointments  *table[schemas.Appointment]
	services      *table[schemas.ServiceJob]
	items         *table[schemas.Item]
	notifications *table[schemas.Notification]
}

// Option configures a DB.
type Option func(*DB)

type commit struct {
	version int64
	at      time.Time
}

// WithClock sets the clock that stamps dates; tests pass a fixed one.
func WithClock(now func() time.Time) Option { return func(db *DB) { db.now = now } }

// WithCustomerNumbering numbers new customers the way one of the Edge
// writer's strategies does (schemas.NumberIdentity, NumberCounter,
// NumberMax): identity and counter from a sequence that never goes back,
// max as one more than the highest number the store holds, which hands a
// deleted last customer's number out again. Counter by default.
func WithCustomerNumbering(strategy string) Option {
	return func(db *DB) { db.customerNumbering = strategy }
}

// WithRetention forgets changes older than d at each commit, as Change
// Tracking's auto cleanup does with CHANGE_RETENTION: the min valid version
// advances and a capture that was away longer must take a new snapshot.
func WithRetention(d time.Duration) Option { return func(db *DB) { db.retention = d } }

// New returns an empty database.
func New(opts ...Option) *DB {
	db := &DB{
		now:           time.Now,
		seq:           make(map[string]int),
		ledger:        make(map[string]time.Time),
		links:         make(map[string]string),
		activities:    make(map[string][]Activity),
		customers:     newTable[schemas.Customer](schemas.EntityCustomer),
		wishlists:     newTable[schemas.WishList](schemas.EntityWishList),
		notes:         newTable[schemas.Note](schemas.EntityNote),
		sales:         newTable[schemas.Sale](schemas.EntitySale),
		appointments:  newTable[schemas.Appointment](schemas.EntityAppointment),
		services:      newTable[schemas.ServiceJob](schemas.EntityService),
		items:         newTable[schemas.Item](schemas.EntityItem),
		notifications: newTable[schemas.Notification](schemas.EntityNotification),
	}
	for _, o := range opts {
		o(db)
	}
	return db
}

// tableOps is what the change-source methods need of any table.
type tableOps interface {
	snapshot() func(yield func(capture.Row) bool)
	changedRows(since, until int64) []capture.Row
	expire(v int64)
	live() int
	rebuildLog()
	minValidVersion() int64
	putAny(key string, version int64, origin string, data any)
	decode(b []byte) (any, error)
}

func (db *DB) table(e schemas.Entity) (tableOps, error) {
	switch e {
	case schemas.EntityCustomer:
		return db.customers, nil
	case schemas.EntityWishList:
		return db.wishlists, nil
	case schemas.EntityNote:
		return db.notes, nil
	case schemas.EntitySale:
		return db.sales, nil
	case schemas.EntityAppointment:
		return db.appointments, nil
	case schemas.EntityService:
		return db.services, nil
	case schemas.EntityItem:
		return db.items, nil
	case schemas.EntityNotification:
		return db.notifications, nil
	}
	return nil, fmt.Errorf("edgesim: unknown entity %q", e)
}

// CurrentVersion implements capture.ChangeSource.
func (db *DB) CurrentVersion(ctx context.Context) (int64, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.version, ctx.Err()
}

// MinValidVersion implements capture.ChangeSource.
func (db *DB) MinValidVersion(ctx context.Context, e schemas.Entity) (int64, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, err := db.table(e)
	if err != nil {
		return 0, err
	}
	return t.minValidVersion(), ctx.Err()
}

func (t *table[T]) minValidVersion() int64 { return t.minValid }

// Snapshot implements capture.ChangeSource. It copies row pointers under the
// lock and streams outside it, so writers are blocked only for the copy.
func (db *DB) Snapshot(ctx context.Context, e schemas.Entity, fn func(capture.Row) error) (int64, error) {
	db.mu.Lock()
	t, err := db.table(e)
	if err != nil {
		db.mu.Unlock()
		return 0, err
	}
	rows, at := t.snapshot(), db.version
	db.mu.Unlock()

	for r := range rows {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = fn(r); err != nil {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	return at, nil
}

// Changes implements capture.ChangeSource.
func (db *DB) Changes(ctx context.Context, e schemas.Entity, since, until int64, fn func(capture.Row) error) error {
	db.mu.Lock()
	t, err := db.table(e)
	if err != nil {
		db.mu.Unlock()
		return err
	}
	if mv := t.minValidVersion(); since < mv {
		db.mu.Unlock()
		return fmt.Errorf("edgesim: changes of %s since %d: older than min valid version %d", e, since, mv)
	}
	rows := t.changedRows(since, until)
	db.mu.Unlock()
	for _, r := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// ExpireChanges simulates Change Tracking's retention cleanup: changes at or
// below version are forgotten and the min valid version of every table rises.
func (db *DB) ExpireChanges(version int64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, e := range schemas.Entities {
		t, _ := db.table(e)
		t.expire(version)
	}
}

// Count returns the number of live aggregates of an entity; capture uses it
// for the snapshot ETA.
func (db *DB) Count(_ context.Context, e schemas.Entity) (int64, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, err := db.table(e)
	if err != nil {
		return 0, err
	}
	return int64(t.live()), nil
}

// SyncedCustomers counts the customers a partner should hold: set to
// synchronize and not inactive.
func (db *DB) SyncedCustomers() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	n := 0
	for _, r := range db.customers.rows {
		if !r.Deleted && r.Data.SyncEnabled && !r.Data.Inactive {
			n++
		}
	}
	return n
}

// Customer returns a copy of a customer, or nil.
func (db *DB) Customer(key string) *schemas.Customer {
	db.mu.Lock()
	defer db.mu.Unlock()
	c := db.customers.get(key)
	if c == nil {
		return nil
	}
	cp := cloneCustomer(c)
	return cp
}

// CustomerKeys returns the keys of all live customers in insertion order.
func (db *DB) CustomerKeys() []string {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]string, 0, len(db.customers.keys))
	for _, k := range db.customers.keys {
		if !db.customers.rows[k].Deleted {
			out = append(out, k)
		}
	}
	return out
}

// Update runs fn in one transaction on behalf of origin (empty for an Edge
// user, a partner name for edgesync's writer). Every change fn stages gets the
// same new change version when fn returns nil; nothing is applied when it
// returns an error.
func (db *DB) Update(origin string, fn func(tx *Tx) error) (int64, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx := &Tx{db: db, staged: make(map[schemas.Entity]map[string]any), seq: make(map[string]int)}
	if err := fn(tx); err != nil {
		return 0, err
	}
	if len(tx.order) == 0 && len(tx.seq) == 0 && tx.own.empty() {
		return db.version, nil
	}
	v := db.version
	if len(tx.order) > 0 {
		v++
	}
	rec := record{Commit: db.commitCount + 1, Version: v, Origin: origin, Seq: tx.seq, Own: tx.own}
	for _, s := range tx.order {
		rec.Rows = append(rec.Rows, stagedRow{Entity: s.entity, Key: s.key, data: tx.staged[s.entity][s.key]})
	}
	// Durable before acknowledged: the commit reaches the journal (and its
	// fsync) before it is visible or Update returns, as a real database's
	// log does. A failed write leaves the database as it was.
	if err := db.journal.append(&rec); err != nil {
		return 0, err
	}
	db.apply(&rec)
	return v, nil
}

// apply makes a committed record visible; the caller holds the lock.
func (db *DB) apply(rec *record) {
	db.commitCount = rec.Commit
	db.applyOwn(rec.Own)
	for k, n := range rec.Seq {
		db.seq[k] = n
	}
	if len(rec.Rows) == 0 {
		return
	}
	db.version = rec.Version
	for _, r := range rec.Rows {
		db.put(r.Entity, r.Key, rec.Version, rec.Origin, r.data)
	}
	db.cleanup(rec.Version)
}

// put stores one aggregate state; data is a typed pointer or nil for a delete.
func (db *DB) put(e schemas.Entity, key string, v int64, origin string, data any) {
	if t, err := db.table(e); err == nil {
		t.putAny(key, v, origin, data)
	}
}

// cleanup records commit v and applies the retention; the caller holds the lock.
func (db *DB) cleanup(v int64) {
	if db.retention <= 0 {
		return
	}
	now := db.now()
	db.commits = append(db.commits, commit{version: v, at: now})
	cutoff := now.Add(-db.retention)
	i := 0
	for i < len(db.commits) && db.commits[i].at.Before(cutoff) {
		i++
	}
	if i == 0 {
		return
	}
	expired := db.commits[i-1].version
	db.commits = append([]commit(nil), db.commits[i:]...)
	for _, e := range schemas.Entities {
		t, _ := db.table(e)
		t.expire(expired)
	}
}

func typed[T any](v any) *T {
	if v == nil {
		return nil
	}
	return v.(*T)
}
