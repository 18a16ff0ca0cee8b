package capture_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// Invariant: no lost change, no duplicated event, on a three-server cluster
// with R3 streams when the server capture is connected to dies mid-run.
func TestClusterSurvivesLosingAServer(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster fault test")
	}
	ctx := context.Background()
	cl := natstest.StartCluster(t, 3)
	nc, err := nats.Connect(cl.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cfg := streams.DefaultConfig()
	cfg.Replicas = 3
	require.NoError(t, streams.Provision(ctx, js, cfg))

	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, edgesim.Spec{Seed: 3, Stores: 2, CustomersPerStore: 100, SalesPerCustomer: 1, ItemsPerStore: 10}))
	c, err := capture.New(ctx, db, js, capture.Config{Site: "cluster", Batch: 50}, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))

	churn := edgesim.NewChurn(db, 11)
	step := func(n int) {
		for range n {
			_, err := churn.Step()
			require.NoError(t, err)
		}
	}
	step(50)
	// Kill the server this client talks to; the cycle that follows may fail
	// while the cluster elects new leaders, and is retried like in Run.
	connected := nc.ConnectedUrl() // read once: the client fails over as soon as its server stops
	for _, s := range cl.Servers {
		if s.ClientURL() == connected {
			s.Shutdown()
		}
	}
	step(50)
	require.Eventually(t, func() bool { return c.Cycle(ctx) == nil }, 30*time.Second, 200*time.Millisecond)
	step(20)
	require.Eventually(t, func() bool { return c.Cycle(ctx) == nil }, 30*time.Second, 200*time.Millisecond)

	// Every aggregate's latest state is in the stream, each event once.
	latest := map[string]int64{}
	seen := map[string]bool{}
	s, err := js.Stream(ctx, streams.StreamEdge)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		env, err := schemas.DecodeEnvelope(m.Data)
		require.NoError(t, err)
		require.False(t, seen[env.ID], "duplicate event %s", env.ID)
		seen[env.ID] = true
		latest[m.Subject] = max(latest[m.Subject], env.Version)
	}
	for _, e := range schemas.Entities {
		err := db.Changes(ctx, e, 0, 1<<62, func(r capture.Row) error {
			subj, err := schemas.EdgeSubjectFor(e, r.Key)
			require.NoError(t, err)
			assert.Equal(t, r.Version, latest[subj.String()], "latest state of %s", subj)
			return nil
		})
		require.NoError(t, err)
	}
}
