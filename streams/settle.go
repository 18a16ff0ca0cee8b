package streams

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/schemas"
)

// settle acknowledges, dead-letters or parks (schedules the redelivery
// of) a handled message, by its handler's verdict.
func settle(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, retry []time.Duration, park *parking, msg jetstream.Msg, err error, start time.Time, log *slog.Logger) {
	durable := cfg.Durable
	outcome := "done"
	defer func() { cfg.Metrics.observe(durable, outcome, time.Since(start).Seconds()) }()
	n, stored := 1, time.Time{}
	if md, merr := msg.Metadata(); merr == nil {
		n, stored = int(md.NumDelivered), md.Timestamp
	}
	if err != nil && !IsPermanent(err) && !IsNotYet(err) {
		if giveUp, since := park.failed(msg.Subject(), n, cfg.GiveUpAfter, cfg.PartnerOK, err); giveUp {
			err = Permanent(gaveUp(n, time.Since(since), err))
		}
	}
	switch {
	case err == nil:
		park.done(msg.Subject(), true)
		cfg.Metrics.done(durable, stored)
		if aerr := msg.Ack(); aerr != nil {
			log.Warn("ack failed; the message will be redelivered and skipped as already applied", append(recordAttrs(durable, msg), "err", aerr)...)
		}
	case IsPermanent(err):
		if derr := DeadLetter(ctx, js, durable, msg, err); derr != nil {
			log.Error("dead-letter failed; will redeliver", append(recordAttrs(durable, msg), "reason", err, "err", derr)...)
			outcome = "retry"
			_ = msg.NakWithDelay(retry[0])
			return
		}
		park.done(msg.Subject(), false)
		outcome = "dead_lettered"
		log.Warn("dead-lettered", append(recordAttrs(durable, msg), "reason", err)...)
		_ = msg.Ack()
	case IsNotYet(err):
		// An event that waits for another (a sale for its customer's
		// first upload) is the normal order of things, not a failure.
		delay := retry[min(n-1, len(retry)-1)]
		outcome = "waiting"
		log.Debug("waits for an earlier event; delivered again", append(recordAttrs(durable, msg), "attempt", n, "retry_in", delay, "why", err)...)
		_ = msg.NakWithDelay(delay)
	default:
		delay := retry[min(n-1, len(retry)-1)]
		outcome = "retry"
		log.Warn("handler failed; parked, the others go on, and it is delivered again", append(recordAttrs(durable, msg), "attempt", n, "retry_in", delay, "err", err)...)
		_ = msg.NakWithDelay(delay)
	}
}

// recordAttrs name a message for the log: its consumer, its subject, and
// the Edge key or partner id the subject holds.
func recordAttrs(durable string, msg jetstream.Msg) []any {
	attrs := []any{"consumer", durable, "subject", msg.Subject()}
	if s, err := schemas.ParseEdgeSubject(msg.Subject()); err == nil {
		return append(attrs, "edge_key", s.Key())
	}
	if p, err := schemas.ParsePartnerSubject(msg.Subject()); err == nil {
		return append(attrs, "partner_id", p.ID)
	}
	return attrs
}

// DLQ headers.
const (
	HeaderDLQReason   = "Edgesync-Dlq-Reason"
	HeaderDLQConsumer = "Edgesync-Dlq-Consumer"
	HeaderDLQStream   = "Edgesync-Dlq-Stream"
	HeaderDLQSequence = "Edgesync-Dlq-Sequence"
	HeaderDLQSubject  = "Edgesync-Dlq-Subject"
	// HeaderDLQDeliveries is how many times the consumer was given it.
	HeaderDLQDeliveries = "Edgesync-Dlq-Deliveries"
)

// DeadLetter stores msg on dlq.<consumer>.<subject> with the reason in its
// headers. The original body and headers are kept so `edgesync dlq` can
// show and replay it.
func DeadLetter(ctx context.Context, js jetstream.JetStream, consumer string, msg jetstream.Msg, reason error) error {
	dl := nats.NewMsg("dlq." + consumer + "." + msg.Subject())
	dl.Data = msg.Data()
	copyHeaders(dl.Header, msg.Headers())
	stream, seq, deliveries := "", uint64(0), uint64(0)
	if md, err := msg.Metadata(); err == nil {
		stream, seq, deliveries = md.Stream, md.Sequence.Stream, md.NumDelivered
	}
	dl.Header.Set(HeaderDLQReason, reason.Error())
	dl.Header.Set(HeaderDLQConsumer, consumer)
	dl.Header.Set(HeaderDLQStream, stream)
	dl.Header.Set(HeaderDLQSequence, strconv.FormatUint(seq, 10))
	dl.Header.Set(HeaderDLQSubject, msg.Subject())
	if deliveries > 0 {
		dl.Header.Set(HeaderDLQDeliveries, strconv.FormatUint(deliveries, 10))
	}
	dl.Header.Set(nats.MsgIdHdr, consumer+":"+stream+":"+strconv.FormatUint(seq, 10))
	if _, err := PublishMsg(ctx, js, dl); err != nil {
		return fmt.Errorf("publish dead letter for %s: %w", msg.Subject(), err)
	}
	return nil
}

// copyHeaders copies the event's own headers, not JetStream's control headers
// (Nats-Msg-Id, Nats-Batch-*, Nats-Expected-*...): copied onto another
// publish they would ask JetStream for something else (a batch, a dedupe).
func copyHeaders(dst, src nats.Header) {
	for k, vs := range src {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
