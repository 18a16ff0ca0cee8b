package streams_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// A consumer's middleware wraps its handler for every message, in order,
// and sees what the handler answered; the consumer still settles each
// message by that answer.
func TestMiddlewareWrapsEveryMessage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := natstest.Start(t)
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	mw := func(name string) streams.Middleware {
		return func(next streams.Handler) streams.Handler {
			return func(ctx context.Context, msg jetstream.Msg) error {
				note(name + " " + msg.Subject())
				err := next(ctx, msg)
				if err != nil {
					note(name + " saw " + err.Error())
				}
				return err
			}
		}
	}
	h := func(_ context.Context, msg jetstream.Msg) error {
		note("handler " + msg.Subject())
		if msg.Subject() == "edge.note.001.000002" {
			return streams.Permanent(assert.AnError)
		}
		return nil
	}
	for _, subj := range []string{"edge.note.001.000001", "edge.note.001.000002"} {
		_, err := srv.JS.Publish(ctx, subj, []byte("{}"))
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() {
		done <- streams.Consume(ctx, srv.JS, streams.ConsumerConfig{Durable: "mw", Stream: streams.StreamEdge, Filters: []string{"edge.note.>"},
			Middleware: []streams.Middleware{mw("outer"), mw("inner")}}, h, nil)
	}()
	require.Eventually(t, func() bool {
		n, err := streams.Pending(ctx, srv.JS, streams.StreamEdge, "mw")
		return err == nil && n == 0
	}, 20*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{
		"outer edge.note.001.000001", "inner edge.note.001.000001", "handler edge.note.001.000001",
		"outer edge.note.001.000002", "inner edge.note.001.000002", "handler edge.note.001.000002",
		"inner saw " + assert.AnError.Error(), "outer saw " + assert.AnError.Error(),
	}, order)
	dead, err := streams.DeadLetters(context.Background(), srv.JS, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1, "the consumer settled the refused message")
}
