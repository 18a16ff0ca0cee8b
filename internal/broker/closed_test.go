package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/test/natstest"
)

// A permission the server refused leaves its error as the connection's
// last; the role's own Close at its end must still not read as the
// connection dying (which would end a successful command with exit 1).
func TestARefusedPermissionThenCloseIsNotAConnectionDying(t *testing.T) {
	url := natstest.StartProcessConf(t, func(port int, storeDir string) string {
		return fmt.Sprintf("listen: 127.0.0.1:%d\nauthorization { users = [ {user: role, password: pw, permissions: {publish: [\"allowed\"], subscribe: [\"_INBOX.>\"]}} ] }\n", port)
	}, nil)
	closed := make(chan error, 1)
	nc, err := broker.Connect(context.Background(), broker.ConnectConfig{URL: url, User: "role", Password: "pw",
		OnClosed: func(err error) { closed <- err }}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, nc.Publish("denied", nil))
	require.NoError(t, nc.Flush())
	require.Eventually(t, func() bool { return nc.LastError() != nil }, 5*time.Second, 20*time.Millisecond, "the server refuses the publish")
	nc.Close()
	select {
	case err := <-closed:
		t.Fatalf("a Close of the role's own was reported as the connection dying: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	assert.True(t, nc.IsClosed())
}
