package main

import (
	"log/slog"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sink records event log entries by severity.
type sink struct{ info, warning, errs []string }

func (s *sink) Info(_ uint32, m string) error    { s.info = append(s.info, m); return nil }
func (s *sink) Warning(_ uint32, m string) error { s.warning = append(s.warning, m); return nil }
func (s *sink) Error(_ uint32, m string) error   { s.errs = append(s.errs, m); return nil }

// A Windows service logs to the event log: one entry per record, of the
// record's severity, formatted as the text log is.
func TestAServiceLogsToTheEventLogBySeverity(t *testing.T) {
	s := &sink{}
	log := slog.New(newEventLogHandler(s, slog.LevelInfo)).With("role", "store")
	log.Debug("not logged")
	log.Info("capture running", "site", "store001")
	log.WithGroup("nats").Warn("disconnected", "err", "EOF")
	log.Error("edgesync failed", "err", "boom")
	require.Len(t, s.info, 1)
	assert.Contains(t, s.info[0], `msg="capture running" role=store site=store001`)
	require.Len(t, s.warning, 1)
	assert.Contains(t, s.warning[0], "nats.err=EOF")
	require.Len(t, s.errs, 1)
	assert.NotContains(t, s.errs[0], "capture running", "each entry is its own record")
}

// The service commands say what runs where, and install takes only the
// roles that run at the store.
func TestServiceCommands(t *testing.T) {
	c := &serviceInstallCmd{Role: []string{"connector", "podium"}}
	assert.ErrorContains(t, c.Run(), "a Windows service runs one of store, capture, writer")
	if runtime.GOOS != "windows" {
		assert.ErrorIs(t, (&serviceInstallCmd{Role: []string{"store"}}).Run(), errNotWindows)
		assert.ErrorIs(t, (&serviceStopCmd{}).Run(), errNotWindows)
		assert.False(t, asService("edgesync"))
	}
}
