package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

const gatewaySecret = "whsec-gateway-test"

// postSigned posts a Podium delivery signed now and returns the status.
func postSigned(t *testing.T, addr string, body []byte) int {
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(gatewaySecret))
	mac.Write([]byte(ts + "." + string(body)))
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/podium", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("podium-timestamp", ts)
	req.Header.Set("podium-signature", hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func contactUpdated(uid, event string) []byte {
	return fmt.Appendf(nil, `{"data":{"after":{"uid":%q,"name":"Ada"}},"metadata":{"event_type":"contact.updated","event_uid":%q}}`, uid, event)
}

// A gateway with a spool serves from its first second, though NATS is
// down when it starts: the delivery is spooled and answered, and handed
// on once NATS is there.
func TestTheGatewaySpoolsFromItsFirstSecond(t *testing.T) {
	bin := buildBinary(t)
	natsPort, addr := natstest.FreePort(t), fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	startGateway(t, bin, addr, "--spool", filepath.Join(t.TempDir(), "spool"), "--nats-url", fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	require.Equal(t, http.StatusOK, postSigned(t, addr, contactUpdated("c-1", "evt-1")), "answered from the spool while NATS is down")

	srv, err := broker.StartEmbedded(broker.EmbeddedConfig{Dir: t.TempDir(), Port: natsPort})
	require.NoError(t, err)
	defer srv.Shutdown()
	nc, err := srv.Connect("test")
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, streams.Provision(context.Background(), js, streams.DefaultConfig()))
	require.Eventually(t, func() bool {
		s, err := js.Stream(context.Background(), streams.StreamPartner)
		return err == nil && s.CachedInfo().State.Msgs == 1
	}, 20*time.Second, 100*time.Millisecond, "the spooled delivery reaches the PARTNER stream")
}

// A role whose NATS connection the server closes for good (here a server
// whose max_control_line is shorter than a delivery's subject) exits 1,
// naming the reason, instead of running on a dead connection and
// answering every later delivery with an error.
func TestARoleExitsWhenItsConnectionIsClosedForGood(t *testing.T) {
	bin := buildBinary(t)
	url := natstest.StartProcessConf(t, func(port int, storeDir string) string {
		return fmt.Sprintf("listen: 127.0.0.1:%d\nmax_control_line: 200\njetstream { store_dir: %q }\n", port, storeDir)
	}, nil)
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, streams.Provision(context.Background(), js, streams.DefaultConfig()))

	addr := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	out, exited := startGateway(t, bin, addr, "--nats-url", url)

	postSigned(t, addr, contactUpdated(strings.Repeat("u", 200), "evt-1"))
	select {
	case err := <-exited:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, out.String())
		assert.Equal(t, 1, ee.ExitCode())
		assert.Contains(t, out.String(), "nats connection closed for good")
	case <-time.After(20 * time.Second):
		t.Fatalf("the role runs on a closed connection:\n%s", out.String())
	}
}

// startGateway runs the webhook gateway on addr with args and returns its
// log and the end of its process, once its /healthz answers.
func startGateway(t *testing.T, bin, addr string, args ...string) (*syncbuf.Buffer, <-chan error) {
	cmd := exec.Command(bin, append([]string{"webhooks", "--addr", addr, "--podium-webhook-secret", gatewaySecret}, args...)...)
	out := &syncbuf.Buffer{}
	cmd.Stderr = out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { code, _ := get(t, "http://"+addr+"/healthz"); return code == http.StatusNoContent },
		10*time.Second, 50*time.Millisecond, out.String())
	return out, exited
}
