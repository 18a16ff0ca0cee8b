package natstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/test/syncbuf"
)

var serverBinary struct {
	once sync.Once
	path string
	err  error
}

// buildServer compiles the nats-server this module depends on, once per
// test binary, so process-level tests run the same server version.
func buildServer() (string, error) {
	serverBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "edgesync-nats-server")
		if err != nil {
			serverBinary.err = err
			return
		}
		path := filepath.Join(dir, "nats-server")
		out, err := exec.Command("go", "build", "-o", path, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			serverBinary.err = fmt.Errorf("build nats-server: %v: %s", err, out)
			return
		}
		serverBinary.path = path
	})
	return serverBinary.path, serverBinary.err
}

// ServerBinary is the path of the nats-server this module depends on,
// built once per test binary.
func ServerBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildServer()
	require.NoError(t, err)
	return bin
}

// FreePort is a loopback TCP port nothing listens on at the moment.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartProcess runs nats-server as a separate process with JetStream in a
// fresh directory and fsync before every acknowledgement, as deploy/nats-server.conf
// does. Benchmarks use it so the process under test measures only its own
// memory. It returns the client URL; the server stops when the test ends.
func StartProcess(t testing.TB) string {
	t.Helper()
	return StartProcessConf(t, func(port int, storeDir string) string {
		return fmt.Sprintf("listen: 127.0.0.1:%d\njetstream { store_dir: %q, sync_interval: always }\n", port, storeDir)
	}, nil)
}

// StartProcessConf runs nats-server as a separate process with the
// configuration conf returns for its port and JetStream directory, and env
// added to its environment (a configuration's $VARIABLES). It returns the
// client URL once the port answers; the server stops when the test ends.
func StartProcessConf(t testing.TB, conf func(port int, storeDir string) string, env []string) string {
	t.Helper()
	bin, err := buildServer()
	require.NoError(t, err)
	dir := t.TempDir()
	port := FreePort(t)
	path := filepath.Join(dir, "nats.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf(port, filepath.Join(dir, "js"))), 0o600))
	cmd := exec.Command(bin, "-c", path)
	cmd.Env = append(os.Environ(), env...)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, 15*time.Second, 50*time.Millisecond, "nats-server did not start")
	select {
	case <-exited:
		t.Fatalf("nats-server exited: %s", out.String())
	default:
	}
	return "nats://" + addr
}

// HubOnOneServer turns a hub configuration as deploy/nats-hub.conf (or
// `edgesync chain add-store`) writes it into one server's, for a test:
// no routes and no server name, its client port, store and leaf node port
// the test's own, and the hub's certificate and key at the given paths.
func HubOnOneServer(t testing.TB, conf string, port int, storeDir string, leafPort int, cert, key string) string {
	t.Helper()
	cluster := conf[strings.Index(conf, "cluster {"):]
	cluster = cluster[:strings.Index(cluster, "\n}\n")+3]
	for old, repl := range map[string]string{
		"server_name: $EDGESYNC_NATS_SERVER_NAME": "",
		cluster:                     "", // one server
		"port: 4222":                fmt.Sprintf("listen: 127.0.0.1:%d", port),
		"http_port: 8222":           "",
		"store_dir: /data":          fmt.Sprintf("store_dir: %q", storeDir),
		"port: 7422":                fmt.Sprintf("host: 127.0.0.1\n  port: %d", leafPort),
		"/etc/nats/tls/hub.pem":     cert,
		"/etc/nats/tls/hub-key.pem": key,
	} {
		require.Contains(t, conf, old, "the hub configuration changed shape")
		conf = strings.Replace(conf, old, repl, 1)
	}
	return conf
}
