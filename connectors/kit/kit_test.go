package kit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// The handler around a Destination: it calls the partner only for a fresh
// event that is not the partner's own echo, saves what Apply made, and a
// notification's outcome is saved before it is published, so a failed
// publish is redone on redelivery without a second partner call.
func TestHandlerCallsThePartnerOncePerChange(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	kv, err := srv.JS.KeyValue(ctx, streams.BucketProjection)
	require.NoError(t, err)
	calls := map[string]int{}
	var refuse bool
	h := &kit.Handler[state, *state]{
		States: kit.NewStates[state](kv, "test"), Partner: "test", Echoes: []schemas.Entity{schemas.EntityCustomer}, JS: srv.JS, Log: slog.Default(),
		Dest: kit.DestinationFunc[state](func(ctx context.Context, ev *kit.Event[state]) (bool, error) {
			if refuse {
				return false, streams.Permanent(errors.New("refused by the partner"))
			}
			calls[ev.Env.Key]++
			ev.Next.Hash = fmt.Sprintf("v%d", ev.Env.Version)
			if ev.Subject.Entity == schemas.EntityNotification {
				ev.Outcome = &schemas.NotificationOutcome{NotificationKey: ev.Env.Key, Status: "SENT", At: ev.Env.Time}
			}
			return true, nil
		})}
	publish := func(entity schemas.Entity, key, origin string, version int64) jetstream.Msg {
		env := schemas.Envelope{ID: fmt.Sprintf("%s-%d", key, version), Type: schemas.EdgeEventType(entity, false), Key: key, Version: version,
			Origin: origin, Time: time.Now(), Data: []byte(`{}`)}
		subj, err := schemas.EdgeSubjectFor(entity, key)
		require.NoError(t, err)
		m, err := env.Msg(subj.String())
		require.NoError(t, err)
		_, err = srv.JS.PublishMsg(ctx, m)
		require.NoError(t, err)
		cons, err := srv.JS.OrderedConsumer(ctx, streams.StreamEdge, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subj.String()}, DeliverPolicy: jetstream.DeliverLastPolicy})
		require.NoError(t, err)
		got, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		require.NoError(t, err)
		return got
	}
	saved := func(entity schemas.Entity, key string) state {
		s, _, err := h.States.Load(ctx, h.States.Key(entity, key))
		require.NoError(t, err)
		return s
	}

	m := publish(schemas.EntityCustomer, "001-000001", "", 3)
	require.NoError(t, h.Handle(ctx, m))
	require.NoError(t, h.Handle(ctx, m), "a redelivery")
	require.NoError(t, h.Handle(ctx, publish(schemas.EntityCustomer, "001-000001", "", 2)), "an older change")
	assert.Equal(t, 1, calls["001-000001"])
	assert.Equal(t, "v3", saved(schemas.EntityCustomer, "001-000001").Hash)

	require.NoError(t, h.Handle(ctx, publish(schemas.EntityNote, "001-000007", "test", 1)))
	assert.Zero(t, calls["001-000007"], "a note that came from the partner is not sent back")
	assert.EqualValues(t, 1, saved(schemas.EntityNote, "001-000007").Version)
	require.NoError(t, h.Handle(ctx, publish(schemas.EntityCustomer, "001-000002", "test", 1)))
	assert.Equal(t, 1, calls["001-000002"], "a customer's echo is merged by the partner's rules")

	refuse = true
	err = h.Handle(ctx, publish(schemas.EntityCustomer, "001-000003", "", 1))
	assert.True(t, streams.IsPermanent(err))
	assert.ErrorContains(t, err, "refused by the partner")
	assert.Zero(t, saved(schemas.EntityCustomer, "001-000003").Version, "nothing saved for what the partner refused")
	refuse = false

	// The outcome cannot be published (no PARTNER stream): the state keeps
	// it, and the redelivery publishes it without a second text.
	require.NoError(t, srv.JS.DeleteStream(ctx, streams.StreamPartner))
	m = publish(schemas.EntityNotification, "001-000009", "", 1)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	require.Error(t, h.Handle(short, m))
	cancel()
	assert.NotNil(t, saved(schemas.EntityNotification, "001-000009").Outcome, "saved with its outcome before publishing")
	require.NoError(t, streams.Provision(ctx, srv.JS, streams.DefaultConfig()))
	require.NoError(t, h.Handle(ctx, m))
	assert.Equal(t, 1, calls["001-000009"], "the text went out once")
	assert.Nil(t, saved(schemas.EntityNotification, "001-000009").Outcome)
	outcomes := natstest.Messages(t, srv.JS, streams.StreamPartner)
	require.Len(t, outcomes, 1)
	assert.Equal(t, "partner.test.notification.001-000009", outcomes[0].Subject)
	// The text's event counts stale: its first try failed after the call.
	assert.Equal(t, kit.Counts{Applied: 2, Skipped: 1, Stale: 3}, h.States.Counts())
}
