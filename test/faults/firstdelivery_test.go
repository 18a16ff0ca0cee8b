package faults

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/test/fleet"
)

// firstDeliveryKills is how many times each connector is killed or stopped
// during its first delivery.
const firstDeliveryKills = 5

// Connectors started once the whole chain is in the EDGE stream begin with
// a first delivery of the newest message of every aggregate, as a
// connector added to a running store does, in their bulk lanes (one per
// store) while the changes Edge keeps making go in their live lane, and
// are killed with SIGKILL or stopped during it again and again, in either
// lane. nats-server
// drops an entry of that delivery when the pull it was for is gone
// (streams/firstdelivery.go); nothing may be lost: every customer in both
// partners and every sale a Clientbook purchase with its total, checked
// against the simulator's own records.
func TestConnectorsKilledDuringTheirFirstDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	connectors := []string{fleet.ConnectorPodium, fleet.ConnectorClientbok}
	f := fleet.Start(t, fleet.Options{CustomersPerStore: 400, Seed: seed, NoPersist: true, Deferred: connectors})
	ctx := context.Background()
	waitCaptured(ctx, t, f)

	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
				_ = f.Changes(loadCtx, 10, 0, 0) // a failure is retried on the next tick
			}
		}
	}()
	for i := range firstDeliveryKills {
		for _, c := range connectors {
			require.NoError(t, f.Proc(c).Start())
		}
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		for _, c := range connectors {
			// Killed, or stopped as for an upgrade: a stopped one drains
			// its pull, and the server meets the pull gone either way.
			if i%2 == 0 {
				f.Proc(c).Kill()
			} else {
				f.Proc(c).Stop()
			}
		}
	}
	for _, c := range connectors {
		require.NoError(t, f.Proc(c).Start())
	}
	time.Sleep(time.Second)
	stopLoad()
	<-loadDone
	chk, took := f.WaitCaughtUp(ctx, catchUp)
	t.Logf("caught up %s after the last start: %s", took.Round(100*time.Millisecond), chk)
	assert.True(t, chk.InSync(), "seed %d", seed)
	for _, c := range connectors {
		remade := strings.Count(f.Proc(c).Logs(), "creating it afresh")
		t.Logf("%s: its consumer made afresh %d times in %d starts", c, remade, firstDeliveryKills+1)
		assert.Positive(t, remade, "%s was killed during its first delivery", c)
		assert.Contains(t, f.Proc(c).Logs(), "bulk lane started", "%s read its first delivery in bulk lanes", c)
	}
	assert.Zero(t, f.DeadLetters(ctx))
}

// waitCaptured waits until capture has published every change the
// simulator holds.
func waitCaptured(ctx context.Context, t *testing.T, f *fleet.Fleet) {
	require.Eventually(t, func() bool {
		cur, err := f.Edge.CurrentVersion(ctx)
		if err != nil {
			return false
		}
		seen := 0
		for _, cp := range f.Status(ctx).Checkpoints {
			if cp.Site != "fleet" {
				continue
			}
			if cp.Version < cur {
				return false
			}
			seen++
		}
		return seen > 0
	}, 2*time.Minute, 200*time.Millisecond, "capture publishes the whole chain")
}
