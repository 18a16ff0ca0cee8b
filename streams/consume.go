package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/internal/lane"
	"github.com/edgesync/edgesync/internal/logctx"
)

// ConsumerConfig describes a durable consumer.
type ConsumerConfig struct {
	Durable string   // also the DLQ subject token: dlq.<durable>.<subject>
	Stream  string   // EDGE or PARTNER
	Filters []string // subjects this consumer cares about
	// AckWait is how long a message may go unacknowledged before JetStream
	// redelivers it; 30s by default. A handler still working tells the server
	// so every AckWait/3, so the ack wait does not bound a slow partner call;
	// it bounds how long a crashed consumer's messages wait before another
	// process gets them.
	AckWait time.Duration
	// Retry delays for redeliveries after a transient failure, by attempt;
	// the last one repeats. The message is parked meanwhile and the others
	// go on (parking.go).
	Retry []time.Duration
	// GiveUpAfter is how many deliveries a message that keeps failing gets
	// before it is dead-lettered, as long as the partner took a call
	// since it first failed (PartnerOK, or else another message of this
	// consumer went through: a partner down for all is waited out); 12
	// when zero, never when negative.
	GiveUpAfter int
	// PartnerOK, when set, is when the partner last took a call: the
	// witness that a message failing on its own is the message's fault.
	PartnerOK func() time.Time
	// Metrics, when set, count outcomes and handling time.
	Metrics *ConsumerMetrics
	// Middleware wraps the handler inside the consumer's own (Heartbeat,
	// BulkLane): what every message of this consumer gets.
	Middleware []Middleware
	// Execution is how messages are handled: one at a time when nil, in
	// Parallel workers, or gathered in a Batch for one partner call.
	Execution Execution
	// Report, when set, is put in the status bucket every few seconds while
	// the consumer runs, for the status page.
	Report func() ConnectorReport
	// MaxAckPending bounds the messages delivered and not yet acknowledged;
	// 1000 when zero. 1 keeps a consumer's order through a lost delivery:
	// nothing after a message is delivered until it is acknowledged, so a
	// message delivered into a link that went down comes again before the
	// ones after it instead of after them.
	MaxAckPending int
	// Lanes reads Edge events in a live lane and bulk lanes, live first
	// (lanes.go): a connector's initial upload, a store's snapshot and a
	// replay never hold a live change behind them.
	Lanes bool
}

const shutdownGrace = 10 * time.Second

// pullBatch is how many messages a consumer buffers ahead. Each one's ack
// wait runs from delivery, so the buffer must drain well within the ack
// wait even at a partner's real rate limit (32 calls at Clientbook's 2 a
// second: 16 s).
const pullBatch = 32

// pullOpts are how a consumer pulls: pullBatch ahead, each pull expiring
// after pullExpiry. nats.go notices a pull its server stopped answering
// (a NATS server that died, a store's leaf node link that went down and
// came back) after two missed heartbeats of half the expiry each: with
// its default of 30 s a store's writer sat idle for 30 s after its link
// was back (site.TestEachStoreWritesItsOwnPartnerChangesThroughAnOutage).
func pullOpts() []jetstream.PullMessagesOpt {
	return []jetstream.PullMessagesOpt{jetstream.PullMaxMessages(pullBatch), jetstream.PullExpiry(pullExpiry)}
}

const pullExpiry = 5 * time.Second

func (cfg ConsumerConfig) ackWait() time.Duration {
	if cfg.AckWait > 0 {
		return cfg.AckWait
	}
	return 30 * time.Second
}

// inProgress tells JetStream every interval, until the returned stop is
// called, that msgs are still being worked on.
func inProgress(interval time.Duration, msgs ...jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}()
	return func() { close(done) }
}

var defaultRetry = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}

// EnsureConsumer creates or updates the durable consumer. A new consumer
// starts from the last message of every subject: the current state of every
// aggregate, which is what a new connector needs to backfill. One that
// another process left before it had delivered all of those is created
// afresh (firstdelivery.go).
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	ackWait := cfg.ackWait()
	cc := jetstream.ConsumerConfig{
		Durable:        cfg.Durable,
		Description:    "edgesync " + cfg.Durable,
		FilterSubjects: cfg.Filters,
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        ackWait,
		MaxDeliver:     -1,
		MaxAckPending:  cmp.Or(cfg.MaxAckPending, 1000),
	}
	cons, err := js.Consumer(ctx, cfg.Stream, cfg.Durable)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, ErrNoStreams
	case errors.Is(err, jetstream.ErrConsumerNotFound) && cfg.Lanes:
		cons, err = createLive(ctx, js, cfg.Stream, cc)
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = createRecorded(ctx, js, cfg.Stream, cc)
	case err != nil:
		return nil, fmt.Errorf("read consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	default:
		info := cons.CachedInfo()
		if firstDeliveryLeft(info) {
			cons, err = remake(ctx, js, cfg.Stream, info, cc, log)
			break
		}
		// Where it starts is the consumer's own (a live lane starts at a
		// sequence); the server refuses to change it.
		cc.DeliverPolicy, cc.OptStartSeq = info.Config.DeliverPolicy, info.Config.OptStartSeq
		cc.Metadata = recordOf(info)
		cons, err = js.CreateOrUpdateConsumer(ctx, cfg.Stream, cc)
	}
	if err == nil && cfg.Lanes {
		cons, err = openInitialBulk(ctx, js, cfg, cons, log)
	}
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	return cons, nil
}

