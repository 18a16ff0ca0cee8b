package podium_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/sim/podiumemu"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const secret = "s3cr3t-client-secret"

type fixture struct {
	emu    *podiumemu.Emulator
	client *podium.Client
	loc    string
}

func newFixture(t *testing.T, edit func(*podium.ClientConfig)) fixture {
	t.Helper()
	emu := podiumemu.New()
	loc := emu.AddLocation("Store 001")
	rt := emu.Tokens().RegisterClient("cid", secret, "acct", []string{"read_contacts", "write_contacts", "read_locations"}, "")
	url := emu.Start()
	t.Cleanup(emu.Close)
	cfg := podium.ClientConfig{
		BaseURL: url, TokenURL: url + "/oauth/token", ClientID: "cid", ClientSecret: secret, RefreshToken: rt,
		RatePerMinute: -1, Timeout: 2 * time.Second, RetryFor: 20 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := podium.NewClient(cfg, quiet)
	require.NoError(t, err)
	return fixture{emu: emu, client: c, loc: loc}
}

func (f fixture) contact(n int) podiumapi.Contact {
	return podiumapi.Contact{Name: "Ada", Locations: []string{f.loc}, Email: fmt.Sprintf("ada%d@example.com", n)}
}

func TestClientCreatesAndUpdatesContacts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id, err := f.client.CreateContact(ctx, f.contact(1))
	require.NoError(t, err)
	require.NotEmpty(t, id)

	c := f.contact(1)
	c.Email = "ada.new@example.com"
	id2, err := f.client.UpdateContact(ctx, id, c)
	require.NoError(t, err)
	assert.Equal(t, id, id2, "the identifier survives an email change")
	got, ok := f.emu.ContactByIdentifier(id)
	require.True(t, ok)
	assert.Equal(t, []string{"ada.new@example.com"}, got.Emails, "Edge edits overwrite Podium's values")
	assert.Equal(t, 1, f.emu.ContactCount())
}

func TestClientRecoversFromFaults(t *testing.T) {
	tests := []struct {
		name    string
		faults  emulator.Faults
		counter string
	}{
		{"a token that expires mid-run is refreshed", emulator.Faults{ExpireAll: true}, "unauthenticated"},
		{"429s are retried after Retry-After", emulator.Faults{Burst429: 2, RetryAfter: 1}, "faults.429"},
		{"a 5xx burst delays but loses nothing", emulator.Faults{Burst500: 3}, "faults.500"},
		{"a hung request times out and is retried", emulator.Faults{Hang: 1, HangFor: 5 * time.Second}, "faults.hang"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, nil)
			_, err := f.client.CreateContact(ctx, f.contact(0)) // warm the token
			require.NoError(t, err)

			f.emu.SetFaults(tt.faults)
			_, err = f.client.CreateContact(ctx, f.contact(1))
			require.NoError(t, err)
			assert.Positive(t, f.emu.Counter(tt.counter))
			assert.Equal(t, 2, f.emu.Counter("contacts.created"), "each contact created exactly once")
		})
	}
}

func TestClientRefusalsArePermanentAndNeverLeakSecrets(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	_, err := f.client.CreateContact(ctx, podiumapi.Contact{Name: "No Channel", Locations: []string{f.loc}})
	var apiErr *podium.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.Status)
	assert.Equal(t, "invalid_request_values", apiErr.Code)
	assert.Equal(t, 1, f.emu.Counter("status.400"), "a refused body is not retried")

	bad := newFixture(t, func(c *podium.ClientConfig) { c.RefreshToken = "wrong-refresh-token" })
	_, err = bad.client.CreateContact(ctx, bad.contact(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "check client id, secret and refresh token")
	assert.NotContains(t, err.Error(), secret)
	assert.NotContains(t, err.Error(), "wrong-refresh-token")
}

func TestClientFollowsPagination(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 149 {
		f.emu.AddLocation(fmt.Sprintf("Store %03d", i+2))
	}
	locs, err := f.client.Locations(context.Background())
	require.NoError(t, err)
	assert.Len(t, locs, 150)
}

func TestNewClientChecksConfig(t *testing.T) {
	_, err := podium.NewClient(podium.ClientConfig{BaseURL: "api.podium.com"}, quiet)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing token URL, client id, client secret, refresh token")
}
