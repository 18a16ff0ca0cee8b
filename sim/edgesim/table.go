package edgesim

import (
	"sort"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
)

// row is one aggregate's latest committed state. Data is never modified in
// place: a change replaces the pointer, so a snapshot that copied pointers
// keeps seeing the state at its version (copy-on-write, like SQL Server's
// row versioning under SNAPSHOT isolation).
type row[T any] struct {
	Version int64  `json:"version"`
	Origin  string `json:"origin,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	Data    *T     `json:"data,omitempty"`
}

type logEntry struct {
	version int64
	key     string
}

// table holds one aggregate type: current rows plus the change log that
// Changes answers from. The log keeps only entries newer than minValid,
// as Change Tracking's retention cleanup does.
type table[T any] struct {
	entity   schemas.Entity
	rows     map[string]*row[T]
	keys     []string // insertion order, for deterministic snapshots
	log      []logEntry
	minValid int64
}

func newTable[T any](e schemas.Entity) *table[T] {
	return &table[T]{entity: e, rows: make(map[string]*row[T])}
}

func (t *table[T]) get(key string) *T {
	r, ok := t.rows[key]
	if !ok || r.Deleted {
		return nil
	}
	return r.Data
}

func (t *table[T]) put(key string, version int64, origin string, data *T) {
	if _, ok := t.rows[key]; !ok {
		t.keys = append(t.keys, key)
	}
	t.rows[key] = &row[T]{Version: version, Origin: origin, Deleted: data == nil, Data: data}
	t.log = append(t.log, logEntry{version: version, key: key})
}

// putAny is put for a state held as any: a *T, or nil for a delete.
func (t *table[T]) putAny(key string, version int64, origin string, data any) {
	t.put(key, version, origin, typed[T](data))
}

// decode reads a state written to the journal.
func (t *table[T]) decode(b []byte) (any, error) {
	v, err := decodeAs[T](b)
	if v == nil || err != nil {
		return nil, err // an untyped nil: a delete
	}
	return v, nil
}

func (t *table[T]) toRow(key string, r *row[T]) capture.Row {
	out := capture.Row{Entity: t.entity, Key: key, Version: r.Version, Origin: r.Origin, Deleted: r.Deleted}
	if !r.Deleted {
		out.Data = r.Data
	}
	return out
}

// snapshot pins the rows as of now; the caller holds the DB lock. It copies
// one pointer per row (the simulator's version store, 8 bytes a row) and
// shares the append-only key slice, so streaming a million rows needs no
// copy of the rows themselves.
func (t *table[T]) snapshot() func(yield func(capture.Row) bool) {
	keys := t.keys[:len(t.keys):len(t.keys)]
	pinned := make([]*row[T], len(keys))
	for i, k := range keys {
		pinned[i] = t.rows[k]
	}
	minValid := t.minValid
	return func(yield func(capture.Row) bool) {
		for i, r := range pinned {
			if r.Deleted {
				continue
			}
			row := t.toRow(keys[i], r)
			if r.Version <= minValid {
				// As CHANGETABLE(VERSION ...) answers for a row whose
				// last change the retention cleaned up: a NULL version,
				// and no context.
				row.Version, row.Origin = 0, ""
			}
			if !yield(row) {
				return
			}
		}
	}
}

// changedRows returns the net changes in (since, until]: each key once, with
// its latest state, skipped when that state is newer than until (the next
// cycle reports it).
func (t *table[T]) changedRows(since, until int64) []capture.Row {
	i := sort.Search(len(t.log), func(i int) bool { return t.log[i].version > since })
	seen := make(map[string]bool)
	var out []capture.Row
	for _, e := range t.log[i:] {
		if e.version > until {
			break
		}
		if seen[e.key] {
			continue
		}
		seen[e.key] = true
		if r := t.rows[e.key]; r.Version <= until {
			out = append(out, t.toRow(e.key, r))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Version < out[b].Version })
	return out
}

// expire drops log entries at or below v and raises the min valid version.
func (t *table[T]) expire(v int64) {
	if v <= t.minValid {
		return
	}
	i := sort.Search(len(t.log), func(i int) bool { return t.log[i].version > v })
	t.log = append([]logEntry(nil), t.log[i:]...)
	t.minValid = v
}

func (t *table[T]) live() int {
	n := 0
	for _, r := range t.rows {
		if !r.Deleted {
			n++
		}
	}
	return n
}

// rebuildLog restores the log after loading: one entry per row at its
// latest version is all Changes needs.
func (t *table[T]) rebuildLog() {
	t.log = t.log[:0]
	for _, k := range t.keys {
		if r := t.rows[k]; r.Version > t.minValid {
			t.log = append(t.log, logEntry{version: r.Version, key: k})
		}
	}
	sort.SliceStable(t.log, func(a, b int) bool { return t.log[a].version < t.log[b].version })
}
