package streams_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// Invariant 7 (own pushes never come back as new customers) rests on the
// Edge writer reading a link the Podium connector wrote a moment before,
// from another process, often through another server. A KV bucket's
// default read (direct get) may be answered by a follower that has not
// applied the write yet, and nats-server promises no read-after-write on
// it (nats-server issue 6557). The compose test on three servers lost a
// customer that way: the writer saw the connector's intent already
// dropped and its link not yet there, and downloaded edgesync's own push
// as a new Edge customer. The buckets read across roles are read from
// their stream's leader instead.
func TestBucketsReadAcrossRolesSeeTheLatestWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	ctx := context.Background()
	cl := natstest.StartCluster(t, 3)
	admin := connectTo(t, cl.URLs[0])
	cfg := streams.DefaultConfig()
	cfg.Replicas = 3
	require.NoError(t, streams.Provision(ctx, admin, cfg))
	require.NoError(t, streams.Provision(ctx, admin, cfg), "provisioning again, as every compose start does, keeps leader reads")
	// The control: a bucket as nats.go makes it, read by direct get.
	_, err := admin.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "control", Replicas: 3})
	require.NoError(t, err)

	// Load on the cluster, as an upload makes: followers apply later.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	for w := range 2 {
		go func() {
			js := connectTo(t, cl.URLs[w%3])
			for i := 0; loadCtx.Err() == nil; i++ {
				_, _ = js.PublishAsync(fmt.Sprintf("partner.podium.contact.%d", i), make([]byte, 2000))
			}
		}()
	}
	stale := map[string]int{}
	const rounds = 150
	for _, bucket := range []string{"control", streams.BucketLinks, streams.BucketProjection} {
		info, err := admin.Stream(ctx, "KV_"+bucket)
		require.NoError(t, err)
		leader := info.CachedInfo().Cluster.Leader
		// The writer on the leader's server, the reader on a follower's:
		// each side's requests are answered by its own server first.
		var writer, reader jetstream.KeyValue
		for i, s := range cl.Servers {
			js := connectTo(t, cl.URLs[i])
			kv, err := js.KeyValue(ctx, bucket)
			require.NoError(t, err)
			if s.Name() == leader {
				writer = kv
			} else {
				reader = kv
			}
		}
		require.NotNil(t, writer)
		for i := range rounds {
			key := fmt.Sprintf("podium.customer.k%d", i)
			_, err := writer.PutString(ctx, key, "v")
			require.NoError(t, err)
			if _, err := reader.Get(ctx, key); err != nil {
				require.ErrorIs(t, err, jetstream.ErrKeyNotFound)
				stale[bucket]++
			}
		}
	}
	t.Logf("reads that missed a write acknowledged just before, of %d: %v", rounds, stale)
	assert.Zero(t, stale[streams.BucketLinks], "the links bucket reads what the connector or the writer just wrote")
	assert.Zero(t, stale[streams.BucketProjection], "the projection bucket reads what the connector just saved")
}

func connectTo(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}
