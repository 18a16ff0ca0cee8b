package e2e

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
	"github.com/edgesync/edgesync/writer"
)

// cbRig is the whole Clientbook loop: Edge → capture → JetStream →
// Clientbook connector → emulator, and emulator → signed webhook → gateway →
// JetStream → Edge writer → Edge.
type cbRig struct {
	t      testing.TB
	wait   time.Duration // how long settle may take
	db     *edgesim.DB
	srv    *natstest.Server
	emu    *clientbookemu.Emulator
	cpt    *capture.Capture
	conn   *clientbook.Connector
	writer *writer.Writer
	logs   *syncbuf.Buffer
	api    *clientbook.Client
	hook   string // the gateway's Clientbook route
}

const cbStore = "st_uptown"

func newClientbookRig(t testing.TB, opts ...func(*projectors.ClientbookOptions, *clientbook.ClientConfig, *clientbookemu.Emulator)) *cbRig {
	return newClientbookRigOn(t, edgesim.New(), 20*time.Millisecond, opts...)
}

// newClientbookRigOn starts the rig on what db holds (capture's first
// snapshot), capture polling every poll.
func newClientbookRigOn(t testing.TB, db *edgesim.DB, poll time.Duration, opts ...func(*projectors.ClientbookOptions, *clientbook.ClientConfig, *clientbookemu.Emulator)) *cbRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &cbRig{t: t, wait: 30 * time.Second, db: db, srv: natstest.Start(t), emu: clientbookemu.New(), logs: &syncbuf.Buffer{}}
	r.emu.SetLimit(0)
	r.emu.Webhooks().Backoff = 20 * time.Millisecond
	r.emu.AddAPIKey("cb-key")
	url := r.emu.Start()
	t.Cleanup(r.emu.Close)
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))

	o := projectors.ClientbookOptions{
		Stores:      map[string]string{"001": cbStore},
		Preferences: map[string]string{"Key1": "Ring Size", "Key2": "Metal"},
		Associates:  map[int]string{7: "us_maria"},
		SMS:         true,
	}
	cc := clientbook.ClientConfig{BaseURL: url, APIKey: "cb-key", RatePerMinute: -1, Timeout: 2 * time.Second, RetryFor: 30 * time.Second}
	for _, fn := range opts {
		fn(&o, &cc, r.emu)
	}
	client, err := clientbook.NewClient(cc, log)
	require.NoError(t, err)
	r.cpt, err = capture.New(ctx, r.db, r.srv.JS, capture.Config{Site: "e2e", PollInterval: poll}, log)
	require.NoError(t, err)
	r.conn, err = clientbook.NewConnector(ctx, r.srv.JS, client, clientbook.Config{Options: o}, log)
	require.NoError(t, err)

	v := webhooks.ClientbookVerifier(webhookSecret, 5*time.Minute)
	g, err := webhooks.New(r.srv.JS, webhooks.Config{Clientbook: &v}, log)
	require.NoError(t, err)
	gw := httptest.NewServer(g.Handler())
	t.Cleanup(gw.Close)
	r.writer, err = writer.New(ctx, r.srv.JS, r.db, writer.Config{Clientbook: projectors.MergeOptions{
		Download: true, Stores: map[string]string{cbStore: "001"}, Preferences: map[string]string{"Ring Size": "Key1", "Metal": "Key2"},
	}}, log)
	require.NoError(t, err)

	done := make(chan struct{}, 3)
	go func() { _ = r.cpt.Run(ctx); done <- struct{}{} }()
	go func() { _ = r.conn.Run(ctx); done <- struct{}{} }()
	go func() { _ = r.writer.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done; <-done })

	r.api, r.hook = client, gw.URL+"/webhooks/clientbook"
	_, err = client.EnsureWebhook(ctx, r.hook, webhookSecret, clientbook.WebhookEvents)
	require.NoError(t, err)
	return r
}

// edge makes one Edge transaction as a store user.
func (r *cbRig) edge(fn func(tx *edgesim.Tx) error) {
	r.t.Helper()
	_, err := r.db.Update("", fn)
	require.NoError(r.t, err)
}

// settle waits until both directions are quiet: every Edge change captured
// and pushed, every webhook delivered and written to Edge, and whatever
// that wrote captured in turn.
func (r *cbRig) settle() {
	r.t.Helper()
	ctx := context.Background()
	for range 3 {
		require.Eventually(r.t, func() bool {
			return captured(ctx, r.db, r.cpt) && caughtUp(ctx, r.srv.JS, streams.StreamEdge, clientbook.Durable) &&
				r.emu.Webhooks().Pending() == 0 && caughtUp(ctx, r.srv.JS, streams.StreamPartner, writer.Durable)
		}, r.wait, 20*time.Millisecond)
	}
}

// client returns the Clientbook client of an Edge customer.
func (r *cbRig) client(key string) clientbookemu.Client {
	r.t.Helper()
	c, ok := r.emu.ClientByExternal(key)
	require.True(r.t, ok, "customer %s has a Clientbook client", key)
	return c
}

// read runs fn on a read-only view of Edge.
func (r *cbRig) read(fn func(tx *edgesim.Tx)) {
	r.t.Helper()
	_, err := r.db.Update("", func(tx *edgesim.Tx) error { fn(tx); return nil })
	require.NoError(r.t, err)
}
