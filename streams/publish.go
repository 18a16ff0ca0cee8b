package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// JetStream's atomic batch headers (ADR-50).
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"

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

// Publisher publishes groups of messages as atomic batches. With fsync on
// every write, one batch costs one fsync instead of one per message: that is
// how edgesync keeps durability and still moves tens of thousands of events a
// second.
type Publisher struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	batch int
}

// NewPublisher returns a Publisher that cuts groups into batches of at most
// batch messages (MaxBatch when batch is 0 or larger than MaxBatch).
func NewPublisher(nc *nats.Conn, js jetstream.JetStream, batch int) *Publisher {
	if batch <= 0 || batch > MaxBatch {
		batch = MaxBatch
	}
	return &Publisher{nc: nc, js: js, batch: batch}
}

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

type batchAck struct {
	Error *jetstream.APIError `json:"error,omitempty"`
	Seq   uint64              `json:"seq"`
	Count int                 `json:"count"`
}

func (p *Publisher) publishBatch(ctx context.Context, msgs []*nats.Msg) (PublishResult, error) {
	id := nuid.Next()
	last := len(msgs) - 1
	for i, m := range msgs {
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i < last {
			if err := p.nc.PublishMsg(m); err != nil {
				return PublishResult{}, fmt.Errorf("publish batch %s to %s: %w", id, m.Subject, err)
			}
		}
	}
	commit := msgs[last]
	commit.Header.Set(hdrBatchCommit, "1")
	reply, err := p.nc.RequestMsgWithContext(ctx, commit)
	for _, m := range msgs {
		m.Header.Del(hdrBatchID)
		m.Header.Del(hdrBatchSeq)
		m.Header.Del(hdrBatchCommit)
	}
	if err != nil {
		return PublishResult{}, fmt.Errorf("commit batch %s of %d: %w", id, len(msgs), err)
	}
	var ack batchAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return PublishResult{}, fmt.Errorf("commit batch %s: decode ack: %w", id, err)
	}
	if ack.Error != nil {
		if ack.Error.ErrorCode == errCodeBatchDuplicate {
			return p.publishEach(ctx, msgs)
		}
		return PublishResult{}, fmt.Errorf("commit batch %s of %d: %w", id, len(msgs), ack.Error)
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