// Consume runs h on every message of the durable consumer until ctx ends,
// one at a time, or in Parallel workers with each aggregate's on one, so each
// aggregate's events are applied in order. A message in flight when ctx
// ends is finished or left unacknowledged, never half-done: handlers get a
// context that outlives the cancellation by a grace period.
//
// While a replay consumer of this durable exists (StartReplay), its messages
// are handled too, by the same loop and handler, and the replay consumer is
// deleted once it has nothing left: the live flow never stops for a replay.
func Consume(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, h Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	started := time.Now()
	cons, err := EnsureConsumer(ctx, js, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it could start: nothing was handled
		}
		return err
	}
	warnIfWentBack(ctx, js, cfg, cons, log)
	it, err := cons.Messages(pullOpts()...)
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	// On shutdown, drain: stop pulling, then hand back what was buffered but
	// not handled, so a restarted consumer gets it at once instead of after
	// the ack wait.
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	defer it.Stop()
	h = Chain(h, append([]Middleware{Heartbeat(cfg.ackWait() / 3), BulkLane}, cfg.Middleware...)...)
	retry := cfg.Retry
	if len(retry) == 0 {
		retry = defaultRetry
	}
	batch, batched := cfg.Execution.(Batch)
	batched = batched && batch.Flush != nil
	batch = batch.withDefaults()
	flushEvery, flushIdle, flushMaxWait := batch.Every, batch.Idle, batch.MaxWait

	// The lanes feed two unbuffered channels, so each still pulls only as
	// fast as the loop handles; the loop takes a live message first.
	in, bulkIn := make(chan jetstream.Msg), make(chan jetstream.Msg)
	mainDone := make(chan struct{})
	ln := &lanes{js: js, cfg: cfg, log: log, started: started, open: map[string]bool{}}
	route := func(ctx context.Context, msg jetstream.Msg) (jetstream.Msg, bool) {
		if cfg.Lanes && !ln.live(ctx, msg) {
			return nil, false
		}
		return msg, true
	}
	go func() { feed(ctx, it, in, cfg.Durable, route, log); close(mainDone) }()
	park := newParking()
	if cfg.GiveUpAfter == 0 {
		cfg.GiveUpAfter = defaultGiveUpAfter
	}
	pctx, stopProgress := context.WithCancel(ctx)
	progressDone := make(chan struct{})
	go func() { logProgress(pctx, cons, cfg.Durable, park.finished, cfg.Metrics, log); close(progressDone) }()
	defer func() { stopProgress(); <-progressDone }()
	if cfg.Report != nil {
		report := func(at Reported) ConnectorReport {
			r := cfg.Report()
			r.Reported = at
			r.Settled = park.finished()
			r.Parked, r.ParkedSample = park.report()
			return r
		}
		rctx, stopReports := context.WithCancel(ctx)
		reported := make(chan struct{})
		go func() { RunReports(rctx, js, ReportKey(cfg.Durable), 0, report, log); close(reported) }()
		defer func() { stopReports(); <-reported }()
	}
	lctx, stopLanes := context.WithCancel(ctx)
	lanesDone := make(chan struct{})
	go func() {
		ln.follow(lctx, bulkIn, func(ctx context.Context, l *bulkLane) {
			logProgress(ctx, l.cons, l.name, l.done.Load, cfg.Metrics, log)
		})
		close(lanesDone)
	}()
	defer func() { stopLanes(); <-lanesDone }()

	var deferred []deferredMsg
	// liveDeferred: a live message waits for the flush. It comes once no
	// other live message follows within FlushIdle, whatever bulk work
	// waits: bulk messages arrive back to back and would otherwise hold it
	// until FlushMaxWait.
	liveDeferred := false
	flush := func() {
		if len(deferred) == 0 {
			return
		}
		hctx, cancel := handlerContext(ctx)
		defer cancel()
		held := make([]jetstream.Msg, len(deferred))
		bulk := true
		for i, d := range deferred {
			held[i] = d.msg
			bulk = bulk && isBulkWork(d.msg)
		}
		if bulk {
			hctx = lane.WithBulk(hctx)
		}
		stopBeat := inProgress(cfg.ackWait()/3, held...)
		outcomes := batch.Flush(hctx)
		stopBeat()
		for i, d := range deferred {
			err := errors.New("flush reported no outcome")
			if i < len(outcomes) {
				err = outcomes[i]
			}
			settle(hctx, js, cfg, retry, park, d.msg, err, d.start, log)
		}
		deferred, liveDeferred = deferred[:0], false
	}
	defer flush()
	// handleNeeded handles the latest state of the aggregate a message
	// needs first, then the message again.
	handleNeeded := func(hctx context.Context, msg jetstream.Msg, subject string, err error) error {
		first, berr := bring(hctx, js, cfg.Stream, subject)
		if berr != nil {
			log.DebugContext(hctx, "what the message needs is not in the stream yet; delivered again", "needs", subject, "err", berr)
			return err
		}
		// The message waits while what it needs is handled: it keeps its
		// heartbeat and its lane.
		stopBeat := inProgress(cfg.ackWait()/3, msg)
		defer stopBeat()
		if isBulkWork(msg) {
			hctx = lane.WithBulk(hctx)
		}
		ferr := h(hctx, first)
		switch {
		case errors.Is(ferr, ErrLater) && batched:
			deferred = append(deferred, deferredMsg{first, time.Now()})
		case ferr != nil:
			log.DebugContext(hctx, "what the message needs failed; both are delivered again", "needs", subject, "err", ferr)
			return err
		}
		return h(hctx, msg)
	}
	// process handles one message: settles it by its handler's verdict, or
	// gathers it for the next flush.
	process := func(msg jetstream.Msg) {
		if ctx.Err() != nil {
			_ = msg.Nak()
			return
		}
		start := time.Now()
		hctx, cancel := handlerContext(ctx)
		defer cancel()
		// Every line logged while handling it names the record, however
		// deep (a partner call's retry).
		hctx = logctx.With(hctx, recordAttrs(cfg.Durable, msg)...)
		err := h(hctx, msg)
		if subject, ok := needed(err); ok {
			err = handleNeeded(hctx, msg, subject, err)
		}
		if errors.Is(err, ErrLater) && batched {
			deferred = append(deferred, deferredMsg{msg, start})
			liveDeferred = liveDeferred || !isBulkWork(msg)
			return
		}
		settle(hctx, js, cfg, retry, park, msg, err, start, log)
	}
	var pool *workers
	if par, ok := cfg.Execution.(Parallel); ok && par.Workers > 1 {
		pool = startWorkers(par.Workers, par.Partition, process)
		defer pool.stop()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var flushDue <-chan time.Time
		if len(deferred) > 0 {
			wait := min(flushIdle, time.Until(deferred[0].start.Add(flushMaxWait)))
			if wait <= 0 {
				flush()
				continue
			}
			timer.Reset(wait)
			flushDue = timer.C
		}
		bulk := bulkIn
		if liveDeferred {
			bulk = nil
		}
		var msg jetstream.Msg
		select {
		case msg = <-in: // a live message goes first
		default:
			select {
			case msg = <-in:
			case msg = <-bulk:
			case <-flushDue:
				flush()
				continue
			case <-mainDone:
				return nil
			}
		}
		timer.Stop()
		if pool != nil {
			if !pool.dispatch(ctx, msg) {
				_ = msg.Nak()
			}
			continue
		}
		process(msg)
		if len(deferred) >= flushEvery {
			flush()
		}
	}
}

