package writer_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/writer"
)

// deliver publishes a partner event and hands it to the writer as the
// consumer would, returning the handler's verdict.
func deliver(t *testing.T, srv *natstest.Server, w *writer.Writer, pe schemas.PartnerEnvelope) error {
	t.Helper()
	ctx := context.Background()
	m, err := pe.Msg()
	require.NoError(t, err)
	_, err = srv.JS.PublishMsg(ctx, m)
	require.NoError(t, err)
	cons, err := srv.JS.OrderedConsumer(ctx, streams.StreamPartner, jetstream.OrderedConsumerConfig{FilterSubjects: []string{m.Subject}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	require.NoError(t, err)
	msg, err := cons.Next()
	require.NoError(t, err)
	return w.Handle(ctx, msg)
}

func newWriter(t *testing.T) (*natstest.Server, *edgesim.DB, *writer.Writer) {
	srv := natstest.Start(t)
	db := edgesim.New()
	w, err := writer.New(context.Background(), srv.JS, db, writer.Config{
		Podium: projectors.MergeOptions{Download: true, Stores: map[string]string{"loc-1": "001"}}, PodiumAcquisitionLabel: "Acquisition",
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return srv, db, w
}

func contactEvent(id, typ, data string) schemas.PartnerEnvelope {
	return schemas.PartnerEnvelope{ID: "podium:" + id, Type: typ, Source: "test", Time: time.Now(), Partner: "podium",
		Entity: "contact", PartnerID: "c-1", Data: json.RawMessage(data)}
}

func TestHandle(t *testing.T) {
	tests := []struct {
		name      string
		ev        schemas.PartnerEnvelope
		permanent bool
		customers int
	}{
		{"a new Podium contact becomes an Edge customer",
			contactEvent("e1", "contact.created", `{"after":{"uid":"c-1","name":"Grace Hopper","emails":["grace@example.com"],"locations":[{"uid":"loc-1"}],"conversations":[{"uid":"conv-1"}]}}`),
			false, 1},
		{"a contact in an unmapped location is dead-lettered with the reason",
			contactEvent("e2", "contact.created", `{"after":{"uid":"c-1","name":"Grace","emails":["g@example.com"],"locations":[{"uid":"elsewhere"}]}}`),
			true, 0},
		{"an unreadable contact is dead-lettered", contactEvent("e3", "contact.updated", `{"after":"nope"}`), true, 0},
		{"a contact deleted in Podium leaves Edge alone", contactEvent("e4", "contact.deleted", `{"before":{"uid":"c-1"}}`), false, 0},
		{"message events are not written to Edge for Podium", schemas.PartnerEnvelope{ID: "podium:e5", Type: "message.received", Source: "test",
			Time: time.Now(), Partner: "podium", Entity: "message", PartnerID: "m-1", Data: json.RawMessage(`{"uid":"m-1"}`)}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, db, w := newWriter(t)
			err := deliver(t, srv, w, tt.ev)
			if tt.permanent {
				require.Error(t, err)
				assert.True(t, streams.IsPermanent(err), err)
			} else {
				require.NoError(t, err)
			}
			assert.Len(t, db.CustomerKeys(), tt.customers)
		})
	}
}

func TestNotificationOutcomeIsRecorded(t *testing.T) {
	srv, db, w := newWriter(t)
	var key string
	_, err := db.Update("", func(tx *edgesim.Tx) error {
		key = tx.PutNotification(schemas.Notification{Store: "001", Channel: "SMS", Provider: "PODIUM", To: "+15125550101", Body: "Ready", Status: "QUEUED"})
		return nil
	})
	require.NoError(t, err)
	data, _ := json.Marshal(schemas.NotificationOutcome{NotificationKey: key, Status: "FAILED", Reason: "landline", At: time.Now()})
	require.NoError(t, deliver(t, srv, w, schemas.PartnerEnvelope{ID: "podium:notification:1", Type: "notification.outcome", Source: "test",
		Time: time.Now(), Partner: "podium", Entity: "notification", PartnerID: key, Data: data}))
	_, err = db.Update("", func(tx *edgesim.Tx) error {
		assert.Equal(t, "FAILED", tx.Notification(key).Status)
		return nil
	})
	require.NoError(t, err)
}
