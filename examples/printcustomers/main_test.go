package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// Adding a connector needs no change to capture: subscribing is enough.
func TestPrintsEveryCustomer(t *testing.T) {
	srv := natstest.Start(t)
	db := edgesim.New()
	for _, name := range []string{"Ada", "Grace", "Edsger"} {
		_, err := db.Update("", func(tx *edgesim.Tx) error {
			_, err := tx.NewCustomer("001", schemas.Customer{FirstName: name, LastName: "Test"})
			return err
		})
		require.NoError(t, err)
	}
	c, err := capture.New(context.Background(), db, srv.JS, capture.Config{Site: "ex"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, c.Cycle(context.Background()))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncbuf.Buffer
	done := make(chan error)
	go func() { done <- run(ctx, srv.URL(), "example", &out) }()
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") == 3 }, 5*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, out.String(), "001-000002 v2 Grace Test")
}
