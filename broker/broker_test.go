package broker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

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
