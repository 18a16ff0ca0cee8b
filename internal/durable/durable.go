// Package durable writes files the way a database commits: whole or not at
// all, and on disk once the call returns. The webhook gateway's spool keeps
// the deliveries it answered with it; the Edge simulator and the partner
// emulators keep their state with it, so a test that kills them with
// SIGKILL finds every acknowledged change after the restart.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with body so that a crash leaves either the old
// file or the new one whole, and the new one survives once it returns.
func WriteFile(path string, body []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return replace(tmp, path)
}

// syncDir makes a rename in dir durable: the directory entry is on disk
// once it returns.
func syncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
