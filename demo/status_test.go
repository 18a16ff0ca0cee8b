package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/demo"
	"github.com/edgesync/edgesync/test/edgesim"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// chromiumText loads url in headless Chromium (Debian's chromium package)
// and returns the text of the page it rendered.
func chromiumText(t *testing.T, url string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(), "--dump-dom", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())
	text := regexp.MustCompile(`(?s)<style>.*?</style>|<[^>]*>`).ReplaceAllString(string(dom), " ")
	return strings.Join(strings.Fields(text), " ")
}

// The status page against the demo's pipeline, as a browser shows it: each
// connector and the writer with their state, the capture checkpoints, and a
// dead letter the test provoked with the command that redrives it.
func TestStatusPageInABrowser(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("*** SKIPPED: headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it when it can)")
	}
	var out syncbuf.Buffer
	cfg := demo.DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.ChurnEvery = 200 * time.Millisecond
	cfg.PollInterval = 100 * time.Millisecond
	cfg.StatusEvery = 0
	cfg.Spec = edgesim.Spec{Seed: 3, Stores: 1, CustomersPerStore: 30, SalesPerCustomer: 1}
	cfg.NATSPort = natstest.FreePort(t)
	cfg.StatusAddr = fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	cfg.Out = &out
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := demo.Run(ctx, cfg); done <- err }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	url := "http://" + cfg.StatusAddr + "/"
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "status page at "+url) }, 30*time.Second, 50*time.Millisecond)

	// A message no connector can read: both dead-letter it, with the reason.
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", cfg.NATSPort))
	require.NoError(t, err)
	defer nc.Close()
	bad := nats.NewMsg("edge.customer.001.999999")
	bad.Data = []byte("this is not an event")
	bad.Header.Set(nats.MsgIdHdr, "status-test-bad-event")
	_, err = nc.RequestMsg(bad, 5*time.Second)
	require.NoError(t, err)

	var text string
	require.Eventually(t, func() bool {
		text = chromiumText(t, url)
		return strings.Contains(text, "edgesync dlq replay --consumer podium") &&
			regexp.MustCompile(`podium EDGE in sync 0`).MatchString(text) &&
			regexp.MustCompile(`clientbook EDGE in sync 0`).MatchString(text) &&
			// The demo's partner-side edits keep coming: the writer is
			// caught up between them, not at every read.
			regexp.MustCompile(`edge-writer PARTNER in sync 0`).MatchString(text)
	}, 90*time.Second, time.Second, "the page never showed both connectors and the writer in sync with the dead letter; last seen: %s", text)
	t.Log(text)
	assert.Contains(t, text, "edgesync status")
	assert.Contains(t, text, "edgesync dlq replay --consumer clientbook")
	assert.Regexp(t, `podium decode envelope[^|]*? 1 `, text, "the reason, once")
	assert.Regexp(t, `/ 6000 `, text, "Podium's calls against its limit")
	for _, e := range []string{"customer", "sale", "wishlist", "note"} {
		assert.Regexp(t, `demo `+e+` \d+ 0 `, text, "capture's checkpoint of %s", e)
	}
	assert.NotContains(t, text, "Could not read")
	if path := os.Getenv("EDGESYNC_STATUS_SCREENSHOT"); path != "" {
		cmd := exec.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir="+t.TempDir(),
			"--window-size=1400,700", "--screenshot="+path, url)
		require.NoError(t, cmd.Run())
	}
}
