package streams

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadMsg is one message in the DLQ stream.
type DeadMsg struct {
	Seq      uint64 // in the DLQ stream
	Time     time.Time
	Subject  string // the original subject
	Consumer string
	Reason   string
	// Stream and StreamSeq are where the original message is (empty and 0
	// for a webhook that could not be read, or an Edge row capture could
	// not publish).
	Stream    string
	StreamSeq uint64
	// Deliveries is how many times the consumer was given it (0 when the
	// dead letter predates the count).
	Deliveries int
	Msg        *nats.Msg // the original message, headers included
}

// DeadFilter selects dead letters; the zero value selects all of them.
type DeadFilter struct {
	Seqs     []uint64 // DLQ sequences
	Consumer string
	Subject  string // the original subject, NATS wildcards allowed
	Reason   string // a part of the reason, any case
}

// Empty reports whether f selects every dead letter.
func (f DeadFilter) Empty() bool {
	return len(f.Seqs) == 0 && f.Consumer == "" && f.Subject == "" && f.Reason == ""
}

// Match reports whether f selects d.
func (f DeadFilter) Match(d DeadMsg) bool {
	if len(f.Seqs) > 0 && !slices.Contains(f.Seqs, d.Seq) {
		return false
	}
	if f.Consumer != "" && d.Consumer != f.Consumer {
		return false
	}
	if f.Subject != "" && (d.Subject == "" || !within(d.Subject, f.Subject)) {
		return false
	}
	return f.Reason == "" || strings.Contains(strings.ToLower(d.Reason), strings.ToLower(f.Reason))
}

// DeadLetters lists the DLQ, oldest first, at most limit messages (0: all).
func DeadLetters(ctx context.Context, js jetstream.JetStream, limit int) ([]DeadMsg, error) {
	s, err := js.Stream(ctx, StreamDLQ)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNoStreams
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	var out []DeadMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		if limit > 0 && len(out) >= limit {
			break
		}
		raw, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted after a replay
		}
		if err != nil {
			return nil, fmt.Errorf("dlq message %d: %w", seq, err)
		}
		m := nats.NewMsg(raw.Header.Get(HeaderDLQSubject))
		m.Data = raw.Data
		for k, vs := range raw.Header {
			m.Header[k] = vs
		}
		origSeq, _ := strconv.ParseUint(raw.Header.Get(HeaderDLQSequence), 10, 64)
		deliveries, _ := strconv.Atoi(raw.Header.Get(HeaderDLQDeliveries))
		out = append(out, DeadMsg{Seq: seq, Time: raw.Time, Subject: raw.Header.Get(HeaderDLQSubject),
			Consumer: raw.Header.Get(HeaderDLQConsumer), Reason: raw.Header.Get(HeaderDLQReason),
			Stream: raw.Header.Get(HeaderDLQStream), StreamSeq: origSeq, Deliveries: deliveries, Msg: m})
	}
	return out, nil
}

// CaptureDLQConsumer is the DLQ consumer name of an Edge row capture could
// not publish: such a record has no event behind it, so it is never replayed.
const CaptureDLQConsumer = "capture"

// maxRedrive bounds the dead letters one redrive takes: they become the
// filter subjects of one replay consumer. The rest wait for the next run.
const maxRedrive = 256

// Redriven is what a redrive did.
type Redriven struct {
	Consumer string
	Redriven []DeadMsg // delivered again, and removed from the DLQ
	Kept     []Kept    // left in the DLQ, with why
	More     int       // selected, and left for the next run (maxRedrive)
}

// Kept is a dead letter a redrive could not deliver again.
type Kept struct {
	DeadMsg
	Why string
}

// Redrive delivers dead letters again to the one consumer that refused
// them, and to no other: nothing is published, so no other consumer sees
// the message again and no old state becomes its subject's newest (which a
// later latest-per-subject replay would take as current). It starts a
// replay of the consumer (StartReplay) from the oldest dead letter's
// sequence, on their subjects only; the consumer handles it with its live
// flow and skips what it applied since (versions, the writer's ledger).
// Where the stream no longer holds the message, the subject's newer states
// stand in for it; a subject the stream no longer holds at all is kept in
// the DLQ. Every dead letter must be the consumer's.
func Redrive(ctx context.Context, js jetstream.JetStream, consumer string, dead []DeadMsg) (Redriven, error) {
	out := Redriven{Consumer: consumer}
	var (
		stream  string
		str     jetstream.Stream // stream's, opened once
		from    uint64
		subject = map[string]bool{}
	)
	for _, d := range dead {
		if d.Consumer != consumer {
			return out, fmt.Errorf("redrive %s: dlq message %d is %s's", consumer, d.Seq, d.Consumer)
		}
		switch {
		case d.Consumer == CaptureDLQConsumer:
			out.Kept = append(out.Kept, Kept{d, "an Edge row capture could not publish: there is no event to redrive; fix the row in Edge, and its next change is captured as usual"})
			continue
		case d.Subject == "" || d.Stream == "" || d.StreamSeq == 0:
			out.Kept = append(out.Kept, Kept{d, "no original message to redrive (a webhook that could not be read is kept for inspection only; `dlq drop` removes it)"})
			continue
		case stream != "" && d.Stream != stream:
			return out, fmt.Errorf("redrive %s: its dead letters come from %s and %s", consumer, stream, d.Stream)
		case len(subject) >= maxRedrive && !subject[d.Subject]:
			out.More++
			continue
		}
		if str == nil {
			var err error
			if str, err = js.Stream(ctx, d.Stream); err != nil {
				return out, fmt.Errorf("redrive %s: stream %s: %w", consumer, d.Stream, err)
			}
		}
		stream = d.Stream
		held, err := holds(ctx, str, d.Subject)
		if err != nil {
			return out, fmt.Errorf("redrive %s: %w", consumer, err)
		}
		if !held {
			out.Kept = append(out.Kept, Kept{d, "the stream " + d.Stream + " no longer holds anything on " + d.Subject + " (past its retention); its next change is delivered as usual"})
			continue
		}
		subject[d.Subject] = true
		if from == 0 || d.StreamSeq < from {
			from = d.StreamSeq
		}
		out.Redriven = append(out.Redriven, d)
	}
	if len(out.Redriven) == 0 {
		return out, nil
	}
	_, err := StartReplay(ctx, js, ReplayConfig{Stream: stream, Durable: consumer, From: FromSequence, Seq: from, Filters: slices.Sorted(maps.Keys(subject))})
	if err != nil {
		out.Kept = nil
		out.Redriven = nil
		return out, fmt.Errorf("redrive %s: %w", consumer, err)
	}
	dlq, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return out, fmt.Errorf("dlq: %w", err)
	}
	for _, d := range out.Redriven {
		if err := dlq.DeleteMsg(ctx, d.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, fmt.Errorf("remove redriven dlq message %d: %w", d.Seq, err)
		}
	}
	return out, nil
}

// holds reports whether str still holds a message on subject.
func holds(ctx context.Context, str jetstream.Stream, subject string) (bool, error) {
	_, err := str.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s on %s: %w", subject, str.CachedInfo().Config.Name, err)
	}
	return true, nil
}

// Drop removes dead letters from the DLQ for good.
func Drop(ctx context.Context, js jetstream.JetStream, dead []DeadMsg) error {
	s, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	for _, d := range dead {
		if err := s.DeleteMsg(ctx, d.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("drop dlq message %d: %w", d.Seq, err)
		}
	}
	return nil
}
