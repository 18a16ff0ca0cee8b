//go:build !windows

package durable

import (
	"os"
	"path/filepath"
)

// replace renames tmp over path and syncs the directory, so the new name
// survives a crash.
func replace(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
