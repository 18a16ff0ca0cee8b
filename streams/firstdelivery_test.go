package streams_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// publishSubjects stores one message on each of n subjects of EDGE.
func publishSubjects(t *testing.T, js jetstream.JetStream, n int) {
	for i := range n {
		_, err := js.Publish(context.Background(), fmt.Sprintf("edge.customer.001.%06d", i+1), []byte("{}"))
		require.NoError(t, err)
	}
}

// pullForNobody asks a consumer for messages on behalf of a process that is
// gone: its reply subject has no subscriber, as when the process that made
// the request was killed or stopped.
func pullForNobody(t *testing.T, nc *nats.Conn, stream, consumer string) {
	require.NoError(t, nc.PublishRequest(fmt.Sprintf("$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, consumer), "gone."+consumer,
		[]byte(`{"batch":5,"expires":2000000000}`)))
	require.NoError(t, nc.Flush())
	time.Sleep(100 * time.Millisecond) // the server handles the request on its own goroutine
}

// The defect firstdelivery.go works around, shown on nats-server itself:
// a consumer starting with each subject's newest message drops one for good
// when its pull request's requester is gone. If this fails, the server
// delivers all ten: the defect is fixed, and the guard can go.
func TestNATSServerDropsTheFirstDelivery(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	publishSubjects(t, srv.JS, 10)
	cons, err := srv.JS.CreateConsumer(ctx, streams.StreamEdge, jetstream.ConsumerConfig{Durable: "plain", FilterSubjects: []string{"edge.>"},
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	pullForNobody(t, srv.NC, streams.StreamEdge, "plain")

	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(time.Second))
	require.NoError(t, err)
	n := 0
	for m := range batch.Messages() {
		require.NoError(t, m.DoubleAck(ctx))
		n++
	}
	assert.Equal(t, 9, n, "one of the ten subjects' newest messages is never delivered")
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	assert.Zero(t, info.NumPending+uint64(info.NumAckPending), "and the server holds nothing more for the consumer")
}

// handled records the messages a handler got, by subject.
type handled struct {
	mu       sync.Mutex
	subjects map[string]int
}

func (h *handled) handle(_ context.Context, msg jetstream.Msg) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subjects == nil {
		h.subjects = map[string]int{}
	}
	h.subjects[msg.Subject()]++
	return nil
}

// counts returns a copy of how many times each subject was handled.
func (h *handled) counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.subjects)
}

func (h *handled) distinct() int { return len(h.counts()) }

func (h *handled) total() int {
	n := 0
	for _, c := range h.counts() {
		n += c
	}
	return n
}

// A durable left during its first delivery, before or after handling some
// of it, is created afresh by the next process: every subject's newest
// message is handled. One that finished it keeps its place.
func TestAConsumerLeftInItsFirstDeliveryLosesNothing(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	publishSubjects(t, srv.JS, 40)
	cfg := streams.ConsumerConfig{Durable: "left", Stream: streams.StreamEdge, Filters: []string{"edge.customer.>"}}
	var h handled
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// A process made the consumer and was gone before its first pull was
	// answered.
	_, err := streams.EnsureConsumer(ctx, srv.JS, cfg, log)
	require.NoError(t, err)
	pullForNobody(t, srv.NC, streams.StreamEdge, cfg.Durable)
	// The next handled a quarter of the list, and was gone too.
	cctx, cancel := context.WithCancel(ctx)
	require.NoError(t, streams.Consume(cctx, srv.JS, cfg, func(ctx context.Context, msg jetstream.Msg) error {
		if h.distinct() == 10 {
			cancel()
		}
		return h.handle(ctx, msg)
	}, log))
	require.Less(t, h.distinct(), 40, "stopped during the first delivery")
	pullForNobody(t, srv.NC, streams.StreamEdge, cfg.Durable)

	stop := startConsumer(srv.JS, cfg, h.handle)
	require.Eventually(t, func() bool { return h.distinct() == 40 }, 10*time.Second, 20*time.Millisecond, "every subject handled")
	waitDrained(t, srv.JS, cfg.Durable)
	stop()

	// Past its first delivery, a consumer is kept: a restart delivers only
	// what is new.
	before := h.counts()
	_, err = srv.JS.Publish(ctx, "edge.customer.001.000041", []byte("{}"))
	require.NoError(t, err)
	stop = startConsumer(srv.JS, cfg, h.handle)
	require.Eventually(t, func() bool { return h.distinct() == 41 }, 10*time.Second, 20*time.Millisecond)
	waitDrained(t, srv.JS, cfg.Durable)
	stop()
	after := h.counts()
	delete(after, "edge.customer.001.000041")
	assert.Equal(t, before, after, "nothing handled before came again")
}

// A latest-per-subject replay left during its list is made afresh by the
// next process too.
func TestAReplayLeftInItsFirstDeliveryLosesNothing(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	publishSubjects(t, srv.JS, 20)
	cfg := streams.ConsumerConfig{Durable: "replayed", Stream: streams.StreamEdge, Filters: []string{"edge.customer.>"}}
	var h handled
	stop := startConsumer(srv.JS, cfg, h.handle)
	waitDrained(t, srv.JS, cfg.Durable)
	stop()
	_, err := streams.StartReplay(ctx, srv.JS, streams.ReplayConfig{Stream: streams.StreamEdge, Durable: cfg.Durable, From: streams.LatestPerSubject})
	require.NoError(t, err)
	pullForNobody(t, srv.NC, streams.StreamEdge, streams.ReplayName(cfg.Durable))

	stop = startConsumer(srv.JS, cfg, h.handle)
	defer stop()
	require.Eventually(t, func() bool {
		_, _, running, err := streams.ReplayProgress(ctx, srv.JS, streams.StreamEdge, cfg.Durable)
		return err == nil && !running
	}, 20*time.Second, 50*time.Millisecond, "the replay ends")
	assert.Equal(t, 40, h.total(), "the first delivery and the whole replay")
}
