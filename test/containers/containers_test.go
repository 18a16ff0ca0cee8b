// Package containers tests edgesync's images in a Docker engine: built from
// nothing pulled, each role in its own container, talking across a network.
// Without an engine the tests skip, and say so.
package containers

import (
	"crypto/rand"
	"encoding/hex"
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
