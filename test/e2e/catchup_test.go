package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
)

// newWatch is the Podium connector's watch over the inbound rig's webhook.
func newWatch(t *testing.T, in *inbound, cfg kit.WatchConfig) *kit.Watch {
	t.Helper()
	client, err := podium.NewClient(podium.ClientConfig{BaseURL: in.emu.URL(), TokenURL: in.emu.URL() + "/oauth/token", ClientID: "cid",
		ClientSecret: "secret", RefreshToken: mustRefresh(t, in.emu), RatePerMinute: -1}, logger())
	require.NoError(t, err)
	hooks := []podium.Hook{{URL: in.gw.URL + "/webhooks/podium", Secret: webhookSecret, LocationUID: in.loc,
		EventTypes: []string{"contact.created", "contact.updated", "contact.deleted"}}}
	w, err := podium.NewWatch(context.Background(), client, in.srv.JS, hooks, cfg, logger())
	require.NoError(t, err)
	return w
}

// A webhook deleted in Podium loses every delivery until it is back. The
// watch finds it missing, creates it again, and catches up what Podium
// changed meanwhile: a contact an associate made reaches Edge once, an
// email an associate changed becomes a new Edge email once.
func TestAWebhookDeletedInPodiumIsRecreatedAndItsChangesCaughtUp(t *testing.T) {
	ctx := context.Background()
	in := newInbound(t, true, nil)
	metrics := kit.NewWatchMetrics()
	w := newWatch(t, in, kit.WatchConfig{Metrics: metrics})
	require.NoError(t, w.CatchUp(ctx)) // sets the watermark: nothing to catch up yet
	var ada string
	in.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "(512) 555-0101")
		return nil
	})
	in.settle()

	for _, h := range in.emu.Webhooks().List() {
		_, ok := in.emu.Webhooks().Delete(h.UID)
		require.True(t, ok)
	}
	require.True(t, in.emu.EditContact("ada@example.com", func(c *podiumemu.Contact) { c.Emails = []string{"ada@podium.example.com"} }))
	in.emu.CreateContactInApp("Grace Hopper", "", "grace@example.com", in.loc)
	in.settle()
	assert.Empty(t, in.db.CustomerKeys()[1:], "nothing came through: no webhook")

	repaired, err := w.Check(ctx)
	require.NoError(t, err)
	assert.True(t, repaired)
	require.Len(t, in.emu.Webhooks().List(), 1, "the webhook is back")
	require.NoError(t, w.CatchUp(ctx))
	in.settle()
	assert.Equal(t, []string{"ada@example.com/", "ada@podium.example.com/PODIUM"}, methods(in.db.Customer(ada), schemas.MethodEmail),
		"the email changed in Podium meanwhile, once, as a new Edge email")
	var grace string
	_, _ = in.db.Update("", func(tx *edgesim.Tx) error { grace = tx.CustomerByEmail("grace@example.com"); return nil })
	require.NotEmpty(t, grace, "the contact made in Podium meanwhile")
	assert.Len(t, in.db.CustomerKeys(), 2, "each once")
	r := w.Report()
	assert.Equal(t, 1, r.Repairs)
	assert.Contains(t, r.LastRepair, "missing")
	assert.InDelta(t, 1, testutil.ToFloat64(metrics.Repairs("podium")), 0, "edgesync_webhook_repairs_total")

	// A second listing of the same changes writes nothing again.
	before := in.writer.Stats()
	require.NoError(t, w.CatchUp(ctx))
	in.settle()
	assert.Equal(t, before.Applied, in.writer.Stats().Applied)
	assert.Len(t, in.db.CustomerKeys(), 2)
}

// A webhook Podium disabled after its deliveries kept failing is enabled
// again by the watch's own loop; what Podium kept queued and what the
// catch-up lists meanwhile reach Edge once.
func TestADisabledWebhookIsEnabledAgainByTheWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := newInbound(t, true, nil)
	w := newWatch(t, in, kit.WatchConfig{CheckEvery: 100 * time.Millisecond})
	require.NoError(t, w.CatchUp(ctx))
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	disabled := true
	for _, h := range in.emu.Webhooks().List() {
		_, ok := in.emu.Webhooks().Update(h.UID, nil, nil, &disabled)
		require.True(t, ok)
	}
	in.emu.CreateContactInApp("Katherine Johnson", "", "katherine@example.com", in.loc)
	require.Eventually(t, func() bool {
		hooks := in.emu.Webhooks().List()
		return len(hooks) == 1 && !hooks[0].Disabled
	}, 10*time.Second, 20*time.Millisecond, "the watch enables the webhook again")
	in.settle()
	var k string
	_, _ = in.db.Update("", func(tx *edgesim.Tx) error { k = tx.CustomerByEmail("katherine@example.com"); return nil })
	require.NotEmpty(t, k)
	assert.Len(t, in.db.CustomerKeys(), 1, "once, though both the queue and the catch-up brought it")
	assert.Contains(t, w.Report().LastRepair, "disabled")
}

