package clientbook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/emulator"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const apiKey = "cb-secret-api-key"

func newFixture(t *testing.T, edit func(*clientbook.ClientConfig)) (*clientbookemu.Emulator, *clientbook.Client) {
	t.Helper()
	emu := clientbookemu.New()
	emu.AddAPIKey(apiKey)
	url := emu.Start()
	t.Cleanup(emu.Close)
	cfg := clientbook.ClientConfig{BaseURL: url, APIKey: apiKey, RatePerMinute: -1, Timeout: time.Second, RetryFor: 20 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	c, err := clientbook.NewClient(cfg, quiet)
	require.NoError(t, err)
	return emu, c
}

func client(n int) clientbookapi.Client {
	return clientbookapi.Client{ExternalID: fmt.Sprintf("001-%06d", n), FirstName: "Ada", Emails: []clientbookapi.Contact{{Value: fmt.Sprintf("ada%d@example.com", n)}}}
}

func TestClientUpsertsByExternalID(t *testing.T) {
	ctx := context.Background()
	emu, c := newFixture(t, nil)
	first, err := c.UpsertClient(ctx, client(1))
	require.NoError(t, err)
	again, err := c.UpsertClient(ctx, client(1))
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID, "a retried write never makes a second client")
	assert.Len(t, emu.Clients(), 1)

	require.NoError(t, c.UpsertProduct(ctx, clientbookapi.Product{ExternalID: "item:001-100-00001", Name: "Ring", Price: 1000, Status: "active", Kind: "inventory"}))
	require.NoError(t, c.UpsertProduct(ctx, clientbookapi.Product{ExternalID: "item:001-100-00001", Status: "archived", Kind: "sold", ClientID: first.ID}))
	p, ok := emu.Product("item:001-100-00001")
	require.True(t, ok)
	assert.Equal(t, "Ring", p.Name, "a product write keeps the fields it leaves out")
	assert.EqualValues(t, 1000, p.Price)
	assert.Equal(t, "archived", p.Status)
	assert.Equal(t, first.ID, p.ClientID)
	assert.Zero(t, emu.Webhooks().Pending(), "the integration's own writes are not echoed as webhooks")
}

func TestClientRecoversFromFaults(t *testing.T) {
	tests := []struct {
		name    string
		faults  emulator.Faults
		counter string
	}{
		{"429s are retried after Retry-After", emulator.Faults{Burst429: 2, RetryAfter: 1}, "faults.429"},
		{"a 5xx burst delays but loses nothing", emulator.Faults{Burst500: 3}, "faults.500"},
		{"a hung request times out and is retried", emulator.Faults{Hang: 1, HangFor: 3 * time.Second}, "faults.hang"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, c := newFixture(t, nil)
			emu.SetFaults(tt.faults)
			_, err := c.UpsertClient(context.Background(), client(1))
			require.NoError(t, err)
			assert.Positive(t, emu.Counter(tt.counter))
			assert.Equal(t, 1, emu.Counter("clients.created"))
		})
	}
}

func TestClientRefusalsArePermanentAndNeverLeakTheKey(t *testing.T) {
	ctx := context.Background()
	emu, c := newFixture(t, nil)
	_, err := c.UpsertClient(ctx, clientbookapi.Client{ExternalID: "001-000001", Phones: []clientbookapi.Contact{{Value: "555"}}})
	var apiErr *clientbook.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.Status)
	assert.Equal(t, "invalid_request", apiErr.Code)
	assert.Equal(t, 1, emu.Counter("status.400"), "a refused body is not retried")

	_, bad := newFixture(t, func(c *clientbook.ClientConfig) { c.APIKey = "wrong-key" })
	_, err = bad.UpsertClient(ctx, client(1))
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
	assert.NotContains(t, err.Error(), "wrong-key")
	assert.NotContains(t, err.Error(), apiKey)
}

func TestClientStaysUnderTheRateLimit(t *testing.T) {
	// 60 requests in two seconds: the per-minute arithmetic, in seconds.
	emu, c := newFixture(t, func(c *clientbook.ClientConfig) { c.RatePerMinute, c.RateWindow = 60, 2*time.Second })
	emu.SetLimitWindow(60, 2*time.Second)
	for i := range 100 {
		_, err := c.UpsertClient(context.Background(), client(i))
		require.NoError(t, err)
	}
	assert.Zero(t, emu.Counter("rate_limited"), "steady load never draws a 429")
}

func TestEmulatorAnswersRateLimitWith429(t *testing.T) {
	emu, c := newFixture(t, func(c *clientbook.ClientConfig) { c.RetryFor = time.Millisecond })
	emu.SetLimitWindow(3, time.Minute)
	var err error
	for i := range 4 {
		_, err = c.UpsertClient(context.Background(), client(i))
	}
	var apiErr *clientbook.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.Status)
	assert.Equal(t, "rate_limit", apiErr.Code)
}

func TestClientFollowsPagination(t *testing.T) {
	emu, c := newFixture(t, nil)
	emu.SetLimit(0)
	for i := range 230 {
		_, err := c.UpsertClient(context.Background(), client(i))
		require.NoError(t, err)
	}
	all, err := c.Clients(context.Background())
	require.NoError(t, err)
	assert.Len(t, all, 230)
}

func TestWebhookDeliveriesAreSignedAndOrdered(t *testing.T) {
	ctx := context.Background()
	emu, c := newFixture(t, nil)
	v := webhooks.ClientbookVerifier("hook-secret", time.Minute)
	var mu sync.Mutex
	var verified []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		verified = append(verified, v.Verify(r.Header, body, time.Now()))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	id, err := c.EnsureWebhook(ctx, srv.URL, "hook-secret", clientbook.WebhookEvents)
	require.NoError(t, err)
	again, err := c.EnsureWebhook(ctx, srv.URL, "hook-secret", clientbook.WebhookEvents)
	require.NoError(t, err)
	assert.Equal(t, id, again, "subscribing twice updates the one webhook")

	cl := emu.CreateClientInApp(clientbookemu.Client{FirstName: "Grace"})
	emu.AddActivityInApp(cl.ID, "hello")
	require.Eventually(t, func() bool { return emu.Webhooks().Pending() == 0 }, 5*time.Second, 10*time.Millisecond)
	ds := emu.Webhooks().Deliveries()
	require.Len(t, ds, 2)
	assert.Equal(t, "client.created", ds[0].EventType)
	assert.Equal(t, "activity.created", ds[1].EventType)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []error{nil, nil}, verified, "deliveries carry a valid clientbook-signature")
}
