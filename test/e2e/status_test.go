package e2e

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/status"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/test/browser"
)

// The status page is never green while nothing flows. Each state is
// provoked on a real pipeline and read as a browser shows it: all flowing;
// Podium answering every call 500; the webhook gateway gone; capture gone.
func TestTheStatusPageTellsWhatDoesNotFlow(t *testing.T) {
	browser.Require(t)
	r := newPodiumRig(t, func(s *rigSetup) { s.capture.ReportEvery = 200 * time.Millisecond })
	ctx := context.Background()

	v := webhooks.PodiumVerifier("status-test-secret", time.Minute)
	gw, err := webhooks.New(r.srv.JS, webhooks.Config{Podium: &v}, logger())
	require.NoError(t, err)
	gctx, stopGateway := context.WithCancel(ctx)
	gwDone := make(chan struct{})
	go func() { gw.RunReports(gctx, 200*time.Millisecond); close(gwDone) }()
	t.Cleanup(func() { stopGateway(); <-gwDone })

	reader := status.NewReader(r.srv.JS)
	wctx, stopWatching := context.WithCancel(ctx)
	t.Cleanup(stopWatching)
	go reader.Watch(wctx, 500*time.Millisecond)
	page := httptest.NewServer(status.Handler(reader, time.Second, logger()))
	t.Cleanup(page.Close)

	// Until a page shows all of want, or fail with the last one seen.
	var text string
	until := func(what string, want ...string) {
		t.Helper()
		require.Eventually(t, func() bool {
			text = browser.Text(t, page.URL)
			for _, w := range want {
				if !strings.Contains(text, w) {
					return false
				}
			}
			return true
		}, 60*time.Second, 500*time.Millisecond, "%s: the page never showed %q; last seen: %s", what, want, text)
		t.Logf("%s: %s", what, text)
	}

	r.edge("", func(tx *edgesim.Tx) error {
		newCustomer(tx, "001", "Ada", "ada@example.com", "")
		newCustomer(tx, "001", "Grace", "grace@example.com", "")
		return nil
	})
	r.settle()
	until("all flowing", "FLOWING: every part was heard from", "2 of 2 customers in Podium", "e2e running", "podium EDGE live in sync", "podium up")

	// Podium answers every call 500: failing from the first failed call,
	// not after minutes.
	r.emu.SetFaults(emulator.Faults{ErrorRate: 1})
	r.edge("", func(tx *edgesim.Tx) error { newCustomer(tx, "001", "Edith", "edith@example.com", ""); return nil })
	until("Podium failing", "NOT FLOWING", "Podium is failing since", "500", "podium EDGE live partner failing", "2 of 3 customers in Podium")
	if path := os.Getenv("EDGESYNC_STATUS_SCREENSHOT"); path != "" {
		browser.Screenshot(t, page.URL, path, "1400,1000")
	}

	// Podium back: it flows again.
	r.emu.SetFaults(emulator.Faults{})
	r.settle()
	until("Podium back", "3 of 3 customers in Podium", "podium EDGE live in sync")

	// The gateway and capture stop, as a crash stops them.
	stopGateway()
	r.stopCapture()
	until("gateway and capture gone", "NOT FLOWING",
		"the webhook gateway for podium is down", "podium DOWN",
		"capture of site e2e stopped", "e2e STOPPED",
		"podium EDGE live waiting (capture stopped)")
	assert.NotContains(t, text, "FLOWING:")
}
