//go:build !windows

package main

import (
	"context"
	"log/slog"
)

func installService(string, []string) error { return errNotWindows }
func removeService(string) error            { return errNotWindows }
func startService(string) error             { return errNotWindows }
func stopService(string) error              { return errNotWindows }

// asService reports whether the process was started by the Windows
// service manager as the service name: never, here.
func asService(string) bool { return false }

func runService(string, context.CancelCauseFunc, func() error) error { return errNotWindows }

func serviceLogger(string, slog.Leveler) (*slog.Logger, func(), error) {
	return nil, nil, errNotWindows
}
