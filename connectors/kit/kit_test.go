package kit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

type state struct {
	kit.Position
	Hash string `json:"hash,omitempty"`
}

// The state machine every connector shares: an event is decoded, its
// aggregate's state loaded, judged fresh or stale by version and epoch,
// moved to the event's position, saved and counted; a message that cannot
// be decoded is permanent; a held state is read before the bucket's. The
// state's JSON keeps its version and epoch at the top, as before the kit.
func TestStatesBeginAndDone(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	kv, err := srv.JS.KeyValue(ctx, streams.BucketProjection)
	require.NoError(t, err)
	st := kit.NewStates[state](kv, "test")
	// fetch publishes m and reads it back as a consumer gets it.
	fetch := func(m *nats.Msg) jetstream.Msg {
		_, err := srv.JS.PublishMsg(ctx, m)
		require.NoError(t, err)
		cons, err := srv.JS.OrderedConsumer(ctx, streams.StreamEdge, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{m.Subject}, DeliverPolicy: jetstream.DeliverLastPolicy})
		require.NoError(t, err)
		got, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		require.NoError(t, err)
		return got
	}
	msg := func(version, epoch int64) jetstream.Msg {
		env := schemas.Envelope{ID: "e", Type: schemas.EdgeEventType(schemas.EntityCustomer, false), Key: "001-000001", Version: version, Epoch: epoch,
			Time: time.Now(), Data: []byte(`{}`)}
		m, err := env.Msg(schemas.EdgeSubject{Entity: schemas.EntityCustomer, Store: "001", ID: "000001"}.String())
		require.NoError(t, err)
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("e-%d-%d", version, epoch))
		return fetch(m)
	}

	ev, fresh, err := st.Begin(ctx, msg(5, 0))
	require.NoError(t, err)
	require.True(t, fresh)
	assert.Equal(t, "test.customer.001-000001", ev.Key)
	assert.Equal(t, kit.Position{Version: 5}, ev.Next.Position)
	ev.Next.Hash = "h"
	require.NoError(t, st.Done(ctx, ev.Key, ev.Next, true))
	raw, err := kv.Get(ctx, ev.Key)
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":5,"hash":"h"}`, string(raw.Value()))

	_, fresh, err = st.Begin(ctx, msg(5, 0))
	require.NoError(t, err)
	assert.False(t, fresh, "a redelivery is stale")
	ev, fresh, err = st.Begin(ctx, msg(2, 1))
	require.NoError(t, err)
	assert.True(t, fresh, "a later epoch supersedes a higher version")
	assert.Equal(t, "h", ev.Prior.Hash)

	st.Hold(ev.Key, state{Position: kit.Position{Version: 9}})
	held, found, err := st.Load(ctx, ev.Key)
	require.NoError(t, err)
	assert.True(t, found)
	assert.EqualValues(t, 9, held.Version, "held before saved")
	st.Release()
	saved, _, err := st.Load(ctx, ev.Key)
	require.NoError(t, err)
	assert.EqualValues(t, 5, saved.Version)

	_, _, err = st.Begin(ctx, fetch(&nats.Msg{Subject: "edge.customer.001.000002", Data: []byte("not an event")}))
	assert.True(t, streams.IsPermanent(err), "what cannot be decoded never will be: %v", err)
	st.Count(false)
	assert.Equal(t, kit.Counts{Applied: 1, Skipped: 1, Stale: 1}, st.Counts())
}
