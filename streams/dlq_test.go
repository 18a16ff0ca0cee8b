package streams_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// A message a handler refuses lands in the DLQ with its reason; once the
// cause is fixed, a replay delivers it again to the consumer.
func TestDeadLetterAndReplay(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, err := streams.NewPublisher(srv.NC, srv.JS, 10).Publish(ctx, testMsgs(3, 0))
	require.NoError(t, err)

	var fixed atomic.Bool
	var handled atomic.Int32
	h := func(_ context.Context, msg jetstream.Msg) error {
		if msg.Subject() == "edge.customer.001.000001" && !fixed.Load() {
			return streams.Permanent(errors.New("customer 001-000001 has no store location"))
		}
		handled.Add(1)
		return nil
	}
	run := func() {
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			_ = streams.Consume(cctx, srv.JS, streams.ConsumerConfig{Durable: "test", Stream: streams.StreamEdge, Filters: []string{"edge.>"}}, h,
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			close(done)
		}()
		time.Sleep(300 * time.Millisecond)
		cancel()
		<-done
	}
	run()
	assert.EqualValues(t, 2, handled.Load())
	dead, err := streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "edge.customer.001.000001", dead[0].Subject)
	assert.Equal(t, "test", dead[0].Consumer)
	assert.Contains(t, dead[0].Reason, "no store location")

	fixed.Store(true)
	require.NoError(t, streams.Replay(ctx, srv.JS, dead[0]))
	run()
	assert.EqualValues(t, 3, handled.Load(), "the replayed message reached the consumer")
	dead, err = streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	assert.Empty(t, dead)
}