// feed hands the iterator's messages to the loop until the iterator closes;
// route passes a message on, or settles it and says so (a message another
// lane has).
func feed(ctx context.Context, it jetstream.MessagesContext, in chan<- jetstream.Msg, consumer string,
	route func(context.Context, jetstream.Msg) (jetstream.Msg, bool), log *slog.Logger) {
	for {
		msg, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("consumer fetch failed; retrying", "consumer", consumer, "err", err)
			continue
		}
		msg, ok := route(ctx, msg)
		if !ok {
			continue
		}
		select {
		case in <- msg:
		case <-ctx.Done():
			_ = msg.Nak() // hand back what was buffered, until the drained iterator closes
		}
	}
}

type deferredMsg struct {
	msg   jetstream.Msg
	start time.Time
}

// handlerContext lets an in-flight message finish when shutdown starts,
// within a grace period; past it the handler is cancelled and the message
// stays unacked.
func handlerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownGrace, cancel) })
	return hctx, func() { stop(); cancel() }
}

// warnIfWentBack says, loudly, when the consumer had acknowledged messages
// past the stream's end: the stream lost them under it (NATS state lost,
// or restored from an older backup than the consumer's), and nothing else
// would notice.
func warnIfWentBack(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, cons jetstream.Consumer, log *slog.Logger) {
	ci := cons.CachedInfo()
	str, err := js.Stream(ctx, cfg.Stream)
	if ci == nil || err != nil {
		return
	}
	if last := str.CachedInfo().State.LastSeq; ci.AckFloor.Stream > last {
		log.Error("the stream went back under this consumer: it had acknowledged messages past the stream's end; what the stream held after its end is gone "+
			"(NATS state lost, or restored from an older backup?)", "consumer", cfg.Durable, "stream", cfg.Stream, "acknowledged_up_to", ci.AckFloor.Stream, "stream_ends_at", last)
	}
}
