package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	Msg      *nats.Msg // the original message, headers included
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
		out = append(out, DeadMsg{Seq: seq, Time: raw.Time, Subject: raw.Header.Get(HeaderDLQSubject),
			Consumer: raw.Header.Get(HeaderDLQConsumer), Reason: raw.Header.Get(HeaderDLQReason), Msg: m})
	}
	return out, nil
}

// CaptureDLQConsumer is the DLQ consumer name of an Edge row capture could
// not publish: such a record has no event behind it, so it is never replayed.
const CaptureDLQConsumer = "capture"

// Replay publishes a dead letter again on its original subject, once the
// cause is fixed, and removes it from the DLQ. The replay gets its own
// Nats-Msg-Id, since the original one is likely still in the dedupe window;
// consumers skip a state they already applied (versions, ledger).
func Replay(ctx context.Context, js jetstream.JetStream, d DeadMsg) error {
	if d.Consumer == CaptureDLQConsumer {
		return fmt.Errorf("dlq message %d records an Edge row capture could not publish (%s): there is no event to replay; fix the row in Edge, and its next change is captured as usual", d.Seq, d.Reason)
	}
	if d.Subject == "" {
		return fmt.Errorf("dlq message %d has no original subject (a webhook that could not be read is kept for inspection only)", d.Seq)
	}
	m := nats.NewMsg(d.Subject)
	m.Data = d.Msg.Data
	copyHeaders(m.Header, d.Msg.Header)
	for _, h := range []string{HeaderDLQReason, HeaderDLQConsumer, HeaderDLQStream, HeaderDLQSequence, HeaderDLQSubject} {
		m.Header.Del(h)
	}
	m.Header.Set(nats.MsgIdHdr, "replay:"+strconv.FormatUint(d.Seq, 10)+":"+d.Msg.Header.Get("ce-id"))
	if _, err := PublishMsg(ctx, js, m); err != nil {
		return fmt.Errorf("replay dlq message %d to %s: %w", d.Seq, d.Subject, err)
	}
	s, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	if err := s.DeleteMsg(ctx, d.Seq); err != nil {
		return fmt.Errorf("remove replayed dlq message %d: %w", d.Seq, err)
	}
	return nil
}
