package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// The store's server runs Windows, as ECon does: `edgesync service`
// installs the store's part (store, capture or writer) as a Windows
// service that starts with Windows, logs to the Windows event log and
// stops cleanly when the service manager asks (docs/windows.md).

type serviceCmd struct {
	Install   serviceInstallCmd   `cmd:"" help:"Install a role (store, capture or writer, with its flags) as a Windows service that starts with Windows."`
	Uninstall serviceUninstallCmd `cmd:"" help:"Remove the Windows service."`
	Start     serviceStartCmd     `cmd:"" help:"Start the Windows service."`
	Stop      serviceStopCmd      `cmd:"" help:"Stop the Windows service; the role finishes what it is doing first."`
}

// serviceRoles are the roles that run at the store, next to SQL Server.
var serviceRoles = []string{"store", "capture", "writer"}

type serviceInstallCmd struct {
	serviceName
	Role []string `arg:"" passthrough:"" help:"The role and its flags, as on the command line, e.g.: store --store 001 --config C:\\edgesync\\edgesync.yaml (secrets: set them as the service account's environment variables)."`
}

func (c *serviceInstallCmd) Run() error {
	if len(c.Role) == 0 || !slices.Contains(serviceRoles, c.Role[0]) {
		return fmt.Errorf("a Windows service runs one of %s, with its flags: edgesync service install store --store 001 ...", strings.Join(serviceRoles, ", "))
	}
	return installService(c.Name, append([]string{"--windows-service", c.Name}, c.Role...))
}

// serviceName names the service a command acts on.
type serviceName struct {
	Name string `help:"Name of the Windows service." default:"edgesync"`
}

type serviceUninstallCmd struct{ serviceName }

func (c *serviceUninstallCmd) Run() error { return removeService(c.Name) }

type serviceStartCmd struct{ serviceName }

func (c *serviceStartCmd) Run() error { return startService(c.Name) }

type serviceStopCmd struct{ serviceName }

func (c *serviceStopCmd) Run() error { return stopService(c.Name) }

// errNotWindows is what the service commands answer elsewhere.
var errNotWindows = errors.New("edgesync service runs on Windows; elsewhere run the role under systemd or in a container (deploy/compose.yaml)")

// eventSink is where a service's log goes: the Windows event log
// (eventlog.Log), by severity.
type eventSink interface {
	Info(eid uint32, msg string) error
	Warning(eid uint32, msg string) error
	Error(eid uint32, msg string) error
}

// eventLogHandler writes each record as one event log entry of its
// severity, formatted as the text handler formats it.
type eventLogHandler struct {
	sink  eventSink
	mu    *sync.Mutex
	buf   *bytes.Buffer
	inner slog.Handler // writes into buf
}

func newEventLogHandler(sink eventSink, level slog.Leveler) *eventLogHandler {
	buf := &bytes.Buffer{}
	return &eventLogHandler{sink: sink, mu: &sync.Mutex{}, buf: buf, inner: slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level})}
}

func (h *eventLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *eventLogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	msg := strings.TrimSpace(h.buf.String())
	switch {
	case r.Level >= slog.LevelError:
		return h.sink.Error(1, msg)
	case r.Level >= slog.LevelWarn:
		return h.sink.Warning(1, msg)
	default:
		return h.sink.Info(1, msg)
	}
}

func (h *eventLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &eventLogHandler{sink: h.sink, mu: h.mu, buf: h.buf, inner: h.inner.WithAttrs(attrs)}
}

func (h *eventLogHandler) WithGroup(name string) slog.Handler {
	return &eventLogHandler{sink: h.sink, mu: h.mu, buf: h.buf, inner: h.inner.WithGroup(name)}
}
