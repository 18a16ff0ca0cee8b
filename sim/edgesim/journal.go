package edgesim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edgesync/edgesync/schemas"
)

// The simulator keeps its data the way SQL Server does: a snapshot (the
// data file) plus a log of every commit since (the journal), written and
// fsynced before the commit is acknowledged. So an acknowledged change
// survives kill -9, and a restart never meets a database that went back
// behind capture's checkpoint unless someone really restored a backup.

// record is one committed transaction, one line of the journal.
type record struct {
	Commit  int64          `json:"commit"` // the database's commit count after it
	Version int64          `json:"version"`
	Origin  string         `json:"origin,omitempty"`
	Seq     map[string]int `json:"seq,omitempty"`
	Rows    []stagedRow    `json:"rows,omitempty"`
	Own     ownWrites      `json:"own,omitzero"`
}

// stagedRow is one aggregate's new state; data is a typed pointer, nil for
// a delete.
type stagedRow struct {
	Entity schemas.Entity  `json:"entity"`
	Key    string          `json:"key"`
	data   any             // when committed
	raw    json.RawMessage // when read back from the journal
}

type stagedRowJSON struct {
	Entity schemas.Entity  `json:"entity"`
	Key    string          `json:"key"`
	Data   json.RawMessage `json:"data"`
}

func (r stagedRow) MarshalJSON() ([]byte, error) {
	data, err := json.Marshal(r.data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(stagedRowJSON{Entity: r.Entity, Key: r.Key, Data: data})
}

func (r *stagedRow) UnmarshalJSON(b []byte) error {
	var j stagedRowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	r.Entity, r.Key, r.raw = j.Entity, j.Key, j.Data
	return nil
}

func decodeAs[T any](b []byte) (*T, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	v := new(T)
	return v, json.Unmarshal(b, v)
}

// journal appends records to a file and fsyncs each before returning.
type journal struct {
	f    *os.File
	buf  bytes.Buffer
	size int64 // bytes appended since the journal was last folded
}

func journalPath(dataPath string) string { return dataPath + ".journal" }

// append writes one record durably; a nil journal keeps nothing.
func (j *journal) append(rec *record) error {
	if j == nil {
		return nil
	}
	j.buf.Reset()
	if err := json.NewEncoder(&j.buf).Encode(rec); err != nil {
		return fmt.Errorf("edge simulator journal: encode commit %d: %w", rec.Commit, err)
	}
	n, err := j.f.Write(j.buf.Bytes())
	j.size += int64(n)
	if err != nil {
		return fmt.Errorf("edge simulator journal: write commit %d: %w", rec.Commit, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("edge simulator journal: sync commit %d: %w", rec.Commit, err)
	}
	return nil
}

func (j *journal) close() error {
	if j == nil {
		return nil
	}
	return j.f.Close()
}

// replay applies the journal's records newer than the snapshot. A last line
// cut short is a commit that was never acknowledged (the process died in
// its write) and is dropped; damage anywhere else is an error.
func (db *DB) replay(path string) (int, error) {
	f, err := os.Open(filepath.Clean(path))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open edge simulator journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	n := 0
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return n, nil // a partial last line (no newline) was never acknowledged
		}
		if err != nil {
			return n, fmt.Errorf("read edge simulator journal: %w", err)
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			if _, perr := r.Peek(1); errors.Is(perr, io.EOF) {
				return n, nil
			}
			return n, fmt.Errorf("edge simulator journal %s line %d: %w", path, line, err)
		}
		if rec.Commit <= db.commitCount {
			continue // already in the snapshot
		}
		for i := range rec.Rows {
			row := &rec.Rows[i]
			t, err := db.table(row.Entity)
			if err == nil {
				row.data, err = t.decode(row.raw)
			}
			if err != nil {
				return n, fmt.Errorf("edge simulator journal %s line %d: %w", path, line, err)
			}
		}
		db.apply(&rec)
		n++
	}
}

// Open returns the durable database kept at path (a snapshot and its
// journal), generating it from spec the first time. Every commit is in the
// journal before Update returns; Save folds the journal into the snapshot.
// Close the database when done.
func Open(path string, spec Spec, opts ...Option) (db *DB, generated bool, err error) {
	db, generated, err = LoadOrGenerate(path, spec, opts...)
	if err != nil {
		return nil, false, err
	}
	if generated {
		// The generated chain is one transaction's worth of data, too big
		// for a journal line: it becomes the first snapshot.
		if err := db.Save(path); err != nil {
			return nil, false, err
		}
	}
	if err := db.startJournal(path); err != nil {
		return nil, false, err
	}
	return db, generated, nil
}

// startJournal folds what the journal holds into a fresh snapshot, empties
// the journal and keeps every later commit there.
func (db *DB) startJournal(path string) error {
	if err := db.Save(path); err != nil {
		return err
	}
	f, err := os.OpenFile(journalPath(path), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("open edge simulator journal: %w", err)
	}
	db.mu.Lock()
	db.journal, db.path = &journal{f: f}, path
	db.mu.Unlock()
	return nil
}

// Close closes the journal; the database stays usable in memory only.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	err := db.journal.close()
	db.journal = nil
	return err
}
