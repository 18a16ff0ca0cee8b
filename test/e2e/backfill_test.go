package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/streams"
)

// podiumView is what a Podium account holds, in terms that do not depend on
// the account: contacts by their phones and emails, and the latest body of
// each data-feed aggregate, with the account's own uids (locations,
// attributes) taken out.
func podiumView(emu *podiumemu.Emulator, loc string) (contacts, feed map[string]string) {
	contacts, feed = map[string]string{}, map[string]string{}
	for _, c := range emu.Contacts() {
		ids := append(append([]string{}, c.Emails...), c.PhoneNumbers...)
		sort.Strings(ids)
		var attrs []string
		for _, a := range c.Attributes {
			attrs = append(attrs, fmt.Sprintf("%s=%v", a.Label, a.Value))
		}
		sort.Strings(attrs)
		contacts[strings.Join(ids, ",")] = c.Name + " " + strings.Join(attrs, ",")
	}
	latest := map[string]int64{}
	for _, fe := range emu.FeedEvents("") {
		// Event ids are Edge's: <entity>:<key>:<version>.
		i := strings.LastIndex(fe.EventID, ":")
		agg := fe.Type + " " + fe.EventID[:i]
		var v int64
		fmt.Sscan(fe.EventID[i+1:], &v)
		if v < latest[agg] {
			continue
		}
		var body map[string]any
		_ = json.Unmarshal(fe.Body, &body)
		delete(body, "uid")
		if c, ok := body["contact"].(map[string]any); ok {
			// The contact an entry names is found by its identifier (the
			// account's own uid), phone or email; its name is a copy of
			// the contact's at the time of sending, so a connector that
			// sent before a rename holds an older copy than one that sent
			// after, and both show the contact's one current name.
			delete(c, "identifier")
			delete(c, "name")
		}
		b, _ := json.Marshal(body)
		latest[agg], feed[agg] = v, strings.ReplaceAll(string(b), loc, "LOCATION")
	}
	return contacts, feed
}

