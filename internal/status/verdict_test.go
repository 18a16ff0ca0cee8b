package status

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/streams"
)

// The verdict is "ok" only when every part was heard from and works; each
// part that stops is named, worst first.
func TestTheVerdictNamesWhatStops(t *testing.T) {
	at := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	fresh := streams.Reported{At: at.Add(-time.Second), Every: 5 * time.Second}
	old := streams.Reported{At: at.Add(-time.Minute), Every: 5 * time.Second}
	running := []capture.Report{{Reported: fresh, Site: "demo"}}
	podium := func(r streams.ConnectorReport) []Consumer {
		r.Connector, r.Partner = "podium", "podium"
		return []Consumer{{Name: "podium", Stream: streams.StreamEdge, Report: &r}}
	}
	tests := []struct {
		name  string
		s     Snapshot
		level string
		want  string // in a problem or a warning
		state string // the podium consumer's
	}{
		{"all flowing", Snapshot{Captures: running, Consumers: podium(streams.ConnectorReport{Reported: fresh})}, "ok", "", "in sync"},
		{"capture stopped", Snapshot{Captures: []capture.Report{{Reported: old, Site: "demo"}}, Consumers: podium(streams.ConnectorReport{Reported: fresh})},
			"down", "capture of site demo stopped: no report for 1 min 0 s", "waiting"},
		{"capture failing", Snapshot{Captures: []capture.Report{{Reported: fresh, Site: "demo", FailingCycles: 4, Error: "login failed"}}},
			"down", "capture of site demo cannot read Edge: the last 4 cycles failed: login failed", ""},
		{"checkpoints but no report", Snapshot{Checkpoints: []Checkpoint{{Site: "old", At: at.Add(-time.Hour)}}},
			"down", "capture of site old is not reporting", ""},
		{"nothing captures", Snapshot{}, "down", "no capture has started", ""},
		{"partner failing", Snapshot{Captures: running, Consumers: podium(streams.ConnectorReport{Reported: fresh, FailingSince: at.Add(-40 * time.Second), Failure: "POST /v4/contacts: 500"})},
			"down", "Podium is failing since", "partner failing"},
		{"connector gone", Snapshot{Captures: running, Consumers: podium(streams.ConnectorReport{Reported: old})},
			"down", "connector podium is not reporting", "not reporting"},
		{"gateway down", Snapshot{Captures: running, Gateways: []webhooks.Report{{Reported: old, Partner: "clientbook"}}},
			"down", "the webhook gateway for clientbook is down", ""},
		{"stream without a leader", Snapshot{Captures: running, Servers: []Server{{Name: "(no leader)", Leads: []string{"EDGE"}}}},
			"down", "stream(s) EDGE have no leader", ""},
		{"a server offline", Snapshot{Captures: running, Servers: []Server{{Name: "nats-2", Offline: true, LastSeen: 30 * time.Second}}},
			"warn", "NATS server nats-2 is offline (last seen 30 s ago)", ""},
		{"a store never connected", Snapshot{Stores: []streams.StoreStatus{{Store: "003", LastContact: -1}}},
			"down", "store 003 has never connected to the hub", ""},
		{"a store cut off", Snapshot{Stores: []streams.StoreStatus{{Store: "002", LastContact: time.Minute}}},
			"down", "store 002 is cut off from the hub since 1 min 0 s ago", ""},
		{"a stream that went back", Snapshot{Captures: running, Consumers: []Consumer{{Name: "edge-writer", Stream: streams.StreamPartner, WentBack: true, AckedUpTo: 4200, StreamLast: 1}}},
			"down", "edge-writer had acknowledged PARTNER up to sequence 4200, but the stream now ends at 1", ""},
		{"a cut-off store's capture is said once, with its link", Snapshot{Captures: []capture.Report{{Reported: old, Site: "store002"}},
			Stores: []streams.StoreStatus{{Store: "002", LastContact: time.Minute}}},
			"down", "store 002 is cut off from the hub", ""},
		{"a webhook repaired", Snapshot{Captures: running, Consumers: podium(streams.ConnectorReport{Reported: fresh, Webhooks: &streams.WebhookReport{
			Repairs: 1, LastRepair: "missing", RepairedAt: at.Add(-time.Minute), LastCatchUp: at.Add(-time.Minute), CaughtUp: 3}})},
			"warn", "Podium's webhook was found missing and repaired 1 min 0 s ago", "in sync"},
		{"dead letters", Snapshot{Captures: running, DeadLetters: []DeadGroup{{Count: 2}, {Count: 1}}}, "warn", "3 dead letter(s)", ""},
		{"an upload in a bulk lane", Snapshot{Captures: running, Consumers: append(podium(streams.ConnectorReport{Reported: fresh}),
			Consumer{Name: "podium-bulk-001", Of: "podium", Lane: "bulk", Stream: streams.StreamEdge, Backlog: 3000, Progress: 0.7, Rate: 4.9,
				ETA: 10 * time.Minute, AtLimit: 10 * time.Minute, OldestAge: time.Hour})},
			"ok", "podium's bulk lane podium-bulk-001 (an upload, a snapshot or a replay; live changes go first) is working off 3000 event(s): " +
				"70% done, 4.9 a second, about 10 min 0 s left; 10 min 0 s at the partner's rate limit", "in sync"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			s.At = at
			judge(&s)
			assert.Equal(t, tt.level, s.Verdict.Level, "%+v", s.Verdict)
			if tt.want != "" {
				lines := slices.Concat(s.Verdict.Problems, s.Verdict.Warnings, s.Verdict.Notes)
				assert.True(t, slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, tt.want) }), "%q in %q", tt.want, lines)
			}
			if tt.state != "" {
				assert.Equal(t, tt.state, s.Consumers[0].State)
			}
		})
	}
}
