package containers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/chain"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/proctest"
)

// A chain's hub as deploy/compose.hub.yaml runs it: three NATS servers in
// containers on the nats-hub.conf, certificates and store passwords
// `edgesync chain` wrote, each publishing its leaf node port, and
// streams-init sourcing both stores. Two stores, each `edgesync store` on
// the host against its own Edge (`sim edge --store NNN`), dial the three
// ports with the settings files add-store wrote; `streams status` in the
// tools container shows both connected and their customers at the hub.
func TestComposeHubTakesTwoStores(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("*** SKIPPED: docker-compose is not installed: the compose hub is not tested")
	}
	if testing.Short() {
		t.Skip("builds the images and runs the hub's containers; skipped with -short")
	}
	suffix := randomSuffix()
	edgesyncImage, natsImage := buildImages(t, suffix)
	bin := filepath.Join(t.TempDir(), "edgesync")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/edgesync/edgesync/cmd/edgesync").CombinedOutput()
	require.NoError(t, err, "%s", out)

	ports := []int{natstest.FreePort(t), natstest.FreePort(t), natstest.FreePort(t)}
	var hubURLs []string
	for _, p := range ports {
		hubURLs = append(hubURLs, fmt.Sprintf("tls://127.0.0.1:%d", p))
	}
	dir := t.TempDir()
	out, err = exec.Command(bin, "chain", "init", "--dir", dir, "--hub-url", strings.Join(hubURLs, ","), "--hub-name", "127.0.0.1").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, store := range []string{"001", "002"} {
		out, err = exec.Command(bin, "chain", "add-store", store, "--dir", dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	// nats-server runs as 65532 in its image: the docs chown the key; the
	// test's own directory can simply be read by all.
	require.NoError(t, os.Chmod(filepath.Join(dir, chain.HubKey), 0o644))
	require.NoError(t, os.Chmod(filepath.Join(dir, chain.HubEnv), 0o644))
	require.NoError(t, os.Chmod(dir, 0o755))

	var env strings.Builder
	for _, f := range []string{"../../deploy/demo.env", "../../deploy/hub.env"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		env.Write(b)
		env.WriteString("\n")
	}
	fmt.Fprintf(&env, "EDGESYNC_CHAIN_DIR=%s\nEDGESYNC_IMAGE=%s\nEDGESYNC_NATS_IMAGE=%s\nEDGESYNC_LEAF_PORT=%d\nEDGESYNC_LEAF_PORT_2=%d\nEDGESYNC_LEAF_PORT_3=%d\n",
		dir, edgesyncImage, natsImage, ports[0], ports[1], ports[2])
	envFile := filepath.Join(t.TempDir(), "hub.env")
	require.NoError(t, os.WriteFile(envFile, []byte(env.String()), 0o600))
	project := "edgesync-hub-" + suffix
	dc := func(args ...string) (string, error) {
		cmd := exec.Command(compose, append([]string{"-p", project, "-f", "../../deploy/compose.yaml", "-f", "../../deploy/compose.hub.yaml",
			"--env-file", envFile, "--profile", "cluster"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := dc("logs", "--no-color", "--tail", "30")
			t.Logf("containers' logs:\n%s", logs)
		}
		if out, err := dc("down", "-v", "--remove-orphans", "-t", "5"); err != nil {
			t.Logf("compose down: %v: %s", err, out)
		}
	})
	out2, err := dc("up", "-d", "nats", "nats-2", "nats-3")
	require.NoError(t, err, out2)

	for _, store := range []string{"001", "002"} {
		simAddr := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
		proctest.Start(t, bin, nil, "", "sim", "edge", "--store", store, "--customers-per-store", "12", "--dir", t.TempDir(), "--addr", simAddr)
		storeEnv, err := chain.Environ(filepath.Join(dir, chain.StoreEnv(store)))
		require.NoError(t, err)
		proctest.Start(t, bin, storeEnv, dir, "store", "--dir", t.TempDir(), "--edge-simulator", "http://"+simAddr, "--poll", "50ms")
	}
	// The stores first: a store that comes up after streams-init is taken
	// on nats-server's next try of its source, up to half a minute later.
	time.Sleep(3 * time.Second)
	out2, err = dc("up", "-d", "streams-init")
	require.NoError(t, err, out2)

	var status string
	require.Eventually(t, func() bool {
		status, err = dc("run", "--rm", "tools", "streams", "status")
		return err == nil && regexp.MustCompile(`001\s+connected`).MatchString(status) && regexp.MustCompile(`002\s+connected`).MatchString(status) &&
			regexp.MustCompile(`EDGE\s+\d+\s+\d+\s+(2[4-9]|[3-9]\d|\d{3,})\s`).MatchString(status)
	}, 3*time.Minute, 3*time.Second, "both stores connected, their customers and more at the hub: %v\n%s", err, status)
	t.Logf("streams status at the hub:\n%s", status)
}
