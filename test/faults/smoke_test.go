package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/test/fleet"
)

func TestFleetSyncs(t *testing.T) {
	f := fleet.Start(t, fleet.Options{CustomersPerStore: 100})
	ctx := context.Background()
	chk, took := f.WaitCaughtUp(ctx, 2*time.Minute)
	t.Logf("initial: %s in %s", chk, took)
	require.NoError(t, f.Changes(ctx, 200, 20, 20))
	chk, took = f.WaitCaughtUp(ctx, 2*time.Minute)
	t.Logf("after changes: %s in %s", chk, took)
}
