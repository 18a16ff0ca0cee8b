// Package containers tests edgesync's images in a Docker engine: built from
// nothing pulled, each role in its own container, talking across a network.
// Without an engine the tests skip, and say so.
package containers

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/test/natstest"
)

func docker(args ...string) (string, error) {
	out, err := exec.Command("docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func requireEngine(t *testing.T) {
	if _, err := docker("info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skip("*** SKIPPED: no Docker engine answers (docker info): the images and the roles in containers are not tested")
	}
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// buildImages builds the edgesync and nats-server images the way
// `go tool task images` does, under tags of their own.
func buildImages(t *testing.T, suffix string) (edgesync, nats string) {
	dir := t.TempDir()
	for _, b := range [][]string{
		{"-o", filepath.Join(dir, "edgesync"), "github.com/edgesync/edgesync/cmd/edgesync"},
		{"-o", filepath.Join(dir, "nats-server"), "github.com/nats-io/nats-server/v2"},
	} {
		cmd := exec.Command("go", append([]string{"build", "-trimpath", "-ldflags", "-s -w"}, b...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "data"), 0o755))
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	require.NoError(t, err, "the host's CA certificates go into the image")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca-certificates.crt"), certs, 0o644))
	edgesync, nats = "edgesync-test:"+suffix, "edgesync-nats-test:"+suffix
	for tag, file := range map[string]string{edgesync: "../../deploy/Dockerfile", nats: "../../deploy/nats.Dockerfile"} {
		out, err := docker("build", "-q", "-f", file, "-t", tag, dir)
		require.NoError(t, err, "docker build %s: %s", file, out)
		t.Cleanup(func() { _, _ = docker("rmi", "-f", tag) })
	}
	return edgesync, nats
}

// The images run the roles across containers: nats-server with
// deploy/nats-server.conf as shipped (its users, fsync always, JetStream on
// a volume), `streams init` and `streams status` as the admin user, and the
// status page as a long-running role reached from the host.
func TestRolesRunInContainers(t *testing.T) {
	requireEngine(t)
	t.Parallel() // each test has containers, networks and ports of its own
	suffix := randomSuffix()
	edgesyncImage, natsImage := buildImages(t, suffix)
	user, err := docker("image", "inspect", "-f", "{{.Config.User}}", edgesyncImage)
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", user, "the roles do not run as root")

	network := "edgesync-test-" + suffix
	_, err = docker("network", "create", network)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = docker("network", "rm", network) })
	conf, err := os.ReadFile("../../deploy/nats-server.conf")
	require.NoError(t, err)
	confDir := t.TempDir()
	require.NoError(t, os.Chmod(confDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "nats-server.conf"), conf, 0o644))
	env := []string{}
	admin := "admin-" + suffix
	for _, u := range []string{"ADMIN", "CAPTURE", "CONNECTOR_PODIUM", "CONNECTOR_CLIENTBOOK", "GATEWAY_PODIUM", "GATEWAY_CLIENTBOOK", "WRITER"} {
		pw := strings.ToLower(u) + "-" + suffix
		if u == "ADMIN" {
			pw = admin
		}
		env = append(env, "-e", "EDGESYNC_NATS_"+u+"_PASSWORD="+pw)
	}
	natsName := "nats-" + suffix
	args := append([]string{"run", "-d", "--name", natsName, "--network", network, "-v", "edgesync-test-data-" + suffix + ":/data",
		"-v", filepath.Join(confDir, "nats-server.conf") + ":/etc/nats/nats-server.conf:ro"}, env...)
	out, err := docker(append(args, natsImage)...)
	require.NoError(t, err, out)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := docker("logs", natsName)
			t.Logf("nats-server's log:\n%s", logs)
		}
		_, _ = docker("rm", "-f", natsName)
		_, _ = docker("volume", "rm", "-f", "edgesync-test-data-"+suffix)
	})

	role := func(extra []string, cmd ...string) (string, error) {
		a := append([]string{"run", "--rm", "--network", network, "-e", "EDGESYNC_NATS_URL=nats://" + natsName + ":4222",
			"-e", "EDGESYNC_NATS_USER=admin", "-e", "EDGESYNC_NATS_PASSWORD=" + admin}, extra...)
		return docker(append(append(a, edgesyncImage), cmd...)...)
	}
	require.Eventually(t, func() bool {
		out, err = role(nil, "streams", "init")
		return err == nil
	}, 60*time.Second, time.Second, "streams init in its own container: %s", out)
	out, err = role(nil, "streams", "status")
	require.NoError(t, err, out)
	for _, s := range []string{"EDGE", "PARTNER", "DLQ"} {
		assert.Contains(t, out, s)
	}
	out, err = role([]string{"-e", "EDGESYNC_NATS_PASSWORD=wrong"}, "streams", "status")
	require.Error(t, err, "a wrong password is refused")
	assert.Contains(t, out, "Authorization Violation")
	assert.NotContains(t, out, "wrong", "the password is not in the error")

	pageName := "status-" + suffix
	out, err = docker(append(append([]string{"run", "-d", "--name", pageName, "--network", network, "-p", "127.0.0.1::8080",
		"-e", "EDGESYNC_NATS_URL=nats://" + natsName + ":4222", "-e", "EDGESYNC_NATS_USER=admin", "-e", "EDGESYNC_NATS_PASSWORD=" + admin},
		edgesyncImage), "status", "--addr", ":8080")...)
	require.NoError(t, err, out)
	t.Cleanup(func() { _, _ = docker("rm", "-f", pageName) })
	port, err := docker("port", pageName, "8080/tcp")
	require.NoError(t, err, port)
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://%s/status.json", strings.Split(port, "\n")[0]))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 200*time.Millisecond, "the status page in its container")
	assert.Contains(t, body, `"consumers"`)
	assert.NotContains(t, body, `"unread"`, "it reads the whole pipeline across the network")
}

