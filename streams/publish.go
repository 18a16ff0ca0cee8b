package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

const (
	// errCodeBatchDuplicate: a batch holds a Nats-Msg-Id the stream has
	// already stored; the server rejects the whole batch.
	errCodeBatchDuplicate = 10201

	// MaxBatch is the server's default limit on an atomic batch.
	MaxBatch = 1000
)

// PublishResult counts what a publish stored.
type PublishResult struct {
	Stored     int // new messages
	Duplicates int // messages the stream already had (same Nats-Msg-Id)
}

// Publisher publishes groups of messages as atomic batches (ADR-50). With
// fsync on every write, one batch costs one fsync instead of one per message:
// that is how edgesync keeps durability and still moves tens of thousands of
// events a second.
type Publisher struct {
	js    jetstream.JetStream
	batch int
}

// NewPublisher returns a Publisher that cuts groups into batches of at most
// batch messages (MaxBatch when batch is 0 or larger than MaxBatch).
func NewPublisher(js jetstream.JetStream, batch int) *Publisher {
	if batch <= 0 || batch > MaxBatch {
		batch = MaxBatch
	}
	return &Publisher{js: js, batch: batch}
}

// BatchSize is the most messages one atomic batch holds.
func (p *Publisher) BatchSize() int { return p.batch }

// Publish stores msgs in order and returns once the stream has acknowledged
// all of them. Each message should carry a Nats-Msg-Id: a batch that meets a
// message already stored (a replay after a crash) is re-sent one message at a
// time so the stream can drop just the duplicates.
func (p *Publisher) Publish(ctx context.Context, msgs []*nats.Msg) (PublishResult, error) {
	var total PublishResult
	for start := 0; start < len(msgs); start += p.batch {
		end := min(start+p.batch, len(msgs))
		res, err := p.publishBatch(ctx, msgs[start:end])
		total.Stored += res.Stored
		total.Duplicates += res.Duplicates
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// InFlight is a publish on its way to the stream.
type InFlight struct {
	done chan struct{}
	res  PublishResult
	err  error
}

// Wait returns once the stream has acknowledged every message of the publish,
// or the publish failed.
func (p *InFlight) Wait() (PublishResult, error) {
	<-p.done
	return p.res, p.err
}

// Go starts Publish in the background, so the caller can prepare the next
// messages while these are sent and fsynced. msgs must not be touched until
// Wait returns. Order is the caller's to keep: a publish started after
// another may be stored before it, so wait for one before starting the next.
func (p *Publisher) Go(ctx context.Context, msgs []*nats.Msg) *InFlight {
	pend := &InFlight{done: make(chan struct{})}
	go func() {
		defer close(pend.done)
		pend.res, pend.err = p.Publish(ctx, msgs)
	}()
	return pend
}

// noAckFirst: the streams are provisioned with atomic publish allowed, so
// the commit's acknowledgement is the only one worth a round trip.
var noAckFirst = jetstreamext.BatchFlowControl{AckFirst: false}

func (p *Publisher) publishBatch(ctx context.Context, msgs []*nats.Msg) (PublishResult, error) {
	if len(msgs) == 0 {
		return PublishResult{}, nil
	}
	_, err := jetstreamext.PublishMsgBatch(ctx, p.js, msgs, noAckFirst)
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeBatchDuplicate {
		return p.publishEach(ctx, msgs)
	}
	if err != nil {
		return PublishResult{}, fmt.Errorf("commit batch of %d to %s: %w", len(msgs), msgs[0].Subject, err)
	}
	return PublishResult{Stored: len(msgs)}, nil
}

// publishEach is the slow path after a crash: asynchronous single publishes,
// each deduplicated by the stream on its own.
func (p *Publisher) publishEach(ctx context.Context, msgs []*nats.Msg) (PublishResult, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := p.js.PublishMsgAsync(m)
		if err != nil {
			return PublishResult{}, fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		futures = append(futures, f)
	}
	var res PublishResult
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				res.Duplicates++
			} else {
				res.Stored++
			}
		case err := <-f.Err():
			return res, fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return res, fmt.Errorf("publish: %w", ctx.Err())
		}
	}
	return res, nil
}

// ErrNoStreams is returned when edgesync's streams are missing.
var ErrNoStreams = errors.New("edgesync streams are not provisioned: run `edgesync streams init`")

// errCodeMsgIDInProcess: a message with this Nats-Msg-Id is being stored
// right now, by an earlier attempt whose answer was lost.
const errCodeMsgIDInProcess = 10158

// DefaultMaxPayload is NATS's default max_payload: the largest message
// assumed until a connection has told its server's.
const DefaultMaxPayload = 1 << 20

// MaxPayload is the largest message js's server takes, headers included.
func MaxPayload(js jetstream.JetStream) int64 {
	if nc := js.Conn(); nc != nil && nc.MaxPayload() > 0 {
		return nc.MaxPayload()
	}
	return DefaultMaxPayload
}

// PublishMsg publishes m, which should carry a Nats-Msg-Id, and waits for
// its acknowledgement, trying again while a clustered stream cannot answer:
// its leader moving after a server died (no response, a timeout), or an
// earlier attempt of the same message still in process. Without this, one
// server's death turns into minutes of refused webhooks, which Podium
// answers by pausing the store's deliveries for hours. It gives up on any
// other error, when ctx ends, or after 10 s.
func PublishMsg(ctx context.Context, js jetstream.JetStream, m *nats.Msg) (*jetstream.PubAck, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithInitialInterval(50*time.Millisecond),
		backoff.WithMaxInterval(time.Second), backoff.WithMaxElapsedTime(0)), ctx)
	return backoff.RetryWithData(func() (*jetstream.PubAck, error) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		ack, err := js.PublishMsg(actx, m)
		if err == nil || transient(err) {
			return ack, err
		}
		return nil, backoff.Permanent(err)
	}, b)
}

func transient(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrNoResponders) || (errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeMsgIDInProcess)
}
