// Package proctest runs the built binary as the processes of a test: each
// stops when the test ends, and its log is shown when the test failed.
package proctest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/test/syncbuf"
)

// Start runs bin with args, env added to the environment, in dir when it
// is set, until the test ends; it returns the process's output.
func Start(t testing.TB, bin string, env []string, dir string, args ...string) *syncbuf.Buffer {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s:\n%s", strings.Join(args[:min(2, len(args))], " "), out.String())
		}
	})
	return out
}
