// Package e2e drives whole pipelines: the Edge simulator, capture, a real
// embedded JetStream, a connector and a partner emulator.
package e2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

func logger() *slog.Logger {
	if os.Getenv("EDGESYNC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// podiumRig is Edge → capture → JetStream → Podium connector → emulator.
type podiumRig struct {
	t    testing.TB
	db   *edgesim.DB
	srv  *natstest.Server
	emu  *podiumemu.Emulator
	cpt  *capture.Capture
	conn *podium.Connector
	loc  string // Store 001's location; store 002 has none
	opts projectors.PodiumOptions
	// stopCapture stops capture as a crash would: nothing more is read
	// from Edge, nothing more reported.
	stopCapture context.CancelFunc
}

// rigSetup is what an option may change before the rig starts.
type rigSetup struct {
	db      *edgesim.DB // what Edge holds before capture starts
	podium  *projectors.PodiumOptions
	conn    *podium.Config
	client  *podium.ClientConfig
	emu     *podiumemu.Emulator
	capture *capture.Config
	log     **slog.Logger
}

type rigOption func(*rigSetup)

func newPodiumRig(t *testing.T, opts ...rigOption) *podiumRig { return newPodiumRigB(t, opts...) }

func newPodiumRigB(t testing.TB, opts ...rigOption) *podiumRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &podiumRig{t: t, db: edgesim.New(), srv: natstest.Start(t), emu: podiumemu.New(podiumemu.WithRateLimit(0))}
	r.loc = r.emu.AddLocation("Store 001")
	rt := r.emu.Tokens().RegisterClient("cid", "secret", "acct",
		[]string{"read_contacts", "write_contacts", "read_locations", "write_messages", "write_reviews", "read_reviews", "write_data_feed_event"}, "")
	url := r.emu.Start()
	t.Cleanup(r.emu.Close)

	po := projectors.PodiumOptions{Locations: map[string]string{"001": r.loc}, Tier: projectors.TierClientelingPlus,
		ExcludeCategories: []int{150}, ExcludeStockTypes: []string{"MEMO", "CONSIGNMENT", "TRADE"}, ReviewWindow: 48 * time.Hour}
	cc := podium.ClientConfig{BaseURL: url, TokenURL: url + "/oauth/token", ClientID: "cid", ClientSecret: "secret", RefreshToken: rt,
		RatePerMinute: -1, Timeout: 2 * time.Second, RetryFor: 30 * time.Second}
	capCfg := capture.Config{Site: "e2e", PollInterval: 20 * time.Millisecond}
	var connCfg podium.Config
	log := logger()
	for _, o := range opts {
		o(&rigSetup{db: r.db, podium: &po, conn: &connCfg, client: &cc, emu: r.emu, capture: &capCfg, log: &log})
	}
	r.opts = po
	client, err := podium.NewClient(cc, log)
	require.NoError(t, err)
	r.cpt, err = capture.New(ctx, r.db, r.srv.JS, capCfg, log)
	require.NoError(t, err)
	connCfg.Options, connCfg.DataFeed, connCfg.AcquisitionLabel = po, r.emu.AddDataFeed("edgesync"), "Acquisition"
	r.conn, err = podium.NewConnector(ctx, r.srv.JS, client, connCfg, log)
	require.NoError(t, err)
	done := make(chan struct{}, 2)
	cctx, stopCapture := context.WithCancel(ctx)
	r.stopCapture = stopCapture
	go func() { _ = r.cpt.Run(cctx); done <- struct{}{} }()
	go func() { _ = r.conn.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return r
}

// edge makes one Edge transaction as a store user (origin "") or as
// edgesync's writer for a partner.
func (r *podiumRig) edge(origin string, fn func(tx *edgesim.Tx) error) {
	r.t.Helper()
	_, err := r.db.Update(origin, fn)
	require.NoError(r.t, err)
}

// settle waits until every Edge change is captured and the connector has
// nothing pending.
func (r *podiumRig) settle() {
	r.t.Helper()
	ctx := context.Background()
	require.Eventually(r.t, func() bool {
		return captured(ctx, r.db, r.cpt) && caughtUp(ctx, r.srv.JS, streams.StreamEdge, podium.Durable)
	}, 2*time.Hour, 20*time.Millisecond)
}

// captured reports whether capture has checkpointed every entity at the
// database's current version.
func captured(ctx context.Context, db *edgesim.DB, cpt *capture.Capture) bool {
	cur, _ := db.CurrentVersion(ctx)
	for _, e := range schemas.Entities {
		if cp, ok, _ := cpt.LoadCheckpoint(ctx, e); !ok || cp.Version < cur {
			return false
		}
	}
	return true
}

// caughtUp reports whether a durable consumer has nothing left.
func caughtUp(ctx context.Context, js jetstream.JetStream, stream, durable string) bool {
	n, err := streams.Pending(ctx, js, stream, durable)
	return err == nil && n == 0
}

func newCustomer(tx *edgesim.Tx, store, first, email, phone string) string {
	c := schemas.Customer{FirstName: first, LastName: "Test", SyncEnabled: true, Acquisition: "Referral"}
	if email != "" {
		c.ContactMethods = append(c.ContactMethods, schemas.ContactMethod{Method: schemas.MethodEmail, Value: email, Preferred: true})
	}
	if phone != "" {
		c.ContactMethods = append(c.ContactMethods, schemas.ContactMethod{Method: schemas.MethodPhone, Value: phone, Preferred: true})
	}
	key, err := tx.NewCustomer(store, c)
	if err != nil {
		panic(err)
	}
	return key
}
