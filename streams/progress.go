package streams

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// progressEvery is how often a consumer with a backlog says how far it is
// (a variable for tests).
var progressEvery = 15 * time.Second

// backlogEvery is how often the backlog gauge is set.
const backlogEvery = 5 * time.Second

// logProgress tells the operator, from the first seconds, how a consumer
// works off a backlog (a new connector's initial upload, a replay, the
// catch-up after an outage): what it finished, what is left, its pace and
// when it will be done; and once, that it caught up. A consumer without a
// backlog says nothing.
// The backlog gauge is set at each look, every backlogEvery.
func logProgress(ctx context.Context, cons jetstream.Consumer, durable string, finished func() int64, metrics *ConsumerMetrics, log *slog.Logger) {
	// The first look comes at once: an installer watching a new
	// connector's first delivery hears within a second what it is doing.
	t := time.NewTimer(time.Second)
	defer t.Stop()
	var (
		started  time.Time
		fromDone int64
		behind   bool
		logged   time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(min(backlogEvery, progressEvery))
		}
		info, err := cons.Info(ctx)
		if err != nil {
			continue // the consumer's own loop reports a lost server
		}
		left := info.NumPending + uint64(info.NumAckPending)
		metrics.setBacklog(durable, left)
		done := finished()
		if left == 0 {
			if behind {
				log.Info("caught up", "consumer", durable, "finished", done-fromDone, "took", time.Since(started).Round(time.Second))
			}
			behind = false
			continue
		}
		if !behind {
			behind, started, fromDone, logged = true, time.Now(), done, time.Now()
			log.Info("working off a backlog", "consumer", durable, "left", left)
			continue
		}
		if time.Since(logged) < progressEvery {
			continue
		}
		logged = time.Now()
		elapsed := time.Since(started)
		rate := float64(done-fromDone) / elapsed.Seconds()
		attrs := []any{"consumer", durable, "finished", done - fromDone, "left", left, "per_sec", float64(int(rate*10)) / 10}
		if rate > 0 {
			attrs = append(attrs, "eta", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
		}
		log.Info("progress", attrs...)
	}
}
