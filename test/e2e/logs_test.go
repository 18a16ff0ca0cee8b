package e2e

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/logctx"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// The log at 2 a.m.: a partner call's retry names the customer it was
// for (its Edge key and subject), the partner's recovery is said once, a
// sale waiting for its customer's first upload is no warning, and
// contact upserts and review invitations are not INFO lines.
func TestTheLogNamesTheCustomerAndSaysWhenThePartnerRecovers(t *testing.T) {
	var out syncbuf.Buffer
	r := newPodiumRig(t, func(s *rigSetup) {
		*s.log = slog.New(logctx.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})))
	})
	r.emu.SetFaults(emulator.Faults{Burst500: 2})
	var key string
	r.edge("", func(tx *edgesim.Tx) error {
		key = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		return nil
	})
	r.settle()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "partner answers again") }, 10*time.Second, 20*time.Millisecond, out.String())
	logged := out.String()
	subject := "edge.customer.001." + key[4:]
	assert.Regexp(t, `level=WARN msg="partner call failed; retrying" .*subject=`+regexp.QuoteMeta(subject)+` edge_key=`+key, logged,
		"the retry names the customer")
	assert.Regexp(t, `level=INFO msg="partner answers again" .*partner=podium failed_for=`, logged)
	assert.NotContains(t, logged, "level=WARN msg=\"waits", "an ordering wait is no warning")
	assert.NotContains(t, logged, "msg=\"podium contact created\"", "an upsert is not an INFO line")
}
