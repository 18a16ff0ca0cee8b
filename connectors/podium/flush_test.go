package podium

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// One flush sends many activities' data-feed events in one call; when
// Podium refuses the list, each event is sent again on its own, so only
// the activity with the bad event fails (permanently), and a later event
// of the same aggregate waits for it.
func TestFlushSendsListsAndIsolatesARefusedEvent(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	emu := podiumemu.New(podiumemu.WithRateLimit(0))
	loc := emu.AddLocation("Store 001")
	rt := emu.Tokens().RegisterClient("cid", "secret", "acct", []string{"write_data_feed_event"}, "")
	url := emu.Start()
	t.Cleanup(emu.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := NewClient(ClientConfig{BaseURL: url, TokenURL: url + "/oauth/token", ClientID: "cid", ClientSecret: "secret", RefreshToken: rt, RatePerMinute: -1}, log)
	require.NoError(t, err)
	feed := emu.AddDataFeed("edgesync")
	c, err := NewConnector(ctx, srv.JS, client, Config{Options: projectors.PodiumOptions{Locations: map[string]string{"001": loc}}, DataFeed: feed}, log)
	require.NoError(t, err)

	event := func(key, typ string, version int64) deferredActivity {
		ev := podiumapi.FeedEvent{EventID: key, Type: typ, OccurredAt: time.Now(), LocationUID: loc}
		return deferredActivity{env: schemas.Envelope{Key: key, Version: version}, key: "podium.sale." + key, next: pushed{Position: kit.Position{Version: version}, Hash: "h"},
			ops: []projectors.PodiumOp{{Kind: projectors.PodiumFeed, Feed: &ev}}}
	}
	c.batch = []deferredActivity{event("001-1", "purchase", 1), event("001-2", "", 1), event("001-2", "purchase", 2), event("001-3", "purchase", 1)}
	errs := c.flush(ctx)
	require.Len(t, errs, 4)
	assert.NoError(t, errs[0])
	assert.True(t, streams.IsPermanent(errs[1]), "the refused event's activity is dead-lettered: %v", errs[1])
	assert.Error(t, errs[2], "the same sale's next event waits for it")
	assert.False(t, streams.IsPermanent(errs[2]))
	assert.NoError(t, errs[3])
	// The waiting event reached Podium in the one-by-one pass; its resend
	// carries the same eventId, which Podium's feed recognises.
	assert.Len(t, emu.FeedEvents(""), 3)

	p, ok, err := c.states.Load(ctx, "podium.sale.001-1")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.EqualValues(t, 1, p.Version)
	_, ok, err = c.states.Load(ctx, "podium.sale.001-2")
	require.NoError(t, err)
	assert.False(t, ok, "a failed activity's state is not saved")

	c.batch = []deferredActivity{event("001-4", "purchase", 1), event("001-5", "purchase", 1), event("001-6", "purchase", 1)}
	before := emu.Counter("requests")
	require.Equal(t, []error{nil, nil, nil}, c.flush(ctx))
	assert.Equal(t, 1, emu.Counter("requests")-before, "three activities, one call")
}
