package status

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
)

// The page names what is parked, with its tries and last error, and says
// that a capture dead letter is fixed in Edge, not replayed.
func TestThePageShowsParkedEventsAndHowToRedrive(t *testing.T) {
	at := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	s := Snapshot{At: at,
		Consumers: []Consumer{{Name: "podium", Stream: streams.StreamEdge, Backlog: 1, Report: &streams.ConnectorReport{
			Connector: "podium", Reported: streams.Reported{At: at}, Parked: 1, ParkedSample: []streams.ParkedMsg{{
				Subject: "edge.customer.001.000042", Attempts: 4, Since: at.Add(-3 * time.Minute), Error: "podium POST /v4/contacts: 500 internal_server_error"}},
		}}},
		DeadLetters: []DeadGroup{
			{Consumer: "capture", Reason: "note 001-7 version 9: cannot be published", Count: 1, Last: at, Redrive: redrive("capture")},
			{Consumer: "podium", Reason: "refused", Count: 2, Last: at, Redrive: redrive("podium")},
		},
	}
	var b strings.Builder
	require.NoError(t, page.Execute(&b, struct {
		Snapshot
		Refresh int
	}{s, 5}))
	html := b.String()
	for _, want := range []string{
		"Parked by podium: 1 event(s)", "edge.customer.001.000042", ">4<", "3 min 0 s ago", "500 internal_server_error",
		"fix the row in Edge: its next change is captured as usual", "edgesync dlq replay --consumer podium",
	} {
		assert.Contains(t, html, want)
	}
}
