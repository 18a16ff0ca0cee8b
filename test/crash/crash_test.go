// Package crash kills the real edgesync binary with SIGKILL and checks that
// it comes back in sync: invariants 1, 3 and 6 across real process deaths.
package crash

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
)

// kills is how many times the demo dies; EDGESYNC_CRASH_KILLS raises it for
// a longer run.
func kills(t *testing.T) int {
	if s := os.Getenv("EDGESYNC_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "EDGESYNC_CRASH_KILLS")
		return n
	}
	return 10
}

// No lost change, no duplicated effect (a review invitation included), a
// partner event applied once (invariants 1, 3, 6): the demo is killed with SIGKILL at random moments,
// in its first upload's bulk lanes or in the live lane, and restarted on the same directory; the last run must end in sync, with
// no dead letter, and every partner record must match Edge one to one when
// the files it left are read back by this test.
func TestDemoSurvivesKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a real process many times; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("EDGESYNC_CRASH_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (rerun with EDGESYNC_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	bin := filepath.Join(t.TempDir(), "edgesync")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/edgesync/edgesync/cmd/edgesync").CombinedOutput()
	require.NoError(t, err, string(out))
	dir := filepath.Join(t.TempDir(), "demo")
	args := []string{"demo", "--dir", dir, "--nats-port", "0", "--customers-per-store", "150"}

	n := kills(t)
	lanes := false // the first upload went in a bulk lane
	for i := range n {
		cmd := exec.Command(bin, args...)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		require.NoError(t, cmd.Start())
		after := time.Duration(2000+rng.IntN(6000)) * time.Millisecond
		time.Sleep(after)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		require.Error(t, err, "run %d ended before it was killed:\n%s", i+1, logs.String())
		lanes = lanes || strings.Contains(logs.String(), "bulk lane")
		t.Logf("run %d killed after %s", i+1, after)
	}

	cmd := exec.Command(bin, append(args, "--duration", "5s")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	t.Logf("last run:\n%s", lastLines(stdout.String(), 16))
	assert.True(t, lanes || strings.Contains(stderr.String(), "bulk lane"), "the demo's first upload went in bulk lanes, and was killed in them")
	require.NoError(t, err, "the run after %d kills did not end in sync (seed %d):\n%s\n%s", n, seed, stdout.String(), lastLines(stderr.String(), 40))
	assert.Contains(t, stdout.String(), "RESULT: in sync")
	assert.Contains(t, stdout.String(), "dead letters: 0\n")

	// Read back what the simulator and each emulator kept on disk, as a
	// separate program would, and compare them record by record.
	db, err := edgesim.Load(filepath.Join(dir, "edge-simulator.json"))
	require.NoError(t, err)
	pe := podiumemu.New()
	defer pe.Close()
	require.NoError(t, pe.UnmarshalState(read(t, filepath.Join(dir, "podium-emulator.json"))))
	ce := clientbookemu.New()
	defer ce.Close()
	require.NoError(t, ce.UnmarshalState(read(t, filepath.Join(dir, "clientbook-emulator.json"))))
	assert.Equal(t, demo.Effects{}, demo.PodiumEffects(db, pe), "Podium contacts against Edge (seed %d)", seed)
	assert.Equal(t, demo.Effects{}, demo.ClientbookEffects(db, ce), "Clientbook clients against Edge (seed %d)", seed)
	assert.Equal(t, db.SyncedCustomers(), pe.ContactCount())
	// The demo's cool-down is 30 days: a kill between Podium creating a
	// review invitation and the connector saving it must not invite again.
	invited := map[string]int{}
	for _, inv := range pe.ReviewInvites() {
		if invited[inv.Channel.Identifier]++; invited[inv.Channel.Identifier] == 2 {
			t.Errorf("%s invited twice inside the cool-down (seed %d)", inv.Channel.Identifier, seed)
		}
	}
	assert.Equal(t, len(db.CustomerKeys()), ce.Totals().Clients)
}

func read(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func lastLines(s string, n int) string {
	lines := bytes.Split([]byte(s), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprint(string(bytes.Join(lines, []byte("\n"))))
}
