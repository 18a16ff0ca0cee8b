package streams_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/lane"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

func storeMsgs(store string, n int, bulk bool) []*nats.Msg {
	msgs := make([]*nats.Msg, 0, n)
	for i := range n {
		m := nats.NewMsg(fmt.Sprintf("edge.customer.%s.%06d", store, i))
		m.Data = []byte(`{}`)
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("customer:%s-%d:1", store, i))
		if bulk {
			m.Header.Set(schemas.HeaderLane, schemas.LaneBulk)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// laneLog records what a handler was given, and in which lane.
type laneLog struct {
	mu    sync.Mutex
	order []string // subject, "+bulk" when bulk work
}

func (h *laneLog) handler(bulkCost time.Duration) streams.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		s := msg.Subject()
		if lane.IsBulk(ctx) {
			s += "+bulk"
			time.Sleep(bulkCost) // a partner call at its limit
		}
		h.mu.Lock()
		h.order = append(h.order, s)
		h.mu.Unlock()
		return nil
	}
}

func (h *laneLog) snapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.order...)
}

func bulkLanes(t *testing.T, js jetstream.JetStream, durable string) []string {
	lanes, err := streams.BulkLanes(context.Background(), js, streams.StreamEdge, durable)
	require.NoError(t, err)
	return lanes
}

// A new connector finds two stores' aggregates in the stream: each store
// gets a bulk lane, the two lanes share the work, and a live change made
// meanwhile is laneLog at once, not after them. Then a store's snapshot
// arrives (marked bulk): it opens that store's lane again, and the live
// lane passes it over. Once nothing is left, the lanes are gone.
func TestLiveChangesGoFirstAndStoresShareTheBulkLane(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	pub := streams.NewPublisher(srv.JS, 100)
	_, err := pub.Publish(ctx, append(storeMsgs("001", 150, false), storeMsgs("002", 150, false)...))
	require.NoError(t, err)

	var h laneLog
	stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "partner", Stream: streams.StreamEdge, Filters: []string{"edge.customer.>"}, Lanes: true},
		h.handler(5*time.Millisecond))
	t.Cleanup(stop)
	require.Eventually(t, func() bool { return len(h.snapshot()) > 20 }, 10*time.Second, time.Millisecond)
	assert.ElementsMatch(t, []string{"partner-bulk-001", "partner-bulk-002"}, bulkLanes(t, srv.JS, "partner"))

	live := nats.NewMsg("edge.customer.003.000001")
	live.Data = []byte(`{}`)
	_, err = streams.PublishMsg(ctx, srv.JS, live)
	require.NoError(t, err)
	waitDrained(t, srv.JS, "partner")

	order := h.snapshot()
	require.GreaterOrEqual(t, len(order), 301, "each aggregate")
	order = order[:301]
	at := -1
	per := map[string]int{}
	for i, s := range order {
		if s == "edge.customer.003.000001" {
			at = i
		}
		if i < 150 {
			per[strings.Split(s, ".")[2]]++
		}
	}
	assert.Less(t, at, 150, "the live change went before the rest of the upload (laneLog %d of 301)", at)
	assert.Greater(t, per["001"], 50, "the stores share the bulk lane: %v", per)
	assert.Greater(t, per["002"], 50, "the stores share the bulk lane: %v", per)
	require.Eventually(t, func() bool { return len(bulkLanes(t, srv.JS, "partner")) == 0 }, 20*time.Second, 50*time.Millisecond, "done lanes are deleted")
	// Each lane's second pass gave every aggregate again (a handler
	// finds it applied), in case the server dropped one from the first.
	assert.Len(t, h.snapshot(), 601)
	handled := len(h.snapshot())

	// A re-snapshot of store 002: bulk work again, in its lane.
	_, err = pub.Publish(ctx, storeMsgs("002", 20, true)) // deduplicated: the same ids
	require.NoError(t, err)
	resnap := storeMsgs("002", 20, true)
	for i, m := range resnap {
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("customer:002-%d:2", i))
	}
	_, err = pub.Publish(ctx, resnap)
	require.NoError(t, err)
	waitDrained(t, srv.JS, "partner")
	order = h.snapshot()[handled:]
	require.Len(t, order, 20)
	for _, s := range order {
		assert.True(t, strings.HasSuffix(s, "+bulk"), "%s went in the bulk lane", s)
	}
}
