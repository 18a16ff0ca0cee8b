package streams_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

func TestProvisionIsIdempotentAndConverges(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t) // provisions once

	cfg := streams.DefaultConfig()
	require.NoError(t, streams.Provision(ctx, srv.JS, cfg), "second run with the same config")

	cfg.Duplicates = 30 * time.Minute
	cfg.PartnerMaxAge = 7 * 24 * time.Hour
	require.NoError(t, streams.Provision(ctx, srv.JS, cfg), "run with a changed config updates")

	s, err := srv.JS.Stream(ctx, streams.StreamPartner)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, 30*time.Minute, info.Config.Duplicates)
	assert.Equal(t, 7*24*time.Hour, info.Config.MaxAge)

	for _, b := range []string{streams.BucketCheckpoints, streams.BucketLinks, streams.BucketProjection} {
		_, err := srv.JS.KeyValue(ctx, b)
		assert.NoError(t, err, b)
	}
}

func TestProvisionRejectsBadConfig(t *testing.T) {
	srv := natstest.Start(t)
	tests := []struct {
		name string
		edit func(*streams.Config)
		want string
	}{
		{"zero replicas", func(c *streams.Config) { c.Replicas = 0 }, "replicas 0"},
		{"no dedupe window", func(c *streams.Config) { c.Duplicates = 0 }, "duplicates window"},
		{"max age under window", func(c *streams.Config) { c.DLQMaxAge = time.Minute }, "shorter than the duplicates window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := streams.DefaultConfig()
			tt.edit(&cfg)
			err := streams.Provision(context.Background(), srv.JS, cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func testMsgs(n, from int) []*nats.Msg {
	msgs := make([]*nats.Msg, 0, n)
	for i := from; i < from+n; i++ {
		m := nats.NewMsg(fmt.Sprintf("edge.customer.001.%06d", i))
		m.Data = []byte(`{"n":` + strconv.Itoa(i) + `}`)
		m.Header.Set(nats.MsgIdHdr, "customer:001-"+strconv.Itoa(i)+":1")
		msgs = append(msgs, m)
	}
	return msgs
}

// Invariant: no duplicated event. A replay after a crash re-sends messages the
// stream already holds; the publisher stores only the new ones.
func TestPublisherBatchesAndDropsDuplicates(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	p := streams.NewPublisher(srv.JS, 100)

	res, err := p.Publish(ctx, testMsgs(250, 0))
	require.NoError(t, err)
	assert.Equal(t, streams.PublishResult{Stored: 250}, res)

	// 50 already stored, 50 new, in one batch.
	res, err = p.Publish(ctx, testMsgs(100, 200))
	require.NoError(t, err)
	assert.Equal(t, streams.PublishResult{Stored: 50, Duplicates: 50}, res)

	s, err := srv.JS.Stream(ctx, streams.StreamEdge)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 300, info.State.Msgs)

	sts, err := streams.Status(ctx, srv.JS)
	require.NoError(t, err)
	require.Len(t, sts, 3)
	assert.EqualValues(t, 300, sts[0].Messages)
}

// The server counts a stored message into a consumer's pending total
// asynchronously; Pending must not report zero in that gap, or a caller
// waiting for "caught up" stops before the message is handled.
func TestPendingSeesAMessageTheMomentItIsStored(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, err := srv.JS.CreateOrUpdateConsumer(ctx, streams.StreamPartner, jetstream.ConsumerConfig{
		Durable: "watcher", FilterSubjects: []string{"partner.podium.>", "partner.clientbook.>"}, AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	n, err := streams.Pending(ctx, srv.JS, streams.StreamPartner, "watcher")
	require.NoError(t, err)
	assert.Zero(t, n)

	for i := range 200 {
		_, err := srv.JS.Publish(ctx, fmt.Sprintf("partner.clientbook.client.%d", i), []byte("{}"))
		require.NoError(t, err)
		n, err := streams.Pending(ctx, srv.JS, streams.StreamPartner, "watcher")
		require.NoError(t, err)
		require.NotZero(t, n, "message %d", i)
	}
	_, err = srv.JS.Publish(ctx, "partner.other.client.1", []byte("{}"))
	require.NoError(t, err)
	cons, err := srv.JS.Consumer(ctx, streams.StreamPartner, "watcher")
	require.NoError(t, err)
	batch, err := cons.Fetch(200)
	require.NoError(t, err)
	for m := range batch.Messages() {
		require.NoError(t, m.DoubleAck(ctx))
	}
	n, err = streams.Pending(ctx, srv.JS, streams.StreamPartner, "watcher")
	require.NoError(t, err)
	assert.Zero(t, n, "a message outside the filters is not pending")
}

func TestReplayFiltersStayWithinTheConsumers(t *testing.T) {
	tests := []struct {
		sub, filter string
		want        bool
	}{
		{"edge.customer.>", "edge.customer.>", true},
		{"edge.customer.001.>", "edge.customer.>", true},
		{"edge.customer.001.000007", "edge.customer.>", true},
		{"edge.customer.*.000007", "edge.customer.>", true},
		{"edge.>", "edge.customer.>", false},
		{"edge.sale.>", "edge.customer.>", false},
		{"edge.customer", "edge.customer.>", false},
		{"edge.*.001.>", "edge.customer.>", false},
		{"edge.customer.001.x", "edge.customer.*.x", true},
		{"edge.customer.001.x", "edge.customer.*.y", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, streams.Within(tt.sub, tt.filter), "%s within %s", tt.sub, tt.filter)
	}
}
