package edgesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

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

// Save writes the database to path atomically.
func (db *DB) Save(path string) error {
	db.mu.Lock()
	p := persisted{
		Version: db.version, Seq: db.seq,
		Customers: dump(db.customers), WishLists: dump(db.wishlists), Notes: dump(db.notes), Sales: dump(db.sales),
		Appointments: dump(db.appointments), Services: dump(db.services), Items: dump(db.items), Notifications: dump(db.notifications),
		Ledger: db.ledger, Links: db.links, Activities: db.activities,
	}
	body, err := json.Marshal(p)
	db.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save edge simulator: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		return fmt.Errorf("save edge simulator: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save edge simulator: %w", err)
	}
	return nil
}

// Load reads a database saved by Save. It returns an error wrapping
// os.ErrNotExist when there is none.
func Load(path string, opts ...Option) (*DB, error) {
	body, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, fmt.Errorf("load edge simulator: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("load edge simulator %s: %w", path, err)
	}
	db := New(opts...)
	db.version = p.Version
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
	return db, nil
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
