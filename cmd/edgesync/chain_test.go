package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/broker"
	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/chain"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
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
	env := envList(t, filepath.Join(dir, chain.HubEnv))
	const adminPassword = "chain-admin"
	for _, u := range []string{"ADMIN", "CAPTURE", "CONNECTOR_PODIUM", "CONNECTOR_CLIENTBOOK", "GATEWAY_PODIUM", "GATEWAY_CLIENTBOOK", "WRITER"} {
		env = append(env, "EDGESYNC_NATS_"+u+"_PASSWORD=chain-"+strings.ToLower(u))
	}
	hubURL := natstest.StartProcessConf(t, func(port int, storeDir string) string {
		b, err := os.ReadFile(filepath.Join(dir, chain.HubConf))
		require.NoError(t, err)
		conf := string(b)
		cluster := conf[strings.Index(conf, "cluster {"):]
		cluster = cluster[:strings.Index(cluster, "\n}\n")+3]
		for old, repl := range map[string]string{
			"server_name: $EDGESYNC_NATS_SERVER_NAME": "",
			cluster:                     "",
			"port: 4222":                fmt.Sprintf("listen: 127.0.0.1:%d", port),
			"http_port: 8222":           "",
			"store_dir: /data":          fmt.Sprintf("store_dir: %q", storeDir),
			"port: 7422":                fmt.Sprintf("host: 127.0.0.1\n  port: %d", leafPort),
			"/etc/nats/tls/hub.pem":     filepath.Join(dir, chain.HubCert),
			"/etc/nats/tls/hub-key.pem": filepath.Join(dir, chain.HubKey),
		} {
			require.Contains(t, conf, old)
			conf = strings.Replace(conf, old, repl, 1)
		}
		return conf
	}, env)
	admin := []string{"EDGESYNC_NATS_URL=" + hubURL, "EDGESYNC_NATS_USER=admin", "EDGESYNC_NATS_PASSWORD=chain-admin"}

	// Each store: its own Edge, and the store role with its settings file.
	for _, store := range []string{"001", "002"} {
		simAddr := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
		start(t, bin, nil, "", "sim", "edge", "--store", store, "--customers-per-store", "12", "--dir", t.TempDir(), "--addr", simAddr)
		start(t, bin, envList(t, filepath.Join(dir, chain.StoreEnv(store))), dir, // the CA beside the settings file
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

// start runs the binary until the test ends, in dir when it is set.
func start(t *testing.T, bin string, env []string, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s:\n%s", strings.Join(args[:2], " "), out.String())
		}
	})
}

// envList is a chain's KEY=VALUE file as a process environment.
func envList(t *testing.T, path string) []string {
	t.Helper()
	m, err := chain.ReadEnv(path)
	require.NoError(t, err)
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