// A brand-new connector, started after 10,000 events against an empty
// Podium account, ends with exactly what the connector that ran from the
// start holds. Replaying the first one from the start, while it runs, makes
// no partner call at all.
func TestBackfillANewConnectorAndReplayAnOldOne(t *testing.T) {
	ctx := context.Background()
	r := newPodiumRig(t)
	require.NoError(t, edgesim.Generate(r.db, edgesim.Spec{Seed: 11, Stores: 1, CustomersPerStore: 1800, SalesPerCustomer: 1.5, ItemsPerStore: 400, SyncDisabledEvery: 20}))
	r.settle()
	// History: some aggregates change after the upload, so the stream holds
	// several states of them and the new connector gets only the last.
	r.edge("", func(tx *edgesim.Tx) error {
		for i := 1; i <= 300; i++ {
			if c := tx.Customer(fmt.Sprintf("001-%06d", i)); c != nil {
				c.FirstName += " Jr"
				if err := tx.PutCustomer(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	r.settle()
	str, err := r.srv.JS.Stream(ctx, streams.StreamEdge)
	require.NoError(t, err)
	info, err := str.Info(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, info.State.Msgs, uint64(10_000), "the new connector starts after 10,000 events")

	emuB := podiumemu.New(podiumemu.WithRateLimit(0))
	locB := emuB.AddLocation("Store 001")
	rt := emuB.Tokens().RegisterClient("cid", "secret", "acct-b",
		[]string{"read_contacts", "write_contacts", "read_locations", "write_messages", "write_reviews", "read_reviews", "write_data_feed_event"}, "")
	urlB := emuB.Start()
	t.Cleanup(emuB.Close)
	client, err := podium.NewClient(podium.ClientConfig{BaseURL: urlB, TokenURL: urlB + "/oauth/token", ClientID: "cid", ClientSecret: "secret",
		RefreshToken: rt, RatePerMinute: -1, Timeout: 2 * time.Second, RetryFor: 30 * time.Second}, logger())
	require.NoError(t, err)
	opts := r.opts
	opts.Locations = map[string]string{"001": locB}
	connB, err := podium.NewConnector(ctx, r.srv.JS, client, podium.Config{Name: "podium-b", Options: opts,
		DataFeed: emuB.AddDataFeed("edgesync"), AcquisitionLabel: "Acquisition"}, logger())
	require.NoError(t, err)
	bctx, stopB := context.WithCancel(ctx)
	doneB := make(chan struct{})
	go func() { _ = connB.Run(bctx); close(doneB) }()
	t.Cleanup(func() { stopB(); <-doneB })
	require.Eventually(t, func() bool { return caughtUp(ctx, r.srv.JS, streams.StreamEdge, "podium-b") }, 5*time.Minute, 50*time.Millisecond)

	contactsA, feedA := podiumView(r.emu, r.loc)
	contactsB, feedB := podiumView(emuB, locB)
	assert.Equal(t, len(contactsA), len(contactsB))
	assert.Empty(t, differences(contactsA, contactsB), "the same contacts")
	assert.Empty(t, differences(feedA, feedB), "the same purchases, timeline entries and products, each at its latest state")
	assert.True(t, demo.PodiumEffects(r.db, emuB).Clean(), "every synchronized customer once: %+v", demo.PodiumEffects(r.db, emuB))
	assert.Less(t, emuB.Counter("requests"), r.emu.Counter("requests"), "the new connector sent the current state, not the history")

	// Replay the first connector from the start while it runs: every event
	// comes again, and none is news to Podium.
	before := r.emu.Counter("requests")
	total, err := streams.StartReplay(ctx, r.srv.JS, streams.ReplayConfig{Stream: streams.StreamEdge, Durable: podium.Durable, From: streams.FromStart})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, total, uint64(5_000), "the Podium subjects of the stream")
	require.Eventually(t, func() bool {
		_, _, running, err := streams.ReplayProgress(ctx, r.srv.JS, streams.StreamEdge, podium.Durable)
		return err == nil && !running
	}, 5*time.Minute, 100*time.Millisecond, "the connector finishes the replay and deletes it")
	assert.Equal(t, before, r.emu.Counter("requests"), "a replay makes zero partner calls")
	assert.Positive(t, r.conn.Stats().Stale, "the replayed events were recognised as already applied")

	// A narrowed replay: one entity only.
	_, err = streams.StartReplay(ctx, r.srv.JS, streams.ReplayConfig{Stream: streams.StreamEdge, Durable: podium.Durable, From: streams.LatestPerSubject,
		Filters: []string{schemas.EdgeFilter(schemas.EntityCustomer)}})
	require.NoError(t, err)
	_, err = streams.StartReplay(ctx, r.srv.JS, streams.ReplayConfig{Stream: streams.StreamEdge, Durable: podium.Durable, From: streams.FromStart})
	assert.ErrorContains(t, err, "already running")
	require.Eventually(t, func() bool {
		_, _, running, err := streams.ReplayProgress(ctx, r.srv.JS, streams.StreamEdge, podium.Durable)
		return err == nil && !running
	}, 5*time.Minute, 100*time.Millisecond)
	assert.Equal(t, before, r.emu.Counter("requests"))
	_, err = streams.StartReplay(ctx, r.srv.JS, streams.ReplayConfig{Stream: streams.StreamEdge, Durable: podium.Durable, From: streams.FromStart,
		Filters: []string{"edge.wishlist.>"}})
	assert.ErrorContains(t, err, "not among its subjects", "the Podium connector does not consume wish lists")
}

// differences lists, at most ten, the keys where a and b differ.
func differences(a, b map[string]string) []string {
	var out []string
	for k, va := range a {
		if vb, ok := b[k]; !ok {
			out = append(out, "only in the first: "+k+" = "+va)
		} else if va != vb {
			out = append(out, "differs: "+k+": "+va+" | "+vb)
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "only in the second: "+k+" = "+vb)
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("... and %d more", len(out)-10))
	}
	return out
}
