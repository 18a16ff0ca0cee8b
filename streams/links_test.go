package streams_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// Links own the key scheme both ways: a link is found from either side, a
// partner id with characters a key refuses is stored all the same, an
// intent is found whatever the case and spaces of its value, and two
// namespaces (two Podium accounts) never see each other's links.
func TestLinksBothWays(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	kv, err := srv.JS.KeyValue(ctx, streams.BucketLinks)
	require.NoError(t, err)
	podium, staging := streams.NewLinks(kv, "podium"), streams.NewLinks(kv, "podium-staging")

	require.NoError(t, podium.Put(ctx, "customer", "001-000042", "contact id/with spaces+signs"))
	id, err := podium.PartnerID(ctx, "customer", "001-000042")
	require.NoError(t, err)
	assert.Equal(t, "contact id/with spaces+signs", id)
	key, err := podium.EdgeKey(ctx, "customer", "contact id/with spaces+signs")
	require.NoError(t, err)
	assert.Equal(t, "001-000042", key)
	none, err := staging.PartnerID(ctx, "customer", "001-000042")
	require.NoError(t, err)
	assert.Empty(t, none, "another account's connector has links of its own")

	intent, err := podium.Intend(ctx, " Ada@Example.com ", "001-000042")
	require.NoError(t, err)
	key, err = podium.Intended(ctx, "ada@example.com")
	require.NoError(t, err)
	assert.Equal(t, "001-000042", key)
	podium.Forget(ctx, []string{intent})
	key, err = podium.Intended(ctx, "ada@example.com")
	require.NoError(t, err)
	assert.Empty(t, key)

	require.NoError(t, podium.PutCollection(ctx, "001-000042", map[string]int{"item-1": 7}))
	items, err := podium.Collection(ctx, "001-000042")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"item-1": 7}, items)
}

// The Edge writer finds the connectors' links through Links alone: it
// imports no connector. The partners' wire types (podiumapi,
// clientbookapi), which the merge rules read, hold no connector's code.
func TestTheWriterImportsNoConnector(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/edgesync/edgesync/writer").Output()
	require.NoError(t, err)
	wire := []string{"github.com/edgesync/edgesync/connectors/podium/podiumapi", "github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"}
	for _, p := range strings.Fields(string(out)) {
		if !slices.Contains(wire, p) {
			assert.NotContains(t, p, "github.com/edgesync/edgesync/connectors/", "the writer imports %s", p)
		}
	}
}
