package main

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's first command works on a machine that already runs a NATS
// on 4222: the demo's default port gives way to a free one, and says so.
func TestTheDemoRunsWhenPort4222IsTaken(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	bin := buildBinary(t)
	if l, err := net.Listen("tcp", "127.0.0.1:4222"); err == nil {
		defer l.Close()
	} // else something here holds it already, which is the case under test
	stdout, stderr, code := run(bin, nil, "demo", "--dir", filepath.Join(t.TempDir(), "demo"), "--duration", "2s",
		"--customers-per-store", "20")
	require.Zero(t, code, stdout+stderr)
	assert.Contains(t, stderr, "port 4222 is taken")
	assert.Contains(t, stdout, "waiting up to", "the drain says what it waits for")
	assert.Contains(t, stdout, "RESULT: in sync")
}
