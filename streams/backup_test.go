package streams_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// A backup of a single server restored into a three-server cluster holds
// everything: the streams' messages at their sequences, the consumers at
// their positions (a connector goes on where it was, nothing delivered
// twice, nothing skipped), the buckets' keys, all with three replicas. A
// restore never goes over a stream the cluster already holds.
func TestABackupMovesTheStateToACluster(t *testing.T) {
	ctx := context.Background()
	one := natstest.Start(t)
	_, err := streams.NewPublisher(one.JS, 10).Publish(ctx, testMsgs(20, 0))
	require.NoError(t, err)
	var handled []string
	stop := startConsumer(one.JS, streams.ConsumerConfig{Durable: "podium", Stream: streams.StreamEdge, Filters: []string{"edge.>"}},
		func(_ context.Context, msg jetstream.Msg) error { handled = append(handled, msg.Subject()); return nil })
	waitDrained(t, one.JS, "podium")
	stop()
	links, err := one.JS.KeyValue(ctx, streams.BucketLinks)
	require.NoError(t, err)
	require.NoError(t, streams.NewLinks(links, "podium").Put(ctx, "customer", "001-000001", "contact-1"))
	_, err = streams.NewPublisher(one.JS, 10).Publish(ctx, testMsgs(5, 20)) // after the connector stopped
	require.NoError(t, err)

	dir := t.TempDir()
	backed, err := streams.Backup(ctx, one.NC, dir)
	require.NoError(t, err)
	names := map[string]streams.BackedUp{}
	for _, b := range backed {
		names[b.Stream] = b
	}
	assert.EqualValues(t, 25, names[streams.StreamEdge].Messages)
	assert.Equal(t, 1, names[streams.StreamEdge].Consumers)
	assert.Contains(t, names, "KV_"+streams.BucketLinks)

	cluster := natstest.StartCluster(t, 3)
	nc, err := nats.Connect(cluster.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	restored, err := streams.Restore(ctx, nc, dir, 3)
	require.NoError(t, err)
	assert.Len(t, restored, len(backed))

	edge, err := js.Stream(ctx, streams.StreamEdge)
	require.NoError(t, err)
	info := edge.CachedInfo()
	assert.Equal(t, 3, info.Config.Replicas)
	assert.EqualValues(t, 25, info.State.LastSeq, "the sequences carried over")
	links, err = js.KeyValue(ctx, streams.BucketLinks)
	require.NoError(t, err)
	id, err := streams.NewLinks(links, "podium").PartnerID(ctx, "customer", "001-000001")
	require.NoError(t, err)
	assert.Equal(t, "contact-1", id)

	// The connector goes on where it was: the five that came after it
	// stopped, and nothing before them again.
	handled = nil
	stop = startConsumer(js, streams.ConsumerConfig{Durable: "podium", Stream: streams.StreamEdge, Filters: []string{"edge.>"}},
		func(_ context.Context, msg jetstream.Msg) error { handled = append(handled, msg.Subject()); return nil })
	defer stop()
	require.Eventually(t, func() bool {
		n, err := streams.Pending(ctx, js, streams.StreamEdge, "podium")
		return err == nil && n == 0
	}, 20*time.Second, 50*time.Millisecond)
	stop()
	assert.Equal(t, []string{"edge.customer.001.000020", "edge.customer.001.000021", "edge.customer.001.000022",
		"edge.customer.001.000023", "edge.customer.001.000024"}, handled)

	_, err = streams.Restore(ctx, nc, dir, 3)
	assert.ErrorContains(t, err, "the server already holds EDGE: a restore goes into a NATS without edgesync's streams, never over them")
}

// A NATS volume holding one server's state refuses to become a cluster
// member's (nats-server would delete the state as orphans), and a cluster
// member's refuses to become a lone server's; a fresh volume takes either.
func TestCheckStoreRefusesASwitchThatLosesTheState(t *testing.T) {
	one := natstest.Start(t)
	cluster := natstest.StartCluster(t, 3)
	member := cluster.Servers[0].JetStreamConfig().StoreDir
	single := one.Dir
	tests := []struct {
		name      string
		dir       string
		clustered bool
		want      string
	}{
		{"a fresh volume as a member", t.TempDir(), true, ""},
		{"a fresh volume alone", t.TempDir(), false, ""},
		{"one server's state alone", single, false, ""},
		{"one server's state as a member", single, true, "would delete it as orphans"},
		{"a member's state as a member", filepath.Dir(member), true, ""},
		{"a member's state alone", filepath.Dir(member), false, "serve none of the replicated streams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := streams.CheckStore(tt.dir, tt.clustered)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.want)
			assert.ErrorContains(t, err, "edgesync streams backup")
		})
	}
}
