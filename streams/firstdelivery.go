package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// A consumer created with DeliverLastPerSubject (every durable, for the
// current state of every aggregate, and a latest-per-subject replay) starts
// with a list the server makes at creation: the newest message of each
// subject. nats-server (2.15.3, the newest here) takes an entry off that
// list before it looks for a pull request to send it to, and when none is
// still listening (the process that made them was killed or stopped) it
// steps back in the stream but not in the list: that message is never
// delivered, and the ack floor passes it (TestNATSServerDropsTheFirstDelivery
// shows the server do it). A restarted writer lost a partner event that way
// (about one run in forty of e2e.TestWriterRestartsMidStreamWithoutLoss),
// and a connector restarted during its initial upload could lose an
// aggregate.
//
// So such a consumer records at its creation the last sequence its list can
// hold, and a process that finds it short of that sequence when it starts
// (another left it during the list) deletes it and creates it afresh. The
// new one delivers every subject's newest message again: handlers skip what
// they applied (the projection's versions, the writer's ledger) and apply
// what was dropped. One process per consumer: deleting it stops any other.

// metaFirstDelivery is the consumer metadata key holding that sequence.
const metaFirstDelivery = "edgesync_first_delivery_until"

// createRecorded creates a consumer and, when it starts with each subject's
// newest message, records where that list ends.
func createRecorded(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	if cc.DeliverPolicy != jetstream.DeliverLastPerSubjectPolicy {
		return js.CreateConsumer(ctx, stream, cc)
	}
	// The list holds the newest message of each subject when the server
	// makes it: at most the last sequence read before, unless a message came
	// in between, which the read after sees.
	before, err := lastSeq(ctx, js, stream, cc.FilterSubjects)
	if err != nil {
		return nil, err
	}
	cc.Metadata = maps.Clone(cc.Metadata)
	if cc.Metadata == nil {
		cc.Metadata = map[string]string{}
	}
	cc.Metadata[metaFirstDelivery] = strconv.FormatUint(before, 10)
	cons, err := js.CreateConsumer(ctx, stream, cc)
	if err != nil {
		return nil, err
	}
	// Should the read or the update fail (the server going away, the
	// process stopping), the record of before stands: short of the list's
	// end only by what came in the moment between.
	after, err := lastSeq(ctx, js, stream, cc.FilterSubjects)
	if err != nil || after == before {
		return cons, nil
	}
	cc.Metadata[metaFirstDelivery] = strconv.FormatUint(after, 10)
	if updated, err := js.UpdateConsumer(ctx, stream, cc); err == nil {
		return updated, nil
	}
	return cons, nil
}

// firstDeliveryLeft reports whether a consumer's list of newest messages was
// left unfinished. A consumer without the record (made by an earlier
// edgesync) counts as finished.
func firstDeliveryLeft(info *jetstream.ConsumerInfo) bool {
	v, ok := info.Config.Metadata[metaFirstDelivery]
	if !ok || info.Config.DeliverPolicy != jetstream.DeliverLastPerSubjectPolicy {
		return false
	}
	until, err := strconv.ParseUint(v, 10, 64)
	return err == nil && info.Delivered.Stream < until
}

// remake deletes a consumer left before the end of its list of newest
// messages and creates it afresh with cc.
func remake(ctx context.Context, js jetstream.JetStream, stream string, info *jetstream.ConsumerInfo, cc jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	log.Warn("consumer left before it had delivered the newest message of every subject; creating it afresh, as the server may have dropped one: what was applied is skipped",
		"consumer", info.Name, "stream", stream, "delivered_to", info.Delivered.Stream, "list_ends_at", info.Config.Metadata[metaFirstDelivery])
	if err := js.DeleteConsumer(ctx, stream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("delete consumer %s on %s: %w", info.Name, stream, err)
	}
	return createRecorded(ctx, js, stream, cc)
}

// recordOf is the record to carry over when a consumer's configuration is
// updated: the server's own metadata (_nats.*) is not ours to send back.
func recordOf(info *jetstream.ConsumerInfo) map[string]string {
	var out map[string]string
	for _, k := range []string{metaFirstDelivery, metaLiveFrom, metaBulkPending, metaVerify} {
		if v, ok := info.Config.Metadata[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// lastSeq is the newest sequence of stream among the subjects filters
// match (every subject when none); 0 when it holds none of them.
func lastSeq(ctx context.Context, js jetstream.JetStream, stream string, filters []string) (uint64, error) {
	if len(filters) == 0 {
		filters = []string{">"}
	}
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	var last uint64
	for _, f := range filters {
		msg, err := str.GetLastMsgForSubject(ctx, f)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("stream %s last message on %s: %w", stream, f, err)
		}
		last = max(last, msg.Sequence)
	}
	return last, nil
}
