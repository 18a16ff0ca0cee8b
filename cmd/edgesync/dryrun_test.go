package main

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
)

// An installer's first look at a store's database: `capture --dry-run`
// reads every entity through the same interface capture uses (here the
// simulator over HTTP), checks each event, and says what would not pass,
// with no NATS at all. A clean database exits 0; a 2 MB note makes it
// name the note and exit 1.
func TestCaptureDryRun(t *testing.T) {
	bin := buildBinary(t)
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, edgesim.Spec{Seed: 3, Stores: 1, CustomersPerStore: 30, SalesPerCustomer: 1, ItemsPerStore: 10}))
	sim := httptest.NewServer(edgesim.NewServer(db, slog.New(slog.DiscardHandler)).Handler())
	defer sim.Close()
	args := []string{"capture", "--dry-run", "--dry-run-rows", "20", "--edge-simulator", sim.URL, "--nats-url", "nats://127.0.0.1:1"}

	stdout, stderr, code := run(bin, nil, args...)
	require.Zero(t, code, stdout+stderr)
	assert.Contains(t, stdout, "nothing was published or written")
	assert.Contains(t, stdout, "Every event read would pass.")
	for _, e := range schemas.Entities {
		assert.Contains(t, stdout, "\n"+string(e)+" ", "a line per entity")
	}
	assert.Contains(t, stdout, "customer      20", "at most --dry-run-rows read")

	var note string
	customer := db.CustomerKeys()[0]
	_, err := db.Update("", func(tx *edgesim.Tx) error {
		var err error
		note, err = tx.PutNote(schemas.Note{CustomerKey: customer, Text: strings.Repeat("x", 2<<20)})
		return err
	})
	require.NoError(t, err)
	stdout, stderr, code = run(bin, nil, args...)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "problem: note "+note+": ")
	assert.Contains(t, stdout, "over what NATS takes")
	assert.Contains(t, stderr, "dry run: 1 problem(s)")
}
