package demo_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
)

func testConfig(dir string, out *bytes.Buffer) demo.Config {
	cfg := demo.DefaultConfig()
	cfg.Dir = dir
	cfg.Duration = 3 * time.Second
	cfg.ChurnEvery = 20 * time.Millisecond
	cfg.PollInterval = 100 * time.Millisecond
	cfg.StatusEvery = time.Second
	cfg.Spec = edgesim.Spec{Seed: 1, Stores: 2, CustomersPerStore: 100, SalesPerCustomer: 1, ItemsPerStore: 20, SyncDisabledEvery: 10}
	cfg.Out = out
	return cfg
}

// The acceptance of the foundation issue: every customer set to synchronize,
// including those created while the demo runs, is a Podium contact at the
// end; a restart on the same data publishes no duplicate and resumes from
// the checkpoint.
func TestDemoSyncsCustomersAndResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	cfg := testConfig(dir, &out)
	reg := prometheus.NewRegistry()
	cfg.Metrics = reg
	first, err := demo.Run(context.Background(), cfg)
	require.NoError(t, err)
	t.Log(out.String())
	assert.True(t, first.Generated)
	assert.Positive(t, first.Changes)
	assert.Greater(t, first.SyncedCustomers, 180, "customers created during the run count too")
	assert.Equal(t, first.SyncedCustomers, first.PodiumContacts)
	assert.True(t, first.InSync())
	assert.Zero(t, first.DeadLetters)
	assert.Positive(t, first.PodiumEdits, "the simulated Podium user made changes")
	assert.Positive(t, first.WrittenToEdge, "and they reached Edge")
	assert.Contains(t, out.String(), "RESULT: in sync")
	n, err := testutil.GatherAndCount(reg, "edgesync_capture_events_total")
	require.NoError(t, err)
	assert.Equal(t, len(schemas.Entities), n, "a counter per entity")
	done, err := testutil.GatherAndCount(reg, "edgesync_consumer_messages_total", "edgesync_webhook_deliveries_total")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, done, 3, "the connector, the writer and the gateway report")
	latency, err := testutil.GatherAndCount(reg, "edgesync_consumer_latency_seconds", "edgesync_partner_calls_total")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, latency, 5, "each consumer's change-to-done latency, and both partners' calls by answer")

	out.Reset()
	cfg = testConfig(dir, &out)
	cfg.ChurnEvery = 0
	cfg.Duration = 500 * time.Millisecond
	second, err := demo.Run(context.Background(), cfg)
	require.NoError(t, err)
	t.Log(out.String())
	assert.False(t, second.Generated)
	assert.Zero(t, second.Snapshots, "resumed from the checkpoint")
	assert.Zero(t, second.Published[schemas.EntityCustomer])
	assert.Zero(t, second.Duplicates)
	assert.Equal(t, first.EdgeMessages, second.EdgeMessages, "no event published twice")
	assert.Equal(t, first.PodiumContacts, second.PodiumContacts)
	assert.True(t, second.InSync())
}
