package capture

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/edgesync/edgesync/schemas"
)

// progress logs a snapshot's rows done, rate and ETA every few seconds, so an
// installer watching the first upload knows how long it will take.
type progress struct {
	log    *slog.Logger
	entity schemas.Entity
	reason string
	total  int64
	now    func() time.Time
	start  time.Time
	last   time.Time
	rows   atomic.Int64 // read by the status report
}

const progressEvery = 2 * time.Second

func newProgress(log *slog.Logger, e schemas.Entity, reason string, total int64, now func() time.Time) *progress {
	t := now()
	log.Info("snapshot started", "entity", e, "reason", reason, "rows", total)
	return &progress{log: log, entity: e, reason: reason, total: total, now: now, start: t, last: t}
}

func (p *progress) tick() {
	if p.rows.Add(1)%1024 != 0 {
		return
	}
	if t := p.now(); t.Sub(p.last) >= progressEvery {
		p.last = t
		p.report("snapshot progress")
	}
}

func (p *progress) done() { p.report("snapshot done") }

func (p *progress) report(msg string) {
	elapsed := p.now().Sub(p.start)
	rows := p.rows.Load()
	rate := float64(rows) / max(elapsed.Seconds(), 1e-9)
	attrs := []any{"entity", p.entity, "rows", rows, "rows_per_sec", int64(rate), "elapsed", elapsed.Round(time.Millisecond)}
	if p.total > rows && rate > 0 {
		attrs = append(attrs, "total", p.total, "eta", (time.Duration(float64(p.total-rows)/rate) * time.Second).Round(time.Second))
	}
	p.log.Info(msg, attrs...)
}
