//go:build windows

package durable

import "golang.org/x/sys/windows"

// replace renames tmp over path with MOVEFILE_WRITE_THROUGH, which returns
// only once the rename is on disk. Windows refuses to open a directory for
// a sync ("Access denied"), so the Unix way cannot be used.
func replace(tmp, path string) error {
	from, err := windows.UTF16PtrFromString(tmp)
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	return windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
}
