//go:build windows

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/edgesync/edgesync/internal/logctx"
)

// installService registers the running executable as service name, started
// with Windows, with args (--windows-service name, then the role and its
// flags), and its event log source.
func installService(name string, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install service %s: %w", name, err)
	}
	exe, err = filepath.Abs(exe)
	if err != nil {
		return fmt.Errorf("install service %s: %w", name, err)
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("install service %s: connect to the service manager (run as an administrator): %w", name, err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(name); err == nil {
		s.Close()
		return fmt.Errorf("install service %s: it exists already (edgesync service uninstall --name %s first)", name, name)
	}
	s, err := m.CreateService(name, exe, mgr.Config{
		DisplayName: "edgesync " + name, StartType: mgr.StartAutomatic,
		Description: "edgesync: The Edge's changes to the clienteling partners, and their changes back (" + args[2] + ").",
	}, args...)
	if err != nil {
		return fmt.Errorf("install service %s: %w", name, err)
	}
	defer s.Close()
	// Restart after a failure: a role exits 1 when it cannot go on (its
	// NATS connection closed for good), for its supervisor to start it.
	_ = s.SetRecoveryActions([]mgr.RecoveryAction{{Type: mgr.ServiceRestart, Delay: 10 * time.Second}}, 24*60*60)
	if err := eventlog.InstallAsEventCreate(name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		_ = s.Delete()
		return fmt.Errorf("install service %s: event log source: %w", name, err)
	}
	fmt.Printf("Service %s installed: %s %v\nStart it with: edgesync service start --name %s\n", name, exe, args, name)
	return nil
}

func removeService(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("remove service %s: connect to the service manager (run as an administrator): %w", name, err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("remove service %s: not installed: %w", name, err)
	}
	defer s.Close()
	if err := s.Delete(); err != nil {
		return fmt.Errorf("remove service %s: %w", name, err)
	}
	_ = eventlog.Remove(name)
	fmt.Printf("Service %s removed.\n", name)
	return nil
}

func startService(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("start service %s: %w", name, err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("start service %s: not installed: %w", name, err)
	}
	defer s.Close()
	if err := s.Start(); err != nil {
		return fmt.Errorf("start service %s: %w", name, err)
	}
	return nil
}

// stopService asks the service to stop and waits until it has.
func stopService(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("stop service %s: %w", name, err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("stop service %s: not installed: %w", name, err)
	}
	defer s.Close()
	st, err := s.Control(svc.Stop)
	if err != nil {
		return fmt.Errorf("stop service %s: %w", name, err)
	}
	deadline := time.Now().Add(shutdownWait)
	for st.State != svc.Stopped {
		if time.Now().After(deadline) {
			return fmt.Errorf("stop service %s: still %d after %s", name, st.State, shutdownWait)
		}
		time.Sleep(300 * time.Millisecond)
		if st, err = s.Query(); err != nil {
			return fmt.Errorf("stop service %s: %w", name, err)
		}
	}
	return nil
}

// shutdownWait bounds a clean stop: a handler in flight gets its grace.
const shutdownWait = 30 * time.Second

func asService(name string) bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok && name != ""
}

// runService runs the role under the service manager: stop (or a system
// shutdown) cancels the role's context, and the service reports stopped
// once the role has returned.
func runService(name string, stop context.CancelCauseFunc, run func() error) error {
	h := &serviceHandler{stop: stop, run: run}
	if err := svc.Run(name, h); err != nil {
		return fmt.Errorf("run as service %s: %w", name, err)
	}
	return h.err
}

type serviceHandler struct {
	stop context.CancelCauseFunc
	run  func() error
	err  error
}

func (h *serviceHandler) Execute(_ []string, r <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	done := make(chan error, 1)
	go func() { done <- h.run() }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			h.err = err
			if err != nil {
				return true, 1
			}
			return false, 0
		case c := <-r:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(shutdownWait / time.Millisecond)}
				h.stop(context.Canceled)
			}
		}
	}
}

// serviceLogger logs to the Windows event log under the service's source.
func serviceLogger(name string, level slog.Leveler) (*slog.Logger, func(), error) {
	el, err := eventlog.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("open the event log as %s: %w", name, err)
	}
	return slog.New(logctx.Handler(newEventLogHandler(el, level))), func() { _ = el.Close() }, nil
}
