package capture

import (
	"log/slog"
	"time"

	"github.com/edgesync/edgesync/schemas"
)

// progress logs a snapshot's rows done, rate and ETA every few seconds, so an
// installer watching the first upload knows how long it will take.
type progress struct {
	log    *slog.Logger
	entity schemas.Entity
	total  int64
	now    func() time.Time
	start  time.Time
	last   time.Time
	rows   int64
}

const progressEvery = 2 * time.Second

func newProgress(log *slog.Logger, e schemas.Entity, total int64, now func() time.Time) *progress {
	t := now()
	log.Info("snapshot started", "entity", e, "rows", total)
	return &progress{log: log, entity: e, total: total, now: now, start: t, last: t}
}

func (p *progress) tick() {
	p.rows++
	if p.rows%1024 != 0 {
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
	rate := float64(p.rows) / max(elapsed.Seconds(), 1e-9)
	attrs := []any{"entity", p.entity, "rows", p.rows, "rows_per_sec", int64(rate), "elapsed", elapsed.Round(time.Millisecond)}
	if p.total > p.rows && rate > 0 {
		attrs = append(attrs, "total", p.total, "eta", (time.Duration(float64(p.total-p.rows)/rate) * time.Second).Round(time.Second))
	}
	p.log.Info(msg, attrs...)
}