// The same for Clientbook: a webhook deleted by hand is made again, and
// the client an associate created meanwhile reaches Edge once.
func TestAClientbookWebhookDeletedIsRecreatedAndItsChangesCaughtUp(t *testing.T) {
	ctx := context.Background()
	r := newClientbookRig(t)
	w, err := clientbook.NewWatch(ctx, r.api, r.srv.JS, r.hook, webhookSecret, kit.WatchConfig{}, logger())
	require.NoError(t, err)
	require.NoError(t, w.CatchUp(ctx)) // the watermark
	for _, h := range r.emu.Webhooks().List() {
		_, ok := r.emu.Webhooks().Delete(h.UID)
		require.True(t, ok)
	}
	r.emu.CreateClientInApp(clientbookemu.Client{StoreID: cbStore, FirstName: "Mary", LastName: "Jackson",
		Emails: []clientbookemu.Contact{{Value: "mary@example.com", Preferred: true}}})
	r.settle()
	assert.Empty(t, r.db.CustomerKeys(), "nothing came through: no webhook")

	repaired, err := w.Check(ctx)
	require.NoError(t, err)
	assert.True(t, repaired)
	require.NoError(t, w.CatchUp(ctx))
	r.settle()
	require.Len(t, r.db.CustomerKeys(), 1, "the client made in Clientbook meanwhile, once")
	assert.Equal(t, "Mary", r.db.Customer(r.db.CustomerKeys()[0]).FirstName)
	assert.Equal(t, 1, w.Report().Repairs)
}

// The gateway down past Podium's whole retry window (its tries, with
// growing delays, then the webhook disabled; compressed here to four tries
// over a fraction of a second) while associates change an email and make a
// contact: once the gateway is back, the watch's own loop enables the
// webhook, every change reaches Edge once, and reconcile finds no drift.
func TestAGatewayDownPastPodiumsRetriesLosesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := newInbound(t, true, nil, func(s *rigSetup) { s.emu.Webhooks().MaxAttempts = 4 })
	var ada string
	in.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		return nil
	})
	in.settle()
	w := newWatch(t, in, kit.WatchConfig{CheckEvery: 100 * time.Millisecond})
	require.NoError(t, w.CatchUp(ctx))

	in.down.Store(true)
	require.True(t, in.emu.EditContact("ada@example.com", func(c *podiumemu.Contact) { c.Emails = []string{"ada@podium.example.com"} }))
	in.emu.CreateContactInApp("Dorothy Vaughan", "", "dorothy@example.com", in.loc)
	require.Eventually(t, func() bool {
		hooks := in.emu.Webhooks().List()
		return len(hooks) == 1 && hooks[0].Disabled
	}, 20*time.Second, 20*time.Millisecond, "Podium disables the webhook after its last try")

	in.down.Store(false)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool {
		hooks := in.emu.Webhooks().List()
		return len(hooks) == 1 && !hooks[0].Disabled
	}, 20*time.Second, 20*time.Millisecond, "the watch enables it again")
	in.settle()
	assert.Equal(t, []string{"ada@example.com/", "ada@podium.example.com/PODIUM"}, methods(in.db.Customer(ada), schemas.MethodEmail), "once")
	assert.Len(t, in.db.CustomerKeys(), 2, "Dorothy, once")
	client, err := podium.NewClient(podium.ClientConfig{BaseURL: in.emu.URL(), TokenURL: in.emu.URL() + "/oauth/token", ClientID: "cid",
		ClientSecret: "secret", RefreshToken: mustRefresh(t, in.emu), RatePerMinute: -1}, logger())
	require.NoError(t, err)
	rep, err := kit.Reconcile(context.Background(), in.srv.JS, podium.Records{Client: client}, "podium", podium.Durable, "", logger())
	require.NoError(t, err)
	assert.Empty(t, rep.Drift, "no drift")
}
