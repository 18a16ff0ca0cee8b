package natstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
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

func freePort(t testing.TB) int {
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
	bin, err := buildServer()
	require.NoError(t, err)
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "nats.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(
		"listen: 127.0.0.1:%d\njetstream { store_dir: %q, sync_interval: always }\n", port, filepath.Join(dir, "js"))), 0o600))
	cmd := exec.Command(bin, "-c", conf)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_, _ = cmd.Process.Wait()
	})
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		nc, err := nats.Connect(url)
		if err != nil {
			return false
		}
		nc.Close()
		return true
	}, 15*time.Second, 50*time.Millisecond, "nats-server did not start")
	return url
}
