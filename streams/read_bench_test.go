package streams_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/test/natstest"
)

// BenchmarkBucketRead prices invariant 7's read from the leader against
// a bucket's default direct get, on one server, with four readers (the
// Clientbook connector's workers):
//
//	go test -run '^$' -bench BenchmarkBucketRead ./streams
func BenchmarkBucketRead(b *testing.B) {
	ctx := context.Background()
	srv := natstest.Start(b)
	const keys = 1000
	for _, tt := range []struct {
		name   string
		direct bool
	}{{"direct get", true}, {"from the leader", false}} {
		kv, err := srv.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fmt.Sprintf("read-%t", tt.direct)})
		require.NoError(b, err)
		if !tt.direct {
			s, err := srv.JS.Stream(ctx, "KV_read-false")
			require.NoError(b, err)
			cfg := s.CachedInfo().Config
			cfg.AllowDirect = false
			_, err = srv.JS.UpdateStream(ctx, cfg)
			require.NoError(b, err)
			kv, err = srv.JS.KeyValue(ctx, "read-false") // opened again: nats.go picks the read when it opens a bucket
			require.NoError(b, err)
		}
		for i := range keys {
			_, err := kv.Put(ctx, fmt.Sprintf("k%d", i), []byte(`{"version":1,"hash":"abcdef0123456789"}`))
			require.NoError(b, err)
		}
		b.Run(tt.name, func(b *testing.B) {
			b.SetParallelism(2) // 4 readers on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := kv.Get(ctx, fmt.Sprintf("k%d", i%keys)); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}
