package natstest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// Cluster is three (or n) in-process nats-servers clustered with JetStream,
// for fault tests: streams provisioned with 3 replicas survive one server.
type Cluster struct {
	Servers []*server.Server
	URLs    []string
}

// StartCluster starts n clustered servers, each with its own store, and
// waits until JetStream has a meta leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return startCluster(t, n, nil)
}

// StartHub starts a chain's hub: n clustered servers with the JetStream
// domain "hub", each taking store leaf nodes on a port of its own. It
// returns the cluster and the leaf node URLs. The servers do not advertise
// each other's leaf ports to the stores (a deployment lists all three in
// the store's configuration instead), so a test that cuts a store's link
// cuts it for good.
func StartHub(t testing.TB, n int) (*Cluster, []string) {
	t.Helper()
	var leafURLs []string
	c := startCluster(t, n, func(_ int, o *server.Options) {
		o.JetStreamDomain = "hub"
		o.LeafNode = server.LeafNodeOpts{Host: "127.0.0.1", Port: FreePort(t), NoAdvertise: true}
		leafURLs = append(leafURLs, fmt.Sprintf("nats-leaf://127.0.0.1:%d", o.LeafNode.Port))
	})
	return c, leafURLs
}

func startCluster(t testing.TB, n int, modify func(i int, o *server.Options)) *Cluster {
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = FreePort(t)
	}
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       FreePort(t),
			JetStream:  true,
			StoreDir:   filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1)),
			SyncAlways: true,
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "edgesync-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		if n == 1 { // a hub of one server is not a cluster
			opts.Cluster, opts.Routes = server.ClusterOpts{}, nil
		}
		if modify != nil {
			modify(i, opts)
		}
		s, err := server.NewServer(opts)
		require.NoError(t, err)
		s.Start()
		require.True(t, s.ReadyForConnections(10*time.Second))
		c.Servers = append(c.Servers, s)
		c.URLs = append(c.URLs, s.ClientURL())
	}
	t.Cleanup(func() {
		for _, s := range c.Servers {
			s.Shutdown()
		}
	})
	require.Eventually(t, func() bool {
		nc, err := nats.Connect(c.URL())
		if err != nil {
			return false
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return false
		}
		_, err = js.AccountInfo(context.Background())
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "JetStream cluster has no meta leader")
	return c
}

// URL lists every server, so a client fails over when one stops.
func (c *Cluster) URL() string { return strings.Join(c.URLs, ",") }
