package demo_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/test/browser"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// The status page against the demo's pipeline, as a browser shows it: each
// connector and the writer with their state, the capture checkpoints, and a
// dead letter the test provoked with the command that redrives it.
func TestStatusPageInABrowser(t *testing.T) {
	browser.Require(t)
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
	cfg.Log = slog.New(slog.NewTextHandler(&out, nil))
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
	seen := assert.Eventually(t, func() bool {
		text = browser.Text(t, url)
		return strings.Contains(text, "edgesync dlq replay --consumer podium") && strings.Contains(text, "edgesync dlq replay --consumer clientbook") &&
			regexp.MustCompile(`podium EDGE live in sync 0`).MatchString(text) &&
			regexp.MustCompile(`clientbook EDGE live in sync 0`).MatchString(text) &&
			// The demo's partner-side edits keep coming: the writer is
			// caught up between them, not at every read.
			regexp.MustCompile(`edge-writer PARTNER live in sync 0`).MatchString(text)
	}, 90*time.Second, time.Second, "the page never showed both connectors and the writer in sync with the dead letter")
	t.Log(text)
	if !seen {
		t.Log(out.String())
		t.FailNow()
	}
	assert.Contains(t, text, "edgesync status")
	assert.Contains(t, text, "edgesync dlq replay --consumer clientbook")
	assert.Regexp(t, `podium decode envelope[^|]*? 1 `, text, "the reason, once")
	assert.Regexp(t, `/ 6000 `, text, "Podium's calls against its limit")
	for _, e := range []string{"customer", "sale", "wishlist", "note"} {
		assert.Regexp(t, `demo `+e+` \d+ 0 `, text, "capture's checkpoint of %s", e)
	}
	assert.NotContains(t, text, "Could not read")
	assert.Contains(t, text, "FLOWING, with something to look at", "the dead letters are something to look at, not a stop")
	assert.Contains(t, text, "2 dead letter(s)")
	assert.Regexp(t, `\d+ of \d+ customers in Podium`, text)
	assert.Regexp(t, `\d+ of \d+ customers in Clientbook`, text)
	assert.Contains(t, text, "demo running", "capture reports")
	assert.Regexp(t, `podium up \S+`, text, "the gateway reports")
	if path := os.Getenv("EDGESYNC_STATUS_SCREENSHOT"); path != "" {
		browser.Screenshot(t, url, path, "1400,900")
	}
}
