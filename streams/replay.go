package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReplayName is the name of a durable's replay consumer.
func ReplayName(durable string) string { return durable + "-replay" }

// ReplayFrom is where a replay starts.
type ReplayFrom int

const (
	// FromStart replays every message the stream still holds.
	FromStart ReplayFrom = iota + 1
	// FromTime replays the messages stored since ReplayConfig.Since.
	FromTime
	// LatestPerSubject replays the newest message of every subject: the
	// current state of every aggregate, not its history.
	LatestPerSubject
	// FromSequence replays the messages from ReplayConfig.Seq on.
	FromSequence
)

// ReplayConfig describes a replay of a durable consumer.
type ReplayConfig struct {
	Stream  string
	Durable string
	From    ReplayFrom
	Since   time.Time // with FromTime
	Seq     uint64    // with FromSequence
	// Filters narrow the replay to some of the durable's subjects (an
	// entity, a store, one aggregate); empty replays all of them.
	Filters []string
}

// StartReplay creates the durable's replay consumer. The running consumer
// (Consume) picks it up within seconds, handles its messages with the same
// handler as live ones, and deletes it when it has nothing left; a handler
// that skips what it already applied makes a replay cost nothing at the
// partner. It returns how many messages the replay holds.
func StartReplay(ctx context.Context, js jetstream.JetStream, cfg ReplayConfig) (uint64, error) {
	main, err := js.Consumer(ctx, cfg.Stream, cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, fmt.Errorf("%s has no consumer on %s yet: its first start sends the latest state of every aggregate by itself, so start it instead of replaying", cfg.Durable, cfg.Stream)
	}
	if err != nil {
		return 0, fmt.Errorf("replay %s: read its consumer: %w", cfg.Durable, err)
	}
	if _, err := js.Consumer(ctx, cfg.Stream, ReplayName(cfg.Durable)); err == nil {
		return 0, fmt.Errorf("a replay of %s is already running: wait for it to finish, or cancel it with `edgesync replay --connector %s --cancel`", cfg.Durable, cfg.Durable)
	}
	// The replay reads within the durable's subjects, and acknowledges and
	// redelivers as the durable does.
	durable := main.CachedInfo().Config
	own := Filters(durable)
	filters := own
	if len(cfg.Filters) > 0 {
		filters = nil
		for _, f := range cfg.Filters {
			if !withinAny(f, own) {
				return 0, fmt.Errorf("replay %s: %s is not among its subjects (%s)", cfg.Durable, f, strings.Join(own, ", "))
			}
			filters = append(filters, f)
		}
	}
	cc := jetstream.ConsumerConfig{
		Durable:        ReplayName(cfg.Durable),
		Description:    "edgesync replay of " + cfg.Durable + "; deleted by the consumer when done",
		FilterSubjects: filters,
		AckPolicy:      durable.AckPolicy,
		AckWait:        durable.AckWait,
		MaxDeliver:     durable.MaxDeliver,
		MaxAckPending:  durable.MaxAckPending,
	}
	switch cfg.From {
	case FromStart:
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	case FromTime:
		if cfg.Since.IsZero() {
			return 0, errors.New("replay: a replay from a time needs the time")
		}
		since := cfg.Since
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	case LatestPerSubject:
		cc.DeliverPolicy = jetstream.DeliverLastPerSubjectPolicy
	case FromSequence:
		if cfg.Seq == 0 {
			return 0, errors.New("replay: a replay from a sequence needs the sequence")
		}
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cfg.Seq
	default:
		return 0, errors.New("replay: say where it starts: from the start, since a time, or the latest per subject")
	}
	cons, err := createRecorded(ctx, js, cfg.Stream, cc)
	if err != nil {
		return 0, fmt.Errorf("replay %s: create %s: %w", cfg.Durable, cc.Durable, err)
	}
	return cons.CachedInfo().NumPending, nil
}

// CancelReplay deletes the durable's replay consumer, if any.
func CancelReplay(ctx context.Context, js jetstream.JetStream, stream, durable string) error {
	err := js.DeleteConsumer(ctx, stream, ReplayName(durable))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("no replay of %s is running", durable)
	}
	if err != nil {
		return fmt.Errorf("cancel the replay of %s: %w", durable, err)
	}
	return nil
}

// ReplayProgress reads a running replay: messages acknowledged and left.
// running is false once the consumer has finished it (or it was cancelled).
func ReplayProgress(ctx context.Context, js jetstream.JetStream, stream, durable string) (done, left uint64, running bool, err error) {
	cons, err := js.Consumer(ctx, stream, ReplayName(durable))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("replay of %s: %w", durable, err)
	}
	info := cons.CachedInfo()
	return info.AckFloor.Consumer, info.NumPending + uint64(info.NumAckPending), true, nil
}

// withinAny reports whether every subject subject matches is matched by one
// of filters.
func withinAny(subject string, filters []string) bool {
	for _, f := range filters {
		if within(subject, f) {
			return true
		}
	}
	return false
}

// within reports whether the subjects sub matches are a subset of those
// filter matches, token by token (NATS wildcards: * one token, > the rest).
func within(sub, filter string) bool {
	st, ft := strings.Split(sub, "."), strings.Split(filter, ".")
	for i, f := range ft {
		if f == ">" {
			return i < len(st)
		}
		if i >= len(st) {
			return false
		}
		switch {
		case st[i] == ">":
			return false
		case f == "*":
		case f != st[i] || st[i] == "*":
			return false
		}
	}
	return len(st) == len(ft)
}
