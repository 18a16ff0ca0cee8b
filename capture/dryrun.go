package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/edgesync/edgesync/schemas"
)

// A dry run reads what capture would read and checks what it would
// publish, and publishes and writes nothing: an installer runs it against
// a store's database (with `edgesync edge check`) and learns in minutes
// what would otherwise surface as a crash loop or a dead letter.

// DryRunEntity is what a dry run found for one entity.
type DryRunEntity struct {
	Entity       schemas.Entity
	Snapshot     int           // aggregates read from the snapshot
	SnapshotTime time.Duration // to read them
	Changes      int           // aggregates read from the change list within the retention
	ChangesTime  time.Duration
	Problems     int      // aggregates whose event would not pass: refused by its schema, too large, a bad key
	Examples     []string // the first problems, with the key
	Err          error    // the entity could not be read at all
}

// DryRunReport is a dry run's outcome.
type DryRunReport struct {
	CurrentVersion int64
	Entities       []DryRunEntity
}

// Problems counts the events that would not pass and the entities that
// could not be read.
func (r DryRunReport) Problems() int {
	n := 0
	for _, e := range r.Entities {
		n += e.Problems
		if e.Err != nil {
			n++
		}
	}
	return n
}

// errEnough stops a read once the dry run has seen its rows.
var errEnough = errors.New("enough rows")

// maxExamples bounds the problems a dry run names per entity.
const maxExamples = 5

// DryRun reads up to rows aggregates of each entity's snapshot and of its
// change list (since the min valid version), builds and checks each event
// as capture would publish it, against maxPayload (NATS's max payload),
// and returns what it found. It publishes and writes nothing.
func DryRun(ctx context.Context, src ChangeSource, entities []schemas.Entity, rows int, maxPayload int64) (DryRunReport, error) {
	if len(entities) == 0 {
		entities = schemas.Entities
	}
	var r DryRunReport
	cur, err := src.CurrentVersion(ctx)
	if err != nil {
		return r, fmt.Errorf("dry run: read current version: %w", err)
	}
	r.CurrentVersion = cur
	for _, e := range entities {
		de := DryRunEntity{Entity: e}
		bad := map[string]bool{} // an aggregate read from the snapshot and the changes counts once
		check := func(row Row) {
			var data any
			if !row.Deleted {
				data = row.Data
			}
			m, err := schemas.EdgeEvent{Source: "edgesync/capture/dry-run", Entity: e, Key: row.Key, Version: row.Version,
				Origin: row.Origin, Time: time.Now(), Data: data}.Msg()
			if err == nil && !fitsIn(m, maxPayload) {
				err = fmt.Errorf("%d bytes, over what NATS takes (%d)", len(m.Data), maxPayload-headerRoom)
			}
			if err == nil {
				err = schemas.Validate(m.Data)
			}
			if err != nil && !bad[row.Key] {
				bad[row.Key] = true
				de.Problems++
				if len(de.Examples) < maxExamples {
					key := row.Key
					if len(key) > 64 {
						key = key[:64] + "..."
					}
					de.Examples = append(de.Examples, fmt.Sprintf("%s %s: %v", e, key, err))
				}
			}
		}
		// upTo checks rows until n of them have been read.
		upTo := func(n *int) func(Row) error {
			return func(row Row) error {
				if *n >= rows {
					return errEnough
				}
				*n++
				check(row)
				return nil
			}
		}
		start := time.Now()
		_, err := src.Snapshot(ctx, e, upTo(&de.Snapshot))
		de.SnapshotTime = time.Since(start)
		if err != nil && !errors.Is(err, errEnough) {
			de.Err = fmt.Errorf("snapshot: %w", err)
			r.Entities = append(r.Entities, de)
			continue
		}
		since, err := src.MinValidVersion(ctx, e)
		if err != nil {
			de.Err = fmt.Errorf("min valid version: %w", err)
			r.Entities = append(r.Entities, de)
			continue
		}
		start = time.Now()
		err = src.Changes(ctx, e, since, cur, upTo(&de.Changes))
		de.ChangesTime = time.Since(start)
		if err != nil && !errors.Is(err, errEnough) {
			de.Err = fmt.Errorf("changes since %d: %w", since, err)
		}
		r.Entities = append(r.Entities, de)
	}
	return r, nil
}

// Write prints the report as a table, then each problem.
func (r DryRunReport) Write(w io.Writer) error {
	fmt.Fprintf(w, "Dry run at change version %d: nothing was published or written.\n\n", r.CurrentVersion)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTITY\tSNAPSHOT ROWS\tTIME\tCHANGED ROWS\tTIME\tPROBLEMS")
	for _, e := range r.Entities {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%d\n", e.Entity, e.Snapshot, e.SnapshotTime.Round(time.Millisecond),
			e.Changes, e.ChangesTime.Round(time.Millisecond), e.Problems)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range r.Entities {
		if e.Err != nil {
			fmt.Fprintf(w, "\n%s could not be read: %v\n", e.Entity, e.Err)
		}
		for _, ex := range e.Examples {
			fmt.Fprintf(w, "\nproblem: %s", ex)
		}
		if e.Problems > len(e.Examples) {
			fmt.Fprintf(w, "\n... and %d more %s problems", e.Problems-len(e.Examples), e.Entity)
		}
	}
	if n := r.Problems(); n > 0 {
		fmt.Fprintf(w, "\n\n%d problem(s): capture would dead-letter each of these events (or, for an entity it cannot read, stay at its checkpoint).\n", n)
	} else {
		fmt.Fprintln(w, "\nEvery event read would pass.")
	}
	return nil
}
