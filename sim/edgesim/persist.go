package edgesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/edgesync/edgesync/internal/durable"
	"github.com/edgesync/edgesync/schemas"
)

// The simulated database is durable like the real one: the demo saves it in
// its data directory so a restart resumes from the capture checkpoint instead
// of meeting a database that forgot its changes.

type persistedTable[T any] struct {
	Keys     []string           `json:"keys"`
	Rows     map[string]*row[T] `json:"rows"`
	MinValid int64              `json:"minValid"`
}

type persisted struct {
	Version       int64                                `json:"version"`
	Commits       int64                                `json:"commits"`
	Seq           map[string]int                       `json:"seq"`
	Customers     persistedTable[schemas.Customer]     `json:"customers"`
	WishLists     persistedTable[schemas.WishList]     `json:"wishlists"`
	Notes         persistedTable[schemas.Note]         `json:"notes"`
	Sales         persistedTable[schemas.Sale]         `json:"sales"`
	Appointments  persistedTable[schemas.Appointment]  `json:"appointments"`
	Services      persistedTable[schemas.ServiceJob]   `json:"services"`
	Items         persistedTable[schemas.Item]         `json:"items"`
	Notifications persistedTable[schemas.Notification] `json:"notifications"`
	Ledger        map[string]time.Time                 `json:"ledger"`
	Links         map[string]string                    `json:"links"`
	Activities    map[string][]Activity                `json:"activities"`
}

func dump[T any](t *table[T]) persistedTable[T] {
	return persistedTable[T]{Keys: t.keys, Rows: t.rows, MinValid: t.minValid}
}

func restore[T any](t *table[T], p persistedTable[T]) {
	t.keys, t.rows, t.minValid = p.Keys, p.Rows, p.MinValid
	if t.rows == nil {
		t.rows = make(map[string]*row[T])
	}
	t.rebuildLog()
}

// Save writes the database to path atomically and durably. When path is the
// database's own (see Open), the journal is folded in and emptied: commits
// wait for the few milliseconds that takes.
func (db *DB) Save(path string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.save(path)
}

// Checkpoint folds the journal into the snapshot once it holds at least
// minJournal bytes, as a database checkpoints by the size of its log. The
// whole database is written under the lock, commits waiting meanwhile,
// so a fold on a clock would stall a large database every time (100,000
// customers are a 240 MB snapshot) while its journal held a few commits.
func (db *DB) Checkpoint(minJournal int64) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.journal == nil || db.journal.size < minJournal {
		return nil
	}
	return db.save(db.path)
}

// save is Save; the caller holds the lock.
func (db *DB) save(path string) error {
	body, err := db.marshal()
	if err != nil {
		return fmt.Errorf("save edge simulator: %w", err)
	}
	if err := durable.WriteFile(path, body); err != nil {
		return fmt.Errorf("save edge simulator: %w", err)
	}
	if db.journal != nil && path == db.path {
		if err := db.journal.f.Truncate(0); err != nil {
			return fmt.Errorf("save edge simulator: empty journal: %w", err)
		}
		if _, err := db.journal.f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("save edge simulator: empty journal: %w", err)
		}
		db.journal.size = 0
	}
	return nil
}

// MarshalState returns the whole database as Save writes it.
func (db *DB) MarshalState() ([]byte, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	body, err := db.marshal()
	if err != nil {
		return nil, fmt.Errorf("edge simulator state: %w", err)
	}
	return body, nil
}

// marshal encodes the whole database; the caller holds the lock.
func (db *DB) marshal() ([]byte, error) { return json.Marshal(db.dump()) }

// FromState returns an in-memory database from what MarshalState returned.
func FromState(body []byte, opts ...Option) (*DB, error) {
	db := New(opts...)
	if err := db.unmarshal(body); err != nil {
		return nil, err
	}
	return db, nil
}

// dump copies the state for a snapshot; the caller holds the lock.
func (db *DB) dump() persisted {
	return persisted{
		Version: db.version, Commits: db.commitCount, Seq: db.seq,
		Customers: dump(db.customers), WishLists: dump(db.wishlists), Notes: dump(db.notes), Sales: dump(db.sales),
		Appointments: dump(db.appointments), Services: dump(db.services), Items: dump(db.items), Notifications: dump(db.notifications),
		Ledger: db.ledger, Links: db.links, Activities: db.activities,
	}
}

// Load reads a database saved by Save, with the commits its journal holds
// since. It returns an error wrapping os.ErrNotExist when there is none.
func Load(path string, opts ...Option) (*DB, error) {
	db := New(opts...)
	if err := db.load(path); err != nil {
		return nil, err
	}
	if _, err := db.replay(journalPath(path)); err != nil {
		return nil, err
	}
	return db, nil
}

// Restore replaces the whole database with the snapshot at backup, as
// restoring a SQL Server backup does: change versions go back to the
// backup's, and every commit since is gone.
func (db *DB) Restore(backup string) error {
	restored := New()
	if err := restored.load(backup); err != nil {
		return err
	}
	db.mu.Lock()
	db.version, db.seq, db.commits = restored.version, restored.seq, nil
	db.commitCount = max(restored.commitCount, db.commitCount) // the journal's numbering goes on
	db.ledger, db.links, db.activities = restored.ledger, restored.links, restored.activities
	db.customers, db.wishlists, db.notes, db.sales = restored.customers, restored.wishlists, restored.notes, restored.sales
	db.appointments, db.services, db.items, db.notifications = restored.appointments, restored.services, restored.items, restored.notifications
	path := db.path
	db.mu.Unlock()
	if path != "" {
		return db.Save(path)
	}
	return nil
}

// load reads a snapshot into an empty database.
func (db *DB) load(path string) error {
	body, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return fmt.Errorf("load edge simulator: %w", err)
	}
	if err := db.unmarshal(body); err != nil {
		return fmt.Errorf("load edge simulator %s: %w", path, err)
	}
	return nil
}

func (db *DB) unmarshal(body []byte) error {
	var p persisted
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	db.version, db.commitCount = p.Version, p.Commits
	if p.Seq != nil {
		db.seq = p.Seq
	}
	restore(db.customers, p.Customers)
	restore(db.wishlists, p.WishLists)
	restore(db.notes, p.Notes)
	restore(db.sales, p.Sales)
	restore(db.appointments, p.Appointments)
	restore(db.services, p.Services)
	restore(db.items, p.Items)
	restore(db.notifications, p.Notifications)
	if p.Ledger != nil {
		db.ledger = p.Ledger
	}
	if p.Links != nil {
		db.links = p.Links
	}
	if p.Activities != nil {
		db.activities = p.Activities
	}
	return nil
}

// LoadOrGenerate loads the database at path, or generates one from spec when
// there is none yet.
func LoadOrGenerate(path string, spec Spec, opts ...Option) (db *DB, generated bool, err error) {
	db, err = Load(path, opts...)
	if err == nil {
		return db, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	db = New(opts...)
	if err := Generate(db, spec); err != nil {
		return nil, false, err
	}
	return db, true, nil
}
