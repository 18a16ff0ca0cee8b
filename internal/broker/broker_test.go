package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                      "nats://127.0.0.1:4222",
		"nats://alice:hunter2@host:4222":             "nats://REDACTED@host:4222",
		"nats://a:pw1@h1:4222, nats://b:pw2@h2:4222": "nats://REDACTED@h1:4222,nats://REDACTED@h2:4222",
		"nats://u:p%zz@host":                         "(unparsable URL)",
	} {
		assert.Equal(t, want, redactURL(in), in)
	}
}

func TestConnectErrorsNeverShowPasswords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Connect(ctx, ConnectConfig{URL: "nats://alice:hunter2@127.0.0.1:1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestEmbeddedSurvivesRestartAndRefusesBusyPort(t *testing.T) {
	dir := t.TempDir()
	e, err := StartEmbedded(EmbeddedConfig{Dir: dir})
	require.NoError(t, err)
	nc, err := e.Connect("t")
	require.NoError(t, err)
	nc.Close()
	e.Shutdown()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = StartEmbedded(EmbeddedConfig{Dir: dir, Port: port})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "port "+strconv.Itoa(port)+" is in use")

	_, err = StartEmbedded(EmbeddedConfig{})
	assert.ErrorContains(t, err, "data directory is required")
}

// A malformed URL's parse error quotes the URL whole, password and all.
func TestConnectErrorsOfAMalformedURLNeverShowThePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, raw := range []string{"nats://admin:Pw123@[::1", "nats://admin:Pw123@host:99999999"} {
		_, err := Connect(ctx, ConnectConfig{URL: raw}, slog.New(slog.DiscardHandler))
		require.Error(t, err, raw)
		assert.NotContains(t, err.Error(), "Pw123", raw)
	}
	err := RedactError(errors.New(`dial "nats://u:s3cret@h:1" and tls://x:y@z failed; pw s3cret`), "s3cret")
	assert.Equal(t, `dial "nats://REDACTED@h:1" and tls://REDACTED@z failed; pw REDACTED`, err.Error())
}

// A connection the server closes (here for a protocol line over its
// max_control_line: a subject of 6,000 bytes) is closed for good by
// nats.go; the role is told, so it can exit instead of running on a dead
// connection. A Close of its own is not such an end.
func TestARoleIsToldWhenItsConnectionIsClosedForGood(t *testing.T) {
	e, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir()})
	require.NoError(t, err)
	defer e.Shutdown()
	closed := make(chan error, 2)
	connect := func() *nats.Conn {
		nc, err := Connect(context.Background(), ConnectConfig{URL: e.URL(), OnClosed: func(err error) { closed <- err }}, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		return nc
	}
	nc := connect()
	nc.Close()
	nc = connect()
	defer nc.Close()
	_ = nc.Publish(strings.Repeat("x", 6000), []byte("poison"))
	_ = nc.Flush()
	select {
	case err := <-closed:
		assert.ErrorContains(t, err, "control line")
	case <-time.After(10 * time.Second):
		t.Fatal("the role was not told that its connection is closed")
	}
	assert.Empty(t, closed, "a Close of the role's own is not reported")
}

// A role that can work without NATS (the webhook gateway, with its spool)
// gets its connection at once while no server answers, and it connects
// once one does.
func TestABackgroundConnectionWaitsForTheServer(t *testing.T) {
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	nc, err := Connect(ctx, ConnectConfig{URL: "nats://127.0.0.1:" + strconv.Itoa(port), Background: true}, slog.New(slog.DiscardHandler))
	require.NoError(t, err, "no server yet, and the connection is there")
	defer nc.Close()
	assert.NotEqual(t, nats.CONNECTED, nc.Status())
	e, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir(), Port: port})
	require.NoError(t, err)
	defer e.Shutdown()
	require.Eventually(t, func() bool { return nc.Status() == nats.CONNECTED }, 10*time.Second, 50*time.Millisecond)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
