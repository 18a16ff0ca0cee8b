package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/test/fleet"
)

func TestFleetSyncs(t *testing.T) {
	f := fleet.Start(t, fleet.Options{CustomersPerStore: 100, Servers: 3})
	ctx := context.Background()
	chk, took := f.WaitCaughtUp(ctx, 2*time.Minute)
	t.Logf("initial: %s in %s", chk, took)
	for i := range 20 {
		require.NoError(t, f.Changes(ctx, 50, 2, 2))
		if i == 5 {
			f.NATS[1].Kill()
		}
		if i == 10 {
			f.Proc(fleet.SimPodium).Stop()
			require.NoError(t, f.Proc(fleet.SimPodium).Start())
			f.Proc(fleet.SimClientbook).Stop()
			require.NoError(t, f.Proc(fleet.SimClientbook).Start())
		}
		time.Sleep(500 * time.Millisecond)
	}
	chk, took = f.WaitCaughtUp(ctx, 2*time.Minute)
	t.Logf("after changes: %s in %s", chk, took)
}
