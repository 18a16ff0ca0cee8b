package e2e

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/syncbuf"
	"github.com/edgesync/edgesync/writer"
)

// Records deleted and edited by hand in Podium, while no webhook tells:
// reconcile reports each by kind and changes nothing; with repair, both
// sides are back in line by the seeds' rules: the deleted contact is made
// again from Edge, the email changed in Podium becomes a new Edge email,
// the contact made in Podium becomes an Edge customer; reconcile then
// finds no drift.
func TestReconcileFindsAndRepairsDrift(t *testing.T) {
	ctx := context.Background()
	in := newInbound(t, true, nil)
	var ada, bob, sale string
	in.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		bob = newCustomer(tx, "001", "Bob", "bob@example.com", "")
		var err error
		sale, err = tx.NewSale("001", schemas.Sale{CustomerKey: ada, Total: 2500, Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", Qty: 1, Amount: 2500}}})
		return err
	})
	in.settle()
	purchases := func() int {
		return len(slices.DeleteFunc(feedBodies(t, in.emu, projectors.FeedPurchase, func(e podiumapi.FeedEvent) *podiumapi.Purchase { return e.Purchase }),
			func(p podiumapi.Purchase) bool { return p.SaleNumber != sale }))
	}
	require.Equal(t, 1, purchases())
	// edgesync's record of the sale is lost (a bucket restored from an
	// older backup): its purchase counts as never sent.
	projection, err := in.srv.JS.KeyValue(ctx, streams.BucketProjection)
	require.NoError(t, err)
	require.NoError(t, projection.Purge(ctx, podium.Durable+".sale."+sale))
	client, err := podium.NewClient(podium.ClientConfig{BaseURL: in.emu.URL(), TokenURL: in.emu.URL() + "/oauth/token", ClientID: "cid",
		ClientSecret: "secret", RefreshToken: mustRefresh(t, in.emu), RatePerMinute: -1}, logger())
	require.NoError(t, err)
	for _, h := range in.emu.Webhooks().List() { // no webhook tells what follows
		_, ok := in.emu.Webhooks().Delete(h.UID)
		require.True(t, ok)
	}
	require.NoError(t, client.Do(ctx, "DELETE", "/v4/contacts/bob@example.com", nil, nil))
	require.True(t, in.emu.EditContact("ada@example.com", func(c *podiumemu.Contact) { c.Emails = []string{"ada@podium.example.com"} }))
	in.emu.CreateContactInApp("Grace Hopper", "", "grace@example.com", in.loc)

	recs := podium.Records{Client: client}
	var logs syncbuf.Buffer
	rep, err := kit.Reconcile(ctx, in.srv.JS, recs, "podium", podium.Durable, "", slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	assert.Contains(t, logs.String(), `within its rate limit" partner=podium edge_customers=2`, "it says what it lists, against Edge's count")
	assert.Contains(t, logs.String(), `comparing them with Edge" partner=podium records=2`)
	kinds := map[string]kit.Drift{}
	for _, d := range rep.Drift {
		kinds[d.Kind+" "+d.EdgeKey] = d
	}
	assert.Contains(t, kinds, kit.Missing+" "+bob)
	assert.Contains(t, kinds[kit.Differs+" "+ada].Detail, "at the partner only: ada@podium.example.com")
	assert.Contains(t, kinds[kit.Differs+" "+ada].Detail, "in Edge only: ada@example.com")
	assert.Contains(t, kinds[kit.Extra+" "].Detail, "grace@example.com")
	assert.Contains(t, kinds[kit.PurchaseMissing+" "+sale].Detail, "sale of customer "+ada)
	assert.Len(t, rep.Drift, 4, "%+v", rep.Drift)
	assert.Len(t, in.db.CustomerKeys(), 2, "a report changes nothing")

	require.NoError(t, kit.Repair(ctx, in.srv.JS, &rep, kit.RepairConfig{Durable: podium.Durable, Namespace: podium.Durable, WriterDurable: writer.Durable}))
	deadline := time.Now().Add(30 * time.Second)
	for {
		start := time.Now()
		again, err := kit.Reconcile(ctx, in.srv.JS, recs, "podium", podium.Durable, "", logger())
		t.Logf("reconcile took %s: %v %+v", time.Since(start), err, again.Drift)
		if err == nil && len(again.Drift) == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no drift once repaired")
		time.Sleep(200 * time.Millisecond)
	}
	in.settle()
	assert.Equal(t, []string{"ada@example.com/", "ada@podium.example.com/PODIUM"}, methods(in.db.Customer(ada), schemas.MethodEmail),
		"the email changed in Podium is a new Edge email; Edge's stays")
	_, ok := in.emu.ContactByIdentifier("bob@example.com")
	assert.True(t, ok, "the contact deleted by hand is made again from Edge")
	var grace string
	_, _ = in.db.Update("", func(tx *edgesim.Tx) error { grace = tx.CustomerByEmail("grace@example.com"); return nil })
	assert.NotEmpty(t, grace, "the contact made in Podium reached Edge")
	_, err = projection.Get(ctx, podium.Durable+".sale."+sale)
	assert.NoError(t, err, "the purchase not sent by edgesync's record went again")
	assert.Equal(t, 1, purchases(), "under its event id: Podium holds it once")
}
