package health_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/test/natstest"
)

// /healthz fails once the role's NATS connection is closed for good (here
// by the server, for a protocol line over its max_control_line): the role
// can no longer do its job, and an orchestrator restarts it. While the
// connection is up both probes pass.
func TestHealthzFailsOnceTheConnectionIsClosedForGood(t *testing.T) {
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1))
	require.NoError(t, err)
	defer nc.Close()
	mux := http.NewServeMux()
	health.Register(mux, health.NATS(nc))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	status := func(path string) int {
		resp, err := http.Get(hs.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, status("/healthz"))
	assert.Equal(t, http.StatusOK, status("/readyz"))

	_ = nc.Publish(strings.Repeat("x", 6000), nil)
	_ = nc.Flush()
	require.Eventually(t, nc.IsClosed, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, http.StatusServiceUnavailable, status("/healthz"))
	assert.Equal(t, http.StatusServiceUnavailable, status("/readyz"))
}
