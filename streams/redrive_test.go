package streams_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// A dead letter is redriven to the one consumer that refused it: the other
// consumer of the same subject never sees it again, and nothing is
// published, so the subject's newest message stays what it was. `dlq
// show`'s fields (stream, sequence, deliveries) come with it, and the
// filters select by consumer, subject and reason.
func TestARedriveReachesOnlyTheConsumerThatRefused(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, err := streams.NewPublisher(srv.JS, 10).Publish(ctx, testMsgs(5, 0))
	require.NoError(t, err)
	const poison = "edge.customer.001.000002"

	var mu sync.Mutex
	seen := map[string]map[string]int{"refuses": {}, "takes": {}}
	refusing := true
	handler := func(name string) streams.Handler {
		return func(_ context.Context, msg jetstream.Msg) error {
			mu.Lock()
			defer mu.Unlock()
			if name == "refuses" && msg.Subject() == poison && refusing {
				return streams.Permanent(errors.New("422 the partner refuses it"))
			}
			seen[name][msg.Subject()]++
			return nil
		}
	}
	for _, name := range []string{"refuses", "takes"} {
		stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: name, Stream: streams.StreamEdge, Filters: []string{"edge.>"}}, handler(name))
		t.Cleanup(stop)
		waitDrained(t, srv.JS, name)
	}
	dead, err := streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	d := dead[0]
	assert.Equal(t, streams.StreamEdge, d.Stream)
	assert.EqualValues(t, 3, d.StreamSeq)
	assert.Equal(t, 1, d.Deliveries)
	for _, f := range []streams.DeadFilter{{Consumer: "refuses"}, {Subject: "edge.customer.001.>"}, {Reason: "PARTNER REFUSES"}, {Seqs: []uint64{d.Seq}}, {}} {
		assert.True(t, f.Match(d), "%+v selects it", f)
	}
	for _, f := range []streams.DeadFilter{{Consumer: "takes"}, {Subject: "edge.sale.>"}, {Reason: "timeout"}, {Seqs: []uint64{d.Seq + 1}}} {
		assert.False(t, f.Match(d), "%+v does not", f)
	}
	lastBefore, err := srv.JS.Stream(ctx, streams.StreamEdge)
	require.NoError(t, err)
	before, err := lastBefore.GetLastMsgForSubject(ctx, poison)
	require.NoError(t, err)

	mu.Lock()
	refusing = false
	mu.Unlock()
	_, err = streams.Redrive(ctx, srv.JS, "takes", dead)
	assert.ErrorContains(t, err, "is refuses's", "a redrive is to the consumer that refused")
	r, err := streams.Redrive(ctx, srv.JS, "refuses", dead)
	require.NoError(t, err)
	require.Len(t, r.Redriven, 1)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen["refuses"][poison] == 1
	}, 10*time.Second, 20*time.Millisecond, "the consumer that refused it takes it")
	_, _, running, err := streams.ReplayProgress(ctx, srv.JS, streams.StreamEdge, "refuses")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, _, running, err = streams.ReplayProgress(ctx, srv.JS, streams.StreamEdge, "refuses")
		return err == nil && !running
	}, 10*time.Second, 20*time.Millisecond, "the redrive's replay consumer is gone once done")

	mu.Lock()
	assert.Equal(t, 1, seen["takes"][poison], "the other consumer never sees it again")
	mu.Unlock()
	after, err := lastBefore.GetLastMsgForSubject(ctx, poison)
	require.NoError(t, err)
	assert.Equal(t, before.Sequence, after.Sequence, "nothing was published: the subject's newest is what it was")
	dead, err = streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	assert.Empty(t, dead, "the redriven dead letter left the DLQ")
}

// Drop removes dead letters for good; what the stream no longer holds is
// kept by a redrive with the reason.
func TestDropAndWhatARedriveKeeps(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, err := streams.NewPublisher(srv.JS, 10).Publish(ctx, testMsgs(2, 0))
	require.NoError(t, err)
	stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "refuses", Stream: streams.StreamEdge, Filters: []string{"edge.>"}},
		func(context.Context, jetstream.Msg) error { return streams.Permanent(errors.New("refused")) })
	waitDrained(t, srv.JS, "refuses")
	stop()
	dead, err := streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	require.Len(t, dead, 2)
	edge, err := srv.JS.Stream(ctx, streams.StreamEdge)
	require.NoError(t, err)
	require.NoError(t, edge.Purge(ctx, jetstream.WithPurgeSubject(dead[0].Subject)))
	r, err := streams.Redrive(ctx, srv.JS, "refuses", dead[:1])
	require.NoError(t, err)
	require.Len(t, r.Kept, 1)
	assert.Contains(t, r.Kept[0].Why, "no longer holds anything on "+dead[0].Subject)
	require.NoError(t, streams.Drop(ctx, srv.JS, dead))
	left, err := streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	assert.Empty(t, left)
}

// "Do not retry" is said one way: Permanent, or an error that says so of
// itself (a partner's refusal, an Edge database's), however wrapped.
func TestIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"plain", errors.New("timeout"), false},
		{"marked", streams.Permanent(errors.New("bad body")), true},
		{"marked, wrapped", fmt.Errorf("push: %w", streams.Permanent(errors.New("bad body"))), true},
		{"says so itself, wrapped", fmt.Errorf("apply: %w", selfPermanent(true)), true},
		{"says it is not", fmt.Errorf("apply: %w", selfPermanent(false)), false},
		{"not yet", streams.NotYet(errors.New("customer first")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, streams.IsPermanent(tt.err)) })
	}
}

type selfPermanent bool

func (s selfPermanent) Error() string   { return "refused" }
func (s selfPermanent) Permanent() bool { return bool(s) }
