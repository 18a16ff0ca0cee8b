package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// The store role as an installer runs it: the hub provisioned with
// `streams init --store 001`, then `edgesync store` at the store against
// its Edge (here the simulator): the store's customers reach the hub's
// EDGE stream through the leaf node.
func TestStoreRole(t *testing.T) {
	bin := buildBinary(t)
	hub, leafURLs := natstest.StartHub(t, 1)
	_, stderr, code := run(bin, []string{"EDGESYNC_NATS_URL=" + hub.URL()}, "streams", "init", "--store", "001")
	require.Zero(t, code, stderr)

	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, edgesim.Spec{Seed: 1, Stores: 1, CustomersPerStore: 25}))
	sim := httptest.NewServer(edgesim.NewServer(db, slog.New(slog.DiscardHandler)).Handler())
	defer sim.Close()

	cmd := exec.Command(bin, "store", "--store", "001", "--dir", t.TempDir(), "--hub-url", leafURLs[0], "--edge-simulator", sim.URL, "--poll", "50ms",
		"--podium-store", "loc-1=001")
	var logs syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	nc, err := nats.Connect(hub.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := js.Stream(context.Background(), streams.StreamEdge)
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background(), jetstream.WithSubjectFilter("edge.customer.001.>"))
		return err == nil && len(info.State.Subjects) == 25
	}, 2*time.Minute, 100*time.Millisecond, "the store's 25 customers at the hub:\n%s", logs.String())
	assert.Contains(t, logs.String(), "link to the hub up")

	// A contact made in Podium at the store's location reaches the
	// store's Edge through the store's writer.
	pe := schemas.PartnerEnvelope{ID: "podium:ev-1", Type: "contact.created", Source: "test", Time: time.Now(), Partner: "podium",
		Entity: "contact", PartnerID: "c-1", Data: json.RawMessage(`{"after":{"uid":"c-1","name":"Walk In","emails":["walk.in@example.com"],"locations":[{"uid":"loc-1"}]}}`)}
	m, err := pe.Msg()
	require.NoError(t, err)
	_, err = js.PublishMsg(context.Background(), m)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		key, err := db.CustomerByEmail(context.Background(), "walk.in@example.com")
		return err == nil && key != ""
	}, time.Minute, 100*time.Millisecond, "the Podium contact in the store's Edge:\n%s", logs.String())
	assert.False(t, strings.Contains(logs.String(), "level=ERROR"), logs.String())
}
