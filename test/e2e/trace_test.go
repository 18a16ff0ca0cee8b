package e2e

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/status"
	"github.com/edgesync/edgesync/internal/trace"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/test/browser"
)

// Support asks "why is this customer (not) in Podium?": the trace finds
// the customer by Edge key, email, phone or Podium id, and shows its Edge
// events (with the one a Podium edit wrote into Edge, origin podium), the
// Podium connector's state and link, the contact's events in PARTNER; and
// for a customer Podium cannot hold, its dead letter and why.
func TestTraceFollowsOneCustomer(t *testing.T) {
	ctx := context.Background()
	in := newInbound(t, true, nil)
	var ada, bad string
	in.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "(512) 555-0101")
		bad = newCustomer(tx, "001", "Nophone", "", "555-0101")
		return nil
	})
	in.settle()
	require.True(t, in.emu.EditContact("ada@example.com", func(c *podiumemu.Contact) { c.Emails = append(c.Emails, "ada@podium.example.com") }))
	in.settle()
	contact, ok := in.emu.ContactByIdentifier("ada@example.com")
	require.True(t, ok)
	identifier := contact.Conversations[0].UID // what edgesync links: the identifier Podium answered the create with

	for _, q := range []string{ada, "ADA@example.com", "+1 (512) 555-0101", identifier} {
		tr, err := trace.Customer(ctx, in.srv.JS, q)
		require.NoError(t, err, q)
		assert.Equal(t, ada, tr.EdgeKey, "found by %s", tr.FoundBy)
	}
	tr, err := trace.Customer(ctx, in.srv.JS, ada)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(tr.Events), 2, "created at the counter, then the Podium edit written into Edge")
	assert.Equal(t, "", tr.Events[0].Origin)
	assert.Equal(t, projectors.PartnerPodium, tr.Events[len(tr.Events)-1].Origin)
	p := tr.Connectors[0]
	assert.Equal(t, "podium", p.Connector)
	assert.Equal(t, identifier, p.PartnerID)
	assert.Contains(t, string(p.State), `"identifier"`)
	require.NotEmpty(t, p.Partner, "the contact's events in PARTNER")
	assert.Equal(t, "contact.updated", p.Partner[len(p.Partner)-1].Type)
	assert.Contains(t, p.Partner[len(p.Partner)-1].Writer, "taken by the writer", "the writer's part")
	var out strings.Builder
	require.NoError(t, tr.Write(&out))
	assert.Contains(t, out.String(), "customer "+ada+" (found by Edge key)")
	assert.Contains(t, out.String(), "linked to: "+identifier)
	assert.Contains(t, p.LastCall, "the partner has Edge's latest state", "the last call for her")
	assert.False(t, p.Saved.IsZero())
	assert.Contains(t, out.String(), "last call: the partner has Edge's latest state")

	tr, err = trace.Customer(ctx, in.srv.JS, bad)
	require.NoError(t, err)
	require.Len(t, tr.DeadLetters, 1)
	assert.Equal(t, projectors.NotSendableReason, tr.DeadLetters[0].Reason)
	assert.Empty(t, tr.Connectors[0].PartnerID, "never reached Podium, and the trace says why")
	assert.Contains(t, tr.Connectors[0].LastCall, "not applied yet")

	_, err = trace.Customer(ctx, in.srv.JS, "nobody@example.com")
	assert.ErrorIs(t, err, trace.ErrNotFound)
}

// The status page's search box shows the same path, as a browser renders
// it.
func TestTheStatusPageSearchesACustomer(t *testing.T) {
	browser.Require(t)
	in := newInbound(t, true, nil)
	var ada string
	in.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "(512) 555-0101")
		return nil
	})
	in.settle()
	page := httptest.NewServer(status.Handler(status.NewReader(in.srv.JS), time.Second, logger()))
	t.Cleanup(page.Close)
	home := browser.Text(t, page.URL)
	assert.Contains(t, home, "Find a customer's path")
	text := browser.Text(t, page.URL+"/trace?q="+url.QueryEscape("ada@example.com"))
	assert.Contains(t, text, "Customer "+ada+" (found by contact method)")
	assert.Regexp(t, `podium Linked to: [0-9a-f-]{36} Last call: the partner has Edge's latest state \(version 1\), taken at [0-9TZ:-]+ State: \{"version":1`, text,
		"the Podium contact it is linked to, where she stands with Podium and the connector's state")
	assert.Regexp(t, `taken by the writer`, text, "whether the writer took the contact's event")
	assert.Contains(t, text, "clientbook Linked to: none Last call: no Clientbook connector has reported", "a connector that is not running is said to be so")
	assert.Contains(t, text, "contact.created", "the contact's event in PARTNER")
	text = browser.Text(t, page.URL+"/trace?q=nobody%40example.com")
	assert.Contains(t, text, "no customer matches")
}