// deploy/compose.yaml is a valid Compose file that names only the images
// `go tool task images` builds, and refuses to start without the NATS
// passwords it needs.
func TestComposeFile(t *testing.T) {
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("*** SKIPPED: docker-compose is not installed: deploy/compose.yaml is not checked")
	}
	check := func(env ...string) (string, error) {
		cmd := exec.Command(compose, "-f", "../../deploy/compose.yaml", "--profile", "podium", "--profile", "clientbook", "config")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := check("EDGESYNC_NATS_ADMIN_PASSWORD=a", "EDGESYNC_NATS_CAPTURE_PASSWORD=b", "EDGESYNC_NATS_WRITER_PASSWORD=c")
	require.NoError(t, err, out)
	for _, line := range strings.Split(out, "\n") {
		if img, ok := strings.CutPrefix(strings.TrimSpace(line), "image: "); ok {
			assert.Contains(t, []string{"edgesync:local", "edgesync-nats:local"}, img, "nothing is pulled from a registry")
		}
	}
	for _, role := range []string{"capture", "connector-podium", "connector-clientbook", "webhooks-podium", "webhooks-clientbook", "writer"} {
		assert.Contains(t, out, role+":", "a container for %s", role)
	}
	_, err = check()
	assert.Error(t, err, "the NATS passwords are required")
}

