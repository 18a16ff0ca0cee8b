package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/connectors/webhook"
	"github.com/edgesync/edgesync/internal/status"
	"github.com/edgesync/edgesync/internal/trace"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// A store connects its own tool with the webhook connector: Edge's
// customers and sales reach the store's URL as signed CloudEvents, those
// made before the connector first ran included, an edit as its latest
// state; a delivery the tool refuses is dead-lettered with the tool's
// answer and holds nothing behind it; the URL's secret path is never
// logged.
func TestTheWebhookConnectorFeedsAStoresOwnTool(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := edgesim.New()
	srv := natstest.Start(t)
	const secret = "the-store-s-own-secret"

	var mu sync.Mutex
	got := map[string]webhook.Event{} // by subject: the latest state
	tool := webhook.Receiver{Secrets: []string{secret}, Take: func(_ *http.Request, ev webhook.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := got[ev.Subject]; !ok || ev.Version > prev.Version {
			got[ev.Subject] = ev
		}
		return nil
	}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte("refuse-me@example.com")) {
			http.Error(w, "the tool cannot take this customer: no consent", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		tool.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	latest := func(subject string) (webhook.Event, bool) {
		mu.Lock()
		defer mu.Unlock()
		ev, ok := got[subject]
		return ev, ok
	}

	var early string
	_, err := db.Update("", func(tx *edgesim.Tx) error {
		early = newCustomer(tx, "001", "Early", "early@example.com", "")
		return nil
	})
	require.NoError(t, err)

	var log syncbuf.Buffer
	lg := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cpt, err := capture.New(ctx, db, srv.JS, capture.Config{Site: "e2e", PollInterval: 20 * time.Millisecond}, lg)
	require.NoError(t, err)
	conn, err := webhook.New(ctx, srv.JS, webhook.Config{Name: "store-tool", URL: hs.URL + "/hooks/catch/s3cr3t-path", Secret: secret,
		Entities: []schemas.Entity{schemas.EntityCustomer, schemas.EntitySale}}, lg)
	require.NoError(t, err)
	done := make(chan struct{}, 2)
	go func() { _ = cpt.Run(ctx); done <- struct{}{} }()
	go func() { _ = conn.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	var ann, refused, after, sale string
	_, err = db.Update("", func(tx *edgesim.Tx) error {
		ann = newCustomer(tx, "001", "Ann", "ann@example.com", "")
		refused = newCustomer(tx, "001", "Refused", "refuse-me@example.com", "")
		return nil
	})
	require.NoError(t, err)
	_, err = db.Update("", func(tx *edgesim.Tx) error {
		c := tx.Customer(ann)
		c.ContactMethods[0].Value = "ann.new@example.com"
		if err := tx.PutCustomer(c); err != nil {
			return err
		}
		after = newCustomer(tx, "001", "After", "after@example.com", "")
		sale, err = tx.NewSale("001", schemas.Sale{CustomerKey: ann, Total: 12000, Date: time.Now()})
		return err
	})
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		return captured(ctx, db, cpt) && caughtUp(ctx, srv.JS, streams.StreamEdge, "store-tool")
	}, time.Minute, 20*time.Millisecond)

	for _, key := range []string{early, ann, after} {
		ev, ok := latest("customer/" + key)
		require.True(t, ok, "customer %s reached the tool", key)
		assert.Equal(t, "edge.customer.changed", ev.Type)
		assert.Equal(t, "001", ev.Store)
	}
	ev, _ := latest("customer/" + ann)
	var c schemas.Customer
	require.NoError(t, json.Unmarshal(ev.Data, &c))
	assert.Equal(t, "ann.new@example.com", c.ContactMethods[0].Value, "the tool holds Edge's latest state")
	_, ok := latest("sale/" + sale)
	assert.True(t, ok, "the sale reached the tool")
	_, ok = latest("customer/" + refused)
	assert.False(t, ok)

	dead, err := streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "store-tool", dead[0].Consumer)
	assert.Contains(t, dead[0].Reason, "400")
	assert.Contains(t, dead[0].Reason, "no consent", "the tool's own answer says why")
	assert.NotContains(t, log.String(), "s3cr3t-path")
	assert.NotContains(t, log.String(), secret)
	assert.NotContains(t, dead[0].Reason, "s3cr3t-path")
	assert.True(t, strings.Contains(log.String(), "bulk lane"), "the customer made before the connector went in its upload")

	// The support engineer's trace finds the new connector by its report,
	// with no change to the trace.
	var tr trace.Trace
	require.Eventually(t, func() bool {
		tr, err = trace.Customer(ctx, srv.JS, ann)
		return err == nil && slices.ContainsFunc(tr.Connectors, func(c trace.ConnectorTrace) bool {
			return c.Connector == "store-tool" && strings.HasPrefix(c.LastCall, "the partner has Edge's latest state")
		})
	}, 20*time.Second, 100*time.Millisecond, "%+v %v", tr.Connectors, err)

	// The status page lists it with its report, and its dead letter.
	var snap status.Snapshot
	require.Eventually(t, func() bool { // a connector reports every few seconds
		snap = status.NewReader(srv.JS).Read(ctx)
		i := slices.IndexFunc(snap.Consumers, func(c status.Consumer) bool { return c.Name == "store-tool" })
		return i >= 0 && snap.Consumers[i].Report != nil && snap.Consumers[i].Report.Applied >= 3
	}, 20*time.Second, 200*time.Millisecond, "%+v", snap.Consumers)
	assert.True(t, slices.ContainsFunc(snap.DeadLetters, func(g status.DeadGroup) bool { return g.Consumer == "store-tool" }))
}
