package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Pending returns how many messages a durable consumer has not yet
// acknowledged (waiting plus in flight), its bulk lanes' included. The
// server counts a newly stored message into a consumer's pending total
// asynchronously, so a zero count is checked against the newest message
// each filter matches: Pending never reports zero while a stored message is
// still undelivered.
func Pending(ctx context.Context, js jetstream.JetStream, stream, durable string) (uint64, error) {
	n, err := pendingOf(ctx, js, stream, durable)
	if err != nil {
		return 0, err
	}
	lanes, err := BulkLanes(ctx, js, stream, durable)
	if err != nil {
		return 0, err
	}
	for _, name := range lanes {
		m, err := pendingOf(ctx, js, stream, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue // done and deleted meanwhile
		}
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

// BulkLanes names the bulk lanes of durable that exist (ConsumerConfig.Lanes):
// one per store while it has an upload, a snapshot or a replay to work off.
func BulkLanes(ctx context.Context, js jetstream.JetStream, stream, durable string) ([]string, error) {
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	var out []string
	list := str.ConsumerNames(ctx)
	for name := range list.Name() {
		if strings.HasPrefix(name, bulkPrefix(durable)) {
			out = append(out, name)
		}
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("consumers of %s: %w", stream, err)
	}
	return out, nil
}

func pendingOf(ctx context.Context, js jetstream.JetStream, stream, name string) (uint64, error) {
	cons, err := js.Consumer(ctx, stream, name)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", name, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s info: %w", name, err)
	}
	if n := info.NumPending + uint64(info.NumAckPending); n > 0 {
		return n, nil
	}
	if info.Config.Metadata[metaBulkPending] != "" {
		return 1, nil // a new live lane whose bulk lanes are not open yet: its backfill is still to come
	}
	last, err := lastSeq(ctx, js, stream, Filters(info.Config))
	if err != nil {
		return 0, err
	}
	if last > info.Delivered.Stream {
		return 1, nil
	}
	return 0, nil
}

// Filters are the subjects a consumer reads: its filters, or every subject
// of its stream when it has none.
func Filters(cfg jetstream.ConsumerConfig) []string {
	filters := append([]string{}, cfg.FilterSubjects...)
	if cfg.FilterSubject != "" {
		filters = append(filters, cfg.FilterSubject)
	}
	if len(filters) == 0 {
		filters = []string{">"}
	}
	return filters
}

// SubjectCount is how many subjects of stream filter matches: the
// aggregates it holds.
func SubjectCount(ctx context.Context, js jetstream.JetStream, stream, filter string) (int, error) {
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := str.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("stream %s subjects %s: %w", stream, filter, err)
	}
	return len(info.State.Subjects), nil
}
