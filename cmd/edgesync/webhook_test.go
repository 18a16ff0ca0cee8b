package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/webhook"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// The webhook role: its configuration refused with what is wrong, then
// run with the secret from the environment, delivering an Edge event
// signed, and logging neither the secret nor the URL's path.
func TestWebhookRole(t *testing.T) {
	bin := buildBinary(t)
	srv := natstest.Start(t)
	const secret = "sixteen-or-more-chars"
	var mu sync.Mutex
	var got []webhook.Event
	hs := httptest.NewServer(webhook.Receiver{Secrets: []string{secret}, Take: func(_ *http.Request, ev webhook.Event) error {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		return nil
	}})
	t.Cleanup(hs.Close)
	env := []string{"EDGESYNC_NATS_URL=" + srv.URL()}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", hs.URL, "--secret", "short"}, "secret: 5 characters, want at least 16"},
		{[]string{"--url", "ftp://example.com/x", "--secret", secret}, "want an absolute http:// or https:// URL"},
		{[]string{"--url", hs.URL, "--secret", secret, "--webhook-entity", "invoice"}, `invoice\": want one of [customer wishlist`},
	} {
		_, stderr, code := run(bin, env, append([]string{"connector", "webhook"}, tc.args...)...)
		assert.NotZero(t, code, tc.want)
		assert.Contains(t, stderr, tc.want)
	}

	cmd := exec.Command(bin, "connector", "webhook", "--url", hs.URL+"/catch/s3cr3t-path", "--webhook-entity", "customer")
	cmd.Env = append(os.Environ(), append(env, "EDGESYNC_WEBHOOK_SECRET="+secret)...)
	var out syncbuf.Buffer
	cmd.Stderr = &out
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		_, err := srv.JS.Consumer(context.Background(), streams.StreamEdge, "webhook")
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, out.String())
	m, err := schemas.EdgeEvent{Source: "edgesync/capture/test", Entity: schemas.EntityCustomer, Key: "001-000001", Version: 7, Time: time.Now(),
		Data: &schemas.Customer{Key: "001-000001", Store: "001", FirstName: "Ann", SyncEnabled: true}}.Msg()
	require.NoError(t, err)
	_, err = streams.PublishMsg(context.Background(), srv.JS, m)
	require.NoError(t, err)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 }, 20*time.Second, 50*time.Millisecond, out.String())
	mu.Lock()
	assert.Equal(t, "customer/001-000001", got[0].Subject)
	assert.EqualValues(t, 7, got[0].Version)
	mu.Unlock()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), out.String())
	assert.Contains(t, out.String(), "webhook connector running")
	assert.NotContains(t, out.String(), secret)
	assert.NotContains(t, out.String(), "s3cr3t-path")
}
