package streams_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
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
// cause is fixed, a redrive delivers it again to the consumer, even one
// that was not running when it was asked for.
func TestDeadLetterAndReplay(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, err := streams.NewPublisher(srv.JS, 10).Publish(ctx, testMsgs(3, 0))
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
		stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "test", Stream: streams.StreamEdge, Filters: []string{"edge.>"}}, h)
		time.Sleep(300 * time.Millisecond)
		stop()
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
	_, err = streams.Redrive(ctx, srv.JS, "test", dead)
	require.NoError(t, err)
	stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "test", Stream: streams.StreamEdge, Filters: []string{"edge.>"}}, h)
	defer stop()
	require.Eventually(t, func() bool { return handled.Load() == 3 }, 10*time.Second, 20*time.Millisecond,
		"the redriven message reached the consumer once it ran again")
	dead, err = streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	assert.Empty(t, dead)
}

// Handlers may defer their work to a flush that serves many messages with
// one call; each message is still settled on its own: done, dead-lettered
// or redelivered, by the outcome the flush reports for it.
func TestDeferredMessagesAreSettledByTheFlush(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, err := streams.NewPublisher(srv.JS, 10).Publish(ctx, testMsgs(25, 0))
	require.NoError(t, err)

	var mu sync.Mutex
	var batch []string
	var flushes []int
	failedOnce := false
	h := func(_ context.Context, msg jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		batch = append(batch, msg.Subject())
		return streams.ErrLater
	}
	flush := func(context.Context) []error {
		mu.Lock()
		defer mu.Unlock()
		flushes = append(flushes, len(batch))
		out := make([]error, len(batch))
		for i, subj := range batch {
			switch {
			case subj == "edge.customer.001.000003":
				out[i] = streams.Permanent(errors.New("refused"))
			case subj == "edge.customer.001.000004" && !failedOnce:
				failedOnce, out[i] = true, errors.New("partner down")
			}
		}
		batch = nil
		return out
	}
	stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "batched", Stream: streams.StreamEdge, Filters: []string{"edge.>"},
		Retry: []time.Duration{20 * time.Millisecond}, Execution: streams.Batch{Flush: flush, Every: 10}}, h)
	waitDrained(t, srv.JS, "batched")
	stop()

	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range flushes {
		assert.LessOrEqual(t, n, 10, "a flush serves at most Every messages")
		total += n
	}
	assert.Equal(t, 26, total, "25 messages, one of them redelivered after its flush failed")
	assert.Less(t, len(flushes), 10, "messages share flushes")
	dead, err := streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "edge.customer.001.000003", dead[0].Subject)
}

// Gathered messages are flushed once the first of them has waited
// MaxWait, even while new ones keep coming: under a steady trickle (one
// message every 10 ms here, faster than Idle) the idle timer never
// fires, and each message would wait until Every had gathered.
func TestATrickleIsFlushedWithoutWaitingForAFullList(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	var mu sync.Mutex
	gathered, flushes := 0, 0
	h := func(context.Context, jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		gathered++
		return streams.ErrLater
	}
	flush := func(context.Context) []error {
		mu.Lock()
		defer mu.Unlock()
		out := make([]error, gathered)
		gathered = 0
		flushes++
		return out
	}
	stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "trickle", Stream: streams.StreamEdge, Filters: []string{"edge.>"},
		Execution: streams.Batch{Flush: flush, Every: 100, Idle: time.Second, MaxWait: 30 * time.Millisecond}}, h)
	pub := streams.NewPublisher(srv.JS, 1)
	for i := range 50 {
		_, err := pub.Publish(ctx, testMsgs(1, i))
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond)
	}
	waitDrained(t, srv.JS, "trickle")
	stop()
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, flushes, 5, "50 messages over half a second are not held for a list of 100")
}

// startConsumer runs Consume until the returned stop is called.
func startConsumer(js jetstream.JetStream, cfg streams.ConsumerConfig, h streams.Handler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = streams.Consume(ctx, js, cfg, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	return func() { cancel(); <-done }
}

// waitDrained waits until a durable on EDGE has nothing pending.
func waitDrained(t *testing.T, js jetstream.JetStream, durable string) {
	require.Eventually(t, func() bool {
		n, err := streams.Pending(context.Background(), js, streams.StreamEdge, durable)
		return err == nil && n == 0
	}, 10*time.Second, 20*time.Millisecond)
}
