package webhooks_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// Invariant 6: a delivery is answered 2xx only once it is durable. While
// JetStream cannot take deliveries (here its server is down, as through a
// failover longer than the gateway's wait), the gateway keeps them on disk
// and answers; a gateway killed meanwhile leaves them there; once
// JetStream is back the next gateway hands them on, in the order they
// came, each once, with what came after them queued behind.
func TestASpooledDeliveryIsStoredOnceJetStreamIsBack(t *testing.T) {
	ctx := context.Background()
	dataDir, port := t.TempDir(), natstest.FreePort(t)
	start := func() *broker.Embedded {
		srv, err := broker.StartEmbedded(broker.EmbeddedConfig{Dir: dataDir, Port: port})
		require.NoError(t, err)
		return srv
	}
	srv := start()
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, streams.Provision(ctx, js, streams.DefaultConfig()))

	spoolDir := filepath.Join(t.TempDir(), "spool")
	v := webhooks.PodiumVerifier(secret, 5*time.Minute)
	newGateway := func() (*webhooks.Gateway, *webhooks.Spool, string) {
		spool, err := webhooks.OpenSpool(spoolDir)
		require.NoError(t, err)
		g, err := webhooks.New(js, webhooks.Config{Podium: &v, Spool: spool, PublishTimeout: 300 * time.Millisecond,
			Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		hs := httptest.NewServer(g.Handler())
		t.Cleanup(hs.Close)
		return g, spool, hs.URL
	}
	delivery := func(n int) []byte {
		return fmt.Appendf(nil, `{"data":{"after":{"uid":"c-%d","name":"Ada","emails":["ada%d@example.com"]},"errors":[]},"metadata":{"event_type":"contact.updated","event_uid":"evt-%d"}}`, n, n, n)
	}
	deliver := func(url string, n int) {
		status, body := post(t, url, delivery(n), sign(delivery(n), now.Add(-time.Minute)))
		require.Equal(t, http.StatusOK, status, body)
	}

	_, spool, url := newGateway()
	deliver(url, 1) // stored the usual way
	srv.Shutdown()
	for n := 2; n <= 4; n++ {
		deliver(url, n)
	}
	assert.Equal(t, 3, spool.Waiting(), "three deliveries answered from the spool while JetStream was down")

	// The gateway dies; JetStream comes back; the next gateway finds the
	// spool, and a new delivery queues behind it until Run hands it on.
	srv = start()
	defer srv.Shutdown()
	g, spool, url := newGateway()
	require.Equal(t, 3, spool.Waiting(), "the spool survives the gateway")
	deliver(url, 5)
	assert.Equal(t, 4, spool.Waiting(), "a delivery behind a waiting spool waits too, to keep the order")
	deliver(url, 4) // the partner sending one again, answered the first time
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go g.Run(runCtx)
	require.Eventually(t, func() bool { return spool.Waiting() == 0 }, 10*time.Second, 20*time.Millisecond, "the spool is handed on")

	var ids []string
	for _, m := range natstest.Messages(t, js, streams.StreamPartner) {
		ids = append(ids, m.Header.Get(nats.MsgIdHdr))
	}
	assert.Equal(t, []string{"podium:evt-1", "podium:evt-2", "podium:evt-3", "podium:evt-4", "podium:evt-5"}, ids,
		"every delivery stored once, in the order it came")
}

// A spooled delivery that can never be published (here larger than the
// server takes, as when its max_payload shrank since) is dead-lettered,
// cut to fit, and the deliveries behind it are handed on.
func TestAnUnpublishableSpooledDeliveryDoesNotHoldTheOthers(t *testing.T) {
	srv := natstest.Start(t)
	spool, err := webhooks.OpenSpool(filepath.Join(t.TempDir(), "spool"))
	require.NoError(t, err)
	big := nats.NewMsg("partner.podium.contact.c-1")
	big.Data = make([]byte, srv.NC.MaxPayload()+1)
	big.Header.Set(schemas.HeaderSource, "edgesync/webhooks/podium")
	big.Header.Set(nats.MsgIdHdr, "podium:evt-1")
	require.NoError(t, spool.Put(big))
	next := nats.NewMsg("partner.podium.contact.c-2")
	next.Data = []byte(`{}`)
	next.Header.Set(nats.MsgIdHdr, "podium:evt-2")
	require.NoError(t, spool.Put(next))
	v := webhooks.PodiumVerifier(secret, 5*time.Minute)
	g, err := webhooks.New(srv.JS, webhooks.Config{Podium: &v, Spool: spool}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go g.Run(ctx)
	require.Eventually(t, func() bool { return spool.Waiting() == 0 }, 10*time.Second, 20*time.Millisecond, "the spool is handed on")
	msgs := natstest.Messages(t, srv.JS, streams.StreamPartner)
	require.Len(t, msgs, 1)
	assert.Equal(t, "partner.podium.contact.c-2", msgs[0].Subject)
	dead := natstest.Messages(t, srv.JS, streams.StreamDLQ)
	require.Len(t, dead, 1)
	assert.Equal(t, "dlq.webhooks.podium", dead[0].Subject)
	assert.Contains(t, dead[0].Header.Get(streams.HeaderDLQReason), "cannot be published")
}