// The compose demo as an operator runs it: every role in its own container
// against the simulator and the emulators (each a container too), first on
// one NATS server. Adding the cluster env to the running demo is refused
// (nats-guard: a cluster member would delete one server's state), and the
// documented move (stop, back up, a fresh volume, three servers, restore,
// start) carries every stream, bucket and consumer position over. One of
// the three servers is then stopped and stays down; once the live changes
// stop, the partners must hold exactly what Edge holds, record by record,
// with no dead letter, nothing gone back, and the status page must say
// every consumer is in sync. The operator's commands run in the tools
// container.
func TestComposeDemoMovesToAClusterAndLosesNothing(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("*** SKIPPED: docker-compose is not installed: the compose demo and cluster profiles are not tested")
	}
	if testing.Short() {
		t.Skip("builds the images and runs a dozen containers; skipped with -short")
	}
	suffix := randomSuffix()
	edgesyncImage, natsImage := buildImages(t, suffix)
	project := "edgesync-test-" + suffix
	statusPort := natstest.FreePort(t)
	images := fmt.Sprintf("EDGESYNC_IMAGE=%s\nEDGESYNC_NATS_IMAGE=%s\nEDGESYNC_STATUS_PORT=%d\nEDGESYNC_PODIUM_WEBHOOK_PORT=%d\nEDGESYNC_CLIENTBOOK_WEBHOOK_PORT=%d\n",
		edgesyncImage, natsImage, statusPort, natstest.FreePort(t), natstest.FreePort(t))
	// Compose takes one env file: the demo's, and the demo's with the
	// cluster's, concatenated as the README says.
	envFile := func(name string, files ...string) string {
		var env bytes.Buffer
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			env.Write(b)
			env.WriteString("\n")
		}
		env.WriteString(images)
		path := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(path, env.Bytes(), 0o600))
		return path
	}
	single := envFile("demo.env", "../../deploy/demo.env")
	cluster := envFile("cluster-demo.env", "../../deploy/demo.env", "../../deploy/cluster.env")
	dc := func(env string, extraEnv []string, args ...string) (string, error) {
		profiles := []string{"--profile", "demo"}
		if env == cluster {
			profiles = append(profiles, "--profile", "cluster")
		}
		cmd := exec.Command(compose, append(append([]string{"-p", project, "-f", "../../deploy/compose.yaml", "--env-file", env}, profiles...), args...)...)
		cmd.Env = append(os.Environ(), extraEnv...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := dc(cluster, nil, "logs", "--no-color", "--tail", "30")
			t.Logf("containers' logs:\n%s", logs)
		}
		out, err := dc(cluster, nil, "down", "-v", "--remove-orphans", "-t", "5")
		if err != nil {
			t.Logf("compose down: %v: %s", err, out)
		}
		_, _ = docker("volume", "rm", project+"_edgesync-backup")
	})
	live := []string{"EDGESYNC_SIM_EVERY=100ms", "EDGESYNC_SIM_APP_EVERY=1s"}
	page := fmt.Sprintf("http://127.0.0.1:%d", statusPort)
	var snap statusJSON
	flowing := func(what string) {
		t.Helper()
		require.Eventually(t, func() bool {
			snap, err = readStatus(page)
			return err == nil && len(snap.Consumers) >= 3 && len(snap.Checkpoints) > 0
		}, 3*time.Minute, time.Second, "%s: the status page shows the connectors, the writer and capture's checkpoints: %v %+v", what, err, snap)
	}

	// On one server, with Edge and both partners' users making changes.
	out, err := dc(single, live, "up", "-d")
	require.NoError(t, err, out)
	flowing("one server")
	time.Sleep(5 * time.Second)

	// Adding the cluster env to the running demo is refused before NATS
	// restarts on the volume: the single server's state is untouched.
	out, err = dc(cluster, live, "up", "-d")
	require.Error(t, err, "the switch is refused: %s", out)
	guard, _ := dc(cluster, nil, "logs", "--no-color", "nats-guard")
	assert.Contains(t, guard, "would delete it as orphans", "nats-guard says why")
	assert.Contains(t, guard, "edgesync streams backup", "and how to move the state")

	// The move, as README "Moving to a cluster" has it.
	out, err = dc(cluster, nil, "stop", "-t", "5")
	require.NoError(t, err, out)
	out, err = dc(single, nil, "up", "-d", "--no-deps", "nats")
	require.NoError(t, err, out)
	out, err = dc(single, nil, "run", "--rm", "tools", "streams", "backup", "--dir", "/data/backup")
	require.NoError(t, err, out)
	t.Logf("backup: %s", out)
	assert.Contains(t, out, "backed up 7 streams and buckets")
	out, err = dc(cluster, nil, "down")
	require.NoError(t, err, out)
	_, err = docker("volume", "rm", project+"_nats-data")
	require.NoError(t, err)
	out, err = dc(cluster, nil, "up", "-d", "nats", "nats-2", "nats-3")
	require.NoError(t, err, out)
	out, err = dc(cluster, nil, "run", "--rm", "tools", "streams", "restore", "--dir", "/data/backup", "--replicas", "3", "--wait", "1m")
	require.NoError(t, err, out)
	t.Logf("restore: %s", out)
	out, err = dc(cluster, live, "up", "-d")
	require.NoError(t, err, out)
	flowing("the cluster")
	status, err := dc(cluster, nil, "run", "--rm", "tools", "streams", "status")
	require.NoError(t, err, status)
	assert.Regexp(t, `EDGE\s+\d+\s+\d+\s+\d+\s+\d+\.\.\d+\s+3`, status, "EDGE has three replicas")

	// Mid-run, with Edge and both partners' users still making changes.
	time.Sleep(5 * time.Second)
	out, err = dc(cluster, nil, "stop", "-t", "0", "nats-2")
	require.NoError(t, err, out)
	t.Log("nats-2 stopped; it stays down")
	time.Sleep(10 * time.Second)

	// The live changes stop: the simulators start again on their volumes
	// without them.
	out, err = dc(cluster, []string{"EDGESYNC_SIM_EVERY=0", "EDGESYNC_SIM_APP_EVERY=0"}, "up", "-d", "--no-deps", "sim-edge", "sim-podium", "sim-clientbook")
	require.NoError(t, err, out)

	network := project + "_default"
	check, err := docker("run", "--rm", "--network", network, edgesyncImage, "sim", "check", "--edge", "http://sim-edge:7070",
		"--podium", "http://sim-podium:7080", "--clientbook", "http://sim-clientbook:7090", "--wait", "4m")
	t.Logf("sim check: %s", check)
	if err != nil {
		resp, herr := http.Get(page + "/status.json")
		if herr == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("status.json: %s", b)
		}
	}
	require.NoError(t, err, "the partners hold what Edge holds, after the move and with one NATS server of three down")
	assert.Contains(t, check, "0 lost, 0 duplicated, 0 unmatched")

	// The check above reads customers; the sales, items and texts behind them
	// drain at the connectors' pace, on a machine that also runs the other
	// packages' tests: seen at 3,500 events a minute after it.
	require.Eventually(t, func() bool {
		snap, err = readStatus(page)
		if err != nil || len(snap.Unread) > 0 {
			return false
		}
		for _, c := range snap.Consumers {
			if c.Backlog > 0 {
				return false
			}
		}
		return true
	}, 5*time.Minute, time.Second, "every consumer in sync on the status page: %v %+v", err, snap)
	assert.Empty(t, snap.DeadLetters, "no dead letter")
	for _, p := range snap.Verdict.Problems {
		assert.NotContains(t, p, "went back", "no stream went back under a consumer")
	}
	resp, err := http.Get(page + "/")
	require.NoError(t, err)
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range snap.Consumers {
		assert.Contains(t, string(html), c.Name)
	}
	assert.Equal(t, len(snap.Consumers), strings.Count(string(html), ">in sync<"), "the page says in sync for every consumer")
}

type statusJSON struct {
	Verdict struct {
		Level    string   `json:"level"`
		Problems []string `json:"problems"`
	} `json:"verdict"`
	Consumers []struct {
		Name    string `json:"name"`
		Backlog uint64 `json:"backlog"`
	} `json:"consumers"`
	DeadLetters []json.RawMessage `json:"deadLetters"`
	Checkpoints []json.RawMessage `json:"checkpoints"`
	Unread      []string          `json:"unread"`
}

func readStatus(base string) (statusJSON, error) {
	var s statusJSON
	resp, err := http.Get(base + "/status.json")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("status page: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}
