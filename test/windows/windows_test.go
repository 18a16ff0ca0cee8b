// Package windows runs the Windows build of edgesync under wine: the
// store's part runs on the store's Windows server (docs/windows.md). It
// skips, saying why, where wine64 or the MinGW cross-compiler is missing.
package windows

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// shim is bcryptprimitives.dll for Debian's wine 8.0, which lacks it: a
// Go 1.26 Windows binary calls its ProcessPrng at start. advapi32's
// SystemFunction036 (RtlGenRandom) gives the same random bytes.
const shim = `#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
	return SystemFunction036(data, (ULONG)length);
}
`

// wine is a wine prefix with edgesync.exe built for it.
type wine struct {
	t      *testing.T
	bin    string // wine64
	exe    string // edgesync.exe
	prefix string
}

func setup(t *testing.T) *wine {
	if testing.Short() {
		t.Skip("starts wine; skipped with -short")
	}
	bin, err := exec.LookPath("wine64")
	if err != nil {
		bin, err = exec.LookPath("wine")
	}
	if err != nil {
		t.Skip("*** wine64 is not installed (apt-get install wine64): the Windows build is NOT run; it is still built and vetted by .ci/run")
	}
	cc, err := exec.LookPath("x86_64-w64-mingw32-gcc")
	if err != nil {
		t.Skip("*** x86_64-w64-mingw32-gcc is not installed (apt-get install gcc-mingw-w64-x86-64): wine 8 cannot start a Go 1.26 binary without the bcryptprimitives shim; the Windows build is NOT run")
	}
	dir := t.TempDir()
	w := &wine{t: t, bin: bin, exe: filepath.Join(dir, "edgesync.exe"), prefix: filepath.Join(dir, "prefix")}
	build := exec.Command("go", "build", "-o", w.exe, "github.com/edgesync/edgesync/cmd/edgesync")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	// A prefix of the test's own, then the shim in its system32.
	boot := exec.Command(bin, "wineboot", "--init")
	boot.Env = w.env()
	out, err = boot.CombinedOutput()
	require.NoError(t, err, "wineboot: %s", out)
	src := filepath.Join(dir, "shim.c")
	require.NoError(t, os.WriteFile(src, []byte(shim), 0o600))
	dll := filepath.Join(w.prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	out, err = exec.Command(cc, "-shared", "-O2", "-o", dll, src, "-ladvapi32").CombinedOutput()
	require.NoError(t, err, "build the shim: %s", out)
	return w
}

func (w *wine) env() []string {
	return append(os.Environ(), "WINEPREFIX="+w.prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
}

// run runs edgesync.exe with args to its end.
func (w *wine) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, append([]string{w.exe}, args...)...)
	cmd.Env = w.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// The Windows binary starts, reads a configuration file, and runs the
// store's role: a NATS leaf node of the hub with its own stream and
// capture into it, against the Edge simulator; the store's customers reach
// the hub, and its durable files are written on Windows' terms.
func TestTheStoreRoleRunsOnWindows(t *testing.T) {
	w := setup(t)
	out, err := w.run("version")
	require.NoError(t, err, out)
	assert.Contains(t, out, "edgesync")

	cfg := filepath.Join(t.TempDir(), "edgesync.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("poll: 250ms\nedge-time-zone: America/Chicago\n"), 0o600))
	out, err = w.run("config", "check", cfg)
	require.NoError(t, err, out)
	assert.Contains(t, out, "valid")
	out, err = w.run("service", "install", "connector", "podium")
	assert.Error(t, err)
	assert.Contains(t, out, "a Windows service runs one of store, capture, writer", out)

	hub, leafURLs := natstest.StartHub(t, 1)
	nc, err := nats.Connect(hub.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, streams.Provision(context.Background(), js, streamsForStore()))
	db := edgesim.New()
	require.NoError(t, edgesim.Generate(db, edgesim.Spec{Seed: 1, Stores: 1, CustomersPerStore: 20}))
	sim := httptest.NewServer(edgesim.NewServer(db, slog.New(slog.DiscardHandler)).Handler())
	defer sim.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := exec.CommandContext(ctx, w.bin, w.exe, "store", "--store", "001", "--dir", filepath.Join(t.TempDir(), "store"),
		"--hub-url", leafURLs[0], "--edge-simulator", sim.URL, "--poll", "100ms")
	store.Env = w.env()
	logs := &syncbuf.Buffer{}
	store.Stdout, store.Stderr = logs, logs
	require.NoError(t, store.Start())
	defer func() { cancel(); _ = store.Wait() }()
	require.Eventually(t, func() bool {
		s, err := js.Stream(context.Background(), streams.StreamEdge)
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background(), jetstream.WithSubjectFilter("edge.customer.001.>"))
		return err == nil && len(info.State.Subjects) == 20
	}, 3*time.Minute, 200*time.Millisecond, "the store's 20 customers at the hub:\n%s", logs.String())
	assert.True(t, strings.Contains(logs.String(), "link to the hub up"), logs.String())
}

// streamsForStore is the hub's provisioning for store 001, as
// `edgesync streams init --store 001` makes it.
func streamsForStore() streams.Config {
	cfg := streams.DefaultConfig()
	cfg.Stores = []string{"001"}
	return cfg
}
