package streams_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// A consumer with a backlog says so within a second of starting, then how
// far it is with its pace and ETA, then that it caught up.
func TestAConsumerLogsItsProgressThroughABacklog(t *testing.T) {
	t.Cleanup(streams.SetProgressEvery(300 * time.Millisecond))
	ctx := context.Background()
	srv := natstest.Start(t)
	_, err := streams.NewPublisher(srv.JS, 100).Publish(ctx, testMsgs(100, 0))
	require.NoError(t, err)
	var out syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		_ = streams.Consume(cctx, srv.JS, streams.ConsumerConfig{Durable: "upload", Stream: streams.StreamEdge, Filters: []string{"edge.>"}},
			func(context.Context, jetstream.Msg) error { time.Sleep(25 * time.Millisecond); return nil }, log)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "msg=\"caught up\"") }, 20*time.Second, 50*time.Millisecond, out.String())
	logged := out.String()
	assert.Contains(t, logged, `msg="working off a backlog" consumer=upload left=`)
	assert.Regexp(t, `msg=progress consumer=upload finished=\d+ left=\d+ per_sec=[\d.]+ eta=\d+s`, logged)
	assert.Regexp(t, `msg="caught up" consumer=upload finished=\d+`, logged)
}
