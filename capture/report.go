package capture

import (
	"context"
	"time"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Report is what capture tells the status page every few seconds, under
// streams.ReportCapture+site: how far it is behind the Edge database, and
// whether it still reads it. Only capture can know this: the status page
// never connects to Edge.
type Report struct {
	streams.Reported
	Site string `json:"site"`
	// EdgeVersion is the database's change tracking version at the last
	// cycle that could read it.
	EdgeVersion int64 `json:"edgeVersion"`
	// Checkpoint is the lowest version every entity has reached.
	Checkpoint int64 `json:"checkpoint"`
	// CaughtUp is when a cycle last brought every entity to the version
	// it read: how long ago is how far capture is behind Edge.
	CaughtUp      time.Time `json:"caughtUp,omitzero"`
	FailingCycles int       `json:"failingCycles,omitempty"`
	Error         string    `json:"error,omitempty"`
	// Snapshot is the snapshot in progress, if any: an initial upload or
	// a re-snapshot.
	Snapshot *SnapshotProgress `json:"snapshot,omitempty"`
}

// SnapshotProgress is a snapshot's rows read so far.
type SnapshotProgress struct {
	Entity  schemas.Entity `json:"entity"`
	Rows    int64          `json:"rows"`
	Total   int64          `json:"total"` // 0 when the source cannot count
	Started time.Time      `json:"started"`
	Reason  string         `json:"reason"`
}

// runReports reports until ctx ends; a negative ReportEvery turns them off.
func (c *Capture) runReports(ctx context.Context) {
	if c.cfg.ReportEvery < 0 {
		return
	}
	js := c.cfg.Reports
	if js == nil {
		js = c.js
	}
	streams.RunReports(ctx, js, streams.ReportCapture+c.cfg.Site, c.cfg.ReportEvery, c.report, c.log)
}

func (c *Capture) report(at streams.Reported) Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Report{Reported: at, Site: c.cfg.Site, EdgeVersion: c.edgeVersion, Checkpoint: c.caughtUpTo, CaughtUp: c.caughtUp, FailingCycles: c.failing}
	if c.lastErr != nil {
		r.Error = c.lastErr.Error()
	}
	if p := c.snapshotting; p != nil {
		r.Snapshot = &SnapshotProgress{Entity: p.entity, Rows: p.rows.Load(), Total: p.total, Started: p.start, Reason: p.reason}
	}
	return r
}
