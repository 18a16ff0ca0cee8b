package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/internal/chain"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/proctest"
)

// A chain set up by docs/chain.md's steps, from the binary: `chain init`
// (the CA and the hub's certificate), `chain add-store` for stores 001 and
// 002, the hub's nats-server on the configuration and environment that
// wrote (one server here instead of three), `streams init --store 001
// --store 002`, and at each store its Edge (`sim edge --store NNN`) and
// `edgesync store` with the settings file add-store wrote. Both stores'
// customers reach the hub, and the hub sees both stores connected.
func TestAChainFromItsDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nats-server and five edgesync processes")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	leafPort := natstest.FreePort(t)
	leafURL := fmt.Sprintf("tls://127.0.0.1:%d", leafPort)
	_, stderr, code := run(bin, nil, "chain", "init", "--dir", dir, "--hub-url", leafURL, "--hub-name", "127.0.0.1")
	require.Zero(t, code, stderr)
	for _, store := range []string{"001", "002"} {
		stdout, stderr, code := run(bin, nil, "chain", "add-store", store, "--dir", dir)
		require.Zero(t, code, stderr)
		assert.Contains(t, stdout, "edgesync streams init --replicas 3 --store 001")
	}

	// The hub: its configuration and environment as add-store wrote them,
	// on one server (no routes, ports and paths of the test's own).
	env := environ(t, filepath.Join(dir, chain.HubEnv))
	const adminPassword = "chain-admin"
	for _, u := range []string{"ADMIN", "CAPTURE", "CONNECTOR_PODIUM", "CONNECTOR_CLIENTBOOK", "GATEWAY_PODIUM", "GATEWAY_CLIENTBOOK", "WRITER"} {
		env = append(env, "EDGESYNC_NATS_"+u+"_PASSWORD=chain-"+strings.ToLower(u))
	}
	hubURL := natstest.StartProcessConf(t, func(port int, storeDir string) string {
		b, err := os.ReadFile(filepath.Join(dir, chain.HubConf))
		require.NoError(t, err)
		return natstest.HubOnOneServer(t, string(b), port, storeDir, leafPort, filepath.Join(dir, chain.HubCert), filepath.Join(dir, chain.HubKey))
	}, env)
	admin := []string{"EDGESYNC_NATS_URL=" + hubURL, "EDGESYNC_NATS_USER=admin", "EDGESYNC_NATS_PASSWORD=chain-admin"}

	// Each store: its own Edge, and the store role with its settings file.
	for _, store := range []string{"001", "002"} {
		simAddr := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
		proctest.Start(t, bin, nil, "", "sim", "edge", "--store", store, "--customers-per-store", "12", "--dir", t.TempDir(), "--addr", simAddr)
		proctest.Start(t, bin, environ(t, filepath.Join(dir, chain.StoreEnv(store))), dir, // the CA beside the settings file
			"store", "--dir", t.TempDir(), "--edge-simulator", "http://"+simAddr, "--poll", "50ms")
	}
	// The hub sources both stores. (Stores that come up after this are
	// taken once nats-server tries their source again, which it does less
	// often the longer a source failed: here they are up first.)
	time.Sleep(3 * time.Second)
	_, stderr, code = run(bin, admin, "streams", "init", "--store", "001", "--store", "002")
	require.Zero(t, code, stderr)

	ctx := context.Background()
	nc, err := broker.Connect(ctx, broker.ConnectConfig{URL: hubURL, User: "admin", Password: adminPassword}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := js.Stream(ctx, streams.StreamEdge)
		if err != nil {
			return false
		}
		for _, store := range []string{"001", "002"} {
			info, err := s.Info(ctx, jetstream.WithSubjectFilter("edge.customer."+store+".>"))
			if err != nil || len(info.State.Subjects) != 12 {
				return false
			}
		}
		return true
	}, 2*time.Minute, 200*time.Millisecond, "each store's 12 customers at the hub")
	stdout, stderr, code := run(bin, admin, "streams", "status")
	require.Zero(t, code, stderr)
	assert.Regexp(t, `001\s+connected`, stdout)
	assert.Regexp(t, `002\s+connected`, stdout)
	// The hub's status page has each store's capture: it reports through
	// the link, under the store's own credential.
	require.Eventually(t, func() bool {
		captures, err := streams.ReadReports[capture.Report](ctx, js, streams.ReportCapture)
		return err == nil && captures["store001"].EdgeVersion > 0 && captures["store002"].EdgeVersion > 0
	}, time.Minute, 200*time.Millisecond, "each store's capture reports to the hub")
}

func environ(t *testing.T, path string) []string {
	t.Helper()
	env, err := chain.Environ(path)
	require.NoError(t, err)
	return env
}
