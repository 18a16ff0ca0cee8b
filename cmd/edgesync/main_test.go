package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/test/syncbuf"
)

// buildBinary compiles edgesync once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgesync")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func run(bin string, env []string, args ...string) (string, string, int) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	srv := natstest.Start(t)

	t.Run("streams init and status, configured by environment", func(t *testing.T) {
		_, stderr, code := run(bin, []string{"EDGESYNC_NATS_URL=" + srv.URL()}, "streams", "init", "--replicas", "1")
		require.Zero(t, code, stderr)
		stdout, stderr, code := run(bin, []string{"EDGESYNC_NATS_URL=" + srv.URL()}, "streams", "status")
		require.Zero(t, code, stderr)
		for _, s := range []string{"EDGE", "PARTNER", "DLQ"} {
			assert.Contains(t, stdout, s)
		}
	})

	t.Run("dlq list, show and drop", func(t *testing.T) {
		env := []string{"EDGESYNC_NATS_URL=" + srv.URL()}
		// A dead letter as a gateway makes one of a delivery it cannot read.
		dl := nats.NewMsg("dlq.webhooks.podium")
		dl.Data = []byte(`{"event":"contact.updated","data":{"uid":"c-1"}}`)
		dl.Header.Set(streams.HeaderDLQReason, "delivery names no contact id")
		dl.Header.Set(streams.HeaderDLQConsumer, "webhooks")
		_, err := streams.PublishMsg(context.Background(), srv.JS, dl)
		require.NoError(t, err)
		stdout, stderr, code := run(bin, env, "dlq", "list", "--reason", "NO CONTACT")
		require.Zero(t, code, stderr)
		assert.Contains(t, stdout, "CONSUMER")
		assert.Contains(t, stdout, "webhooks")
		stdout, _, _ = run(bin, env, "dlq", "list", "--consumer", "podium")
		assert.NotContains(t, stdout, "webhooks", "the consumer filter is exact")
		stdout, stderr, code = run(bin, env, "dlq", "show", "--consumer", "webhooks")
		require.Zero(t, code, stderr)
		for _, want := range []string{"consumer:   webhooks", "reason:     delivery names no contact id", "deliveries: -",
			"Edgesync-Dlq-Reason: delivery names no contact id", `"event": "contact.updated"`} {
			assert.Contains(t, stdout, want)
		}
		stdout, stderr, code = run(bin, env, "dlq", "replay", "--consumer", "webhooks")
		require.Zero(t, code, stderr)
		assert.Contains(t, stdout, "kept: no original message to redrive")
		stdout, stderr, code = run(bin, env, "dlq", "drop", "--consumer", "webhooks")
		require.Zero(t, code, stderr)
		assert.Contains(t, stdout, "1 dead letter(s) dropped")
		stdout, _, _ = run(bin, env, "dlq", "list")
		assert.NotContains(t, stdout, "webhooks")
	})

	t.Run("status page", func(t *testing.T) {
		addr, ops := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
		out, body := serve(t, bin, []string{"EDGESYNC_NATS_URL=" + srv.URL()}, "http://"+addr+"/status.json", "status", "--addr", addr, "--metrics-addr", ops)
		assert.Contains(t, body, `"consumers"`)
		assert.NotContains(t, body, `"unread"`, "every part of a provisioned pipeline can be read")
		code, body := get(t, "http://"+addr+"/")
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "edgesync status")
		assert.Contains(t, out.String(), "status page listening")
		// The compose healthcheck probes /readyz on --metrics-addr, as for
		// every role; the page's own address answers too.
		for _, u := range []string{"http://" + ops + "/readyz", "http://" + ops + "/healthz", "http://" + addr + "/readyz"} {
			code, body := get(t, u)
			assert.Equal(t, http.StatusOK, code, "%s: %s", u, body)
		}
		_, metrics := get(t, "http://"+ops+"/metrics")
		assert.Contains(t, metrics, `edgesync_build_info{version="dev"} 1`)
		assert.Contains(t, out.String(), "role=status version=dev", "every line says which role and build wrote it")
	})

	t.Run("a signal stops a role and says so", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
		cmd := exec.Command(bin, "status", "--addr", addr)
		cmd.Env = append(os.Environ(), "EDGESYNC_NATS_URL="+srv.URL())
		out := &syncbuf.Buffer{}
		cmd.Stderr = out
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool { code, _ := get(t, "http://"+addr+"/healthz"); return code == http.StatusOK }, 10*time.Second, 50*time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, cmd.Wait(), "a signal is a clean stop: exit 0")
		assert.Contains(t, out.String(), "stopping on a signal")
	})

	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown role", nil, []string{"frobnicate"}, "unexpected argument frobnicate"},
		{"status page refreshing too fast", nil, []string{"status", "--refresh", "10ms"}, "--refresh 10ms: want at least 1s"},
		{"replay without a start", nil, []string{"replay", "--connector", "podium"}, "say where the replay starts, once"},
		{"replay with two starts", nil, []string{"replay", "--connector", "podium", "--from-start", "--latest-per-subject"}, "say where the replay starts, once"},
		{"replay of an unknown entity", nil, []string{"replay", "--connector", "podium", "--from-start", "--entity", "ring"}, `--entity: unknown entity`},
		{"replay of a connector that never ran", []string{"EDGESYNC_NATS_URL=" + srv.URL()}, []string{"replay", "--connector", "podium", "--latest-per-subject"},
			"its first start sends the latest state of every aggregate by itself"},
		{"replay without a selection", nil, []string{"dlq", "replay"}, "--seq N"},
		{"drop without a selection", nil, []string{"dlq", "drop"}, "or --all"},
		{"reconcile without credentials", nil, []string{"reconcile", "--partner", "podium"}, "--partner podium needs --podium-client-id"},
		{"gateway without a secret", nil, []string{"webhooks"}, "set --podium-webhook-secret, --clientbook-webhook-secret, or both"},
		{"writer without a partner", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1"}, []string{"writer"}, "no partner to write for"},
		{"missing clientbook key", nil, []string{"connector", "clientbook"}, "missing flags: --clientbook-api-key"},
		{"clientbook store not three digits", []string{"EDGESYNC_CLIENTBOOK_API_KEY=topsecret"},
			[]string{"connector", "clientbook", "--clientbook-store", "1=st_1"}, "must be three digits"},
		{"clientbook bad preference field", []string{"EDGESYNC_CLIENTBOOK_API_KEY=topsecret"},
			[]string{"connector", "clientbook", "--clientbook-preference", "Key9=Size"}, "custom fields are Key1..Key8"},
		{"clientbook unreachable nats", []string{"EDGESYNC_CLIENTBOOK_API_KEY=topsecret"},
			[]string{"connector", "clientbook", "--clientbook-store", "001=st_1", "--nats-url", "nats://u:natspw@127.0.0.1:1"}, "connect to nats"},
		{"clientbook webhook without secret", []string{"EDGESYNC_CLIENTBOOK_API_KEY=topsecret"},
			[]string{"connector", "clientbook", "--clientbook-webhook-url", "https://example.com/webhooks/clientbook"}, "needs --clientbook-webhook-secret"},
		{"writer with a bad store", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1"}, []string{"writer", "--podium-store", "loc=12"}, "must be three digits"},
		{"capture without a database", nil, []string{"capture"}, "--mssql-dsn (or EDGESYNC_MSSQL_DSN) is required"},
		{"capture with a bad entity", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1?database=Edge"},
			[]string{"capture", "--entities", "customer,bogus"}, "unknown entity"},
		{"unreachable edge database", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1?database=Edge&dial+timeout=1"},
			[]string{"edge", "check"}, "connect to edge database"},
		{"bad mapping file", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1"},
			[]string{"edge", "check", "--edge-mapping", "/nonexistent.json"}, "no such file"},
		{"bad duration", nil, []string{"demo", "--duration", "soon"}, "--duration"},
		{"profiles with nowhere to serve them", nil, []string{"status", "--pprof"}, "--pprof needs --metrics-addr"},
		{"missing podium secrets", nil, []string{"connector", "podium"}, "missing flags"},
		{"empty location uid", []string{"EDGESYNC_PODIUM_CLIENT_SECRET=topsecret", "EDGESYNC_PODIUM_REFRESH_TOKEN=rt-secret"},
			[]string{"connector", "podium", "--podium-client-id", "x", "--podium-location", "001="}, `--podium-location "001=": want KEY=VALUE with both sides set`},
		{"empty clientbook store", []string{"EDGESYNC_CLIENTBOOK_API_KEY=topsecret"},
			[]string{"connector", "clientbook", "--clientbook-store", "=st_1"}, `--clientbook-store "=st_1"`},
		{"empty associate", []string{"EDGESYNC_CLIENTBOOK_API_KEY=topsecret"},
			[]string{"connector", "clientbook", "--clientbook-associate", "12="}, `--clientbook-associate "12="`},
		{"empty preference", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1"},
			[]string{"writer", "--clientbook-preference", "Key1="}, `--clientbook-preference "Key1="`},
		{"bad store in location map", []string{"EDGESYNC_PODIUM_CLIENT_SECRET=topsecret", "EDGESYNC_PODIUM_REFRESH_TOKEN=rt-secret"},
			[]string{"connector", "podium", "--podium-client-id", "x", "--podium-location", "1=abc"}, "must be three digits"},
		{"no numbering chosen for what the writer creates", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1"},
			[]string{"writer", "--edge-time-zone", "UTC", "--podium-store", "loc-1=001"}, "chooses no numbering for new customer, whyin"},
		{"no store time zone", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1"},
			[]string{"capture"}, "--edge-time-zone (or EDGESYNC_EDGE_TIME_ZONE) is required with --mssql-dsn"},
		{"a bad store time zone", []string{"EDGESYNC_MSSQL_DSN=sqlserver://sa:dbsecret@127.0.0.1:1"},
			[]string{"capture", "--edge-time-zone", "Mars/Olympus"}, "unknown time zone Mars/Olympus"},
		{"unreachable nats", []string{"EDGESYNC_PODIUM_CLIENT_SECRET=topsecret", "EDGESYNC_PODIUM_REFRESH_TOKEN=rt-secret"},
			[]string{"connector", "podium", "--podium-client-id", "x", "--podium-location", "001=abc", "--nats-url", "nats://u:natspw@127.0.0.1:1"}, "connect to nats"},
	}
	usage := map[string]bool{"reconcile without credentials": true, "replay without a selection": true, "drop without a selection": true, "replay without a start": true, "replay with two starts": true, "status page refreshing too fast": true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(bin, tt.env, tt.args...)
			assert.NotZero(t, code)
			if usage[tt.name] {
				assert.Equal(t, 2, code, "a usage error exits 2, as the README says")
			}
			all := stdout + stderr
			assert.Contains(t, all, tt.want)
			for _, secret := range []string{"topsecret", "rt-secret", "natspw", "dbsecret"} {
				assert.False(t, strings.Contains(all, secret), "secret %q printed", secret)
			}
			// A usage error is one line and a pointer, not the help text.
			assert.NotContains(t, all, "Usage:")
			if code == 2 {
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				assert.Len(t, lines, 2, stderr)
				assert.Contains(t, lines[len(lines)-1], "--help' for usage.")
			}
		})
	}
}

// The Clientbook connector role against the emulator: a wrong key is found
// at start; a right one subscribes the gateway and stops cleanly on SIGTERM.
func TestClientbookRole(t *testing.T) {
	bin := buildBinary(t)
	srv := natstest.Start(t)
	emu := clientbookemu.New()
	emu.AddAPIKey("cb-good-key")
	url := emu.Start()
	t.Cleanup(emu.Close)
	args := []string{"connector", "clientbook", "--clientbook-url", url, "--clientbook-store", "001=st_1",
		"--clientbook-webhook-url", "https://edge.example.com/webhooks/clientbook"}

	_, stderr, code := run(bin, []string{"EDGESYNC_CLIENTBOOK_API_KEY=cb-wrong-key", "EDGESYNC_CLIENTBOOK_WEBHOOK_SECRET=hooksecret", "EDGESYNC_NATS_URL=" + srv.URL()}, args...)
	assert.NotZero(t, code)
	assert.Contains(t, stderr, "check --clientbook-url and the API key")
	assert.NotContains(t, stderr, "cb-wrong-key")

	ops := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	cmd := exec.Command(bin, append(args, "--metrics-addr", ops)...)
	cmd.Env = append(os.Environ(), "EDGESYNC_CLIENTBOOK_API_KEY=cb-good-key", "EDGESYNC_CLIENTBOOK_WEBHOOK_SECRET=hooksecret", "EDGESYNC_NATS_URL="+srv.URL())
	var out syncbuf.Buffer
	cmd.Stderr = &out
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { return len(emu.Webhooks().List()) == 1 }, 20*time.Second, 50*time.Millisecond, "the role subscribes Clientbook's webhooks")

	// Health next to the metrics: alive, then ready once its consumer is
	// there, then not ready, saying why, when NATS goes away.
	code, body := get(t, "http://"+ops+"/healthz")
	assert.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool { code, body = get(t, "http://"+ops+"/readyz"); return code == http.StatusOK }, 10*time.Second, 50*time.Millisecond, body)
	assert.Contains(t, body, "nats: ok")
	assert.Contains(t, body, "consumer EDGE/clientbook: ok")
	// What an operator graphs: partner calls by answer, the backlog.
	require.Eventually(t, func() bool {
		code, body = get(t, "http://"+ops+"/metrics")
		return code == http.StatusOK && strings.Contains(body, `edgesync_consumer_backlog{consumer="clientbook"} 0`)
	}, 10*time.Second, 100*time.Millisecond, body)
	assert.Regexp(t, `edgesync_partner_calls_total\{outcome="2xx",partner="clientbook"\} [1-9]`, body)
	code, _ = get(t, "http://"+ops+"/debug/pprof/")
	assert.Equal(t, http.StatusNotFound, code, "profiles only with --pprof")
	srv.Stop()
	require.Eventually(t, func() bool {
		code, body = get(t, "http://"+ops+"/readyz")
		return code == http.StatusServiceUnavailable
	}, 10*time.Second, 50*time.Millisecond, body)
	assert.Contains(t, body, "not ready")
	assert.Contains(t, body, "nats: connection is")
	code, _ = get(t, "http://"+ops+"/healthz")
	assert.Equal(t, http.StatusOK, code, "alive all the same")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), out.String())
	assert.Contains(t, out.String(), "clientbook connector running")
	assert.NotContains(t, out.String(), "cb-good-key")
	assert.NotContains(t, out.String(), "hooksecret")
}

// serve starts the binary with args and env, stops it when the test ends,
// and waits until url answers 200; it returns the process's log and that
// answer's body.
func serve(t *testing.T, bin string, env []string, url string, args ...string) (*syncbuf.Buffer, string) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &syncbuf.Buffer{}
	cmd.Stderr = out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var code int
	var body string
	require.Eventually(t, func() bool { code, body = get(t, url); return code == http.StatusOK }, 10*time.Second, 50*time.Millisecond, out.String())
	return out, body
}

func get(t *testing.T, url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// One configuration file for every role: the shipped example is valid, a bad
// one is explained key by key, and values come from the file unless the
// environment or a flag says otherwise.
func TestConfigFile(t *testing.T) {
	bin := buildBinary(t)
	srv := natstest.Start(t)
	stdout, stderr, code := run(bin, nil, "config", "check", "../../deploy/edgesync.yaml")
	require.Zero(t, code, stderr)
	assert.Contains(t, stdout, "valid")

	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		return path
	}
	bad := write("bad.yaml", "nats-url: 42\npodium-tier: platinum\npol: 500ms\npoll: fast\npodium-location: [001]\npodium-exclude-stock-type: [MEMOO]\n")
	stdout, _, code = run(bin, nil, "config", "check", bad)
	assert.Equal(t, 1, code)
	for _, want := range []string{
		"6 problem(s)",
		"podium-exclude-stock-type.0: value must be one of", // a typo no longer replaces the default exclusions
		"nats-url: got number, want string",
		"podium-tier: value must be one of 'clienteling', 'clienteling-plus'",
		"pol: not a flag of edgesync; did you mean poll?",
		`poll: "fast" is not a duration; write it like 250ms`,
		"podium-location: got array, want object",
	} {
		assert.Contains(t, stdout, want)
	}
	_, stderr, code = run(bin, nil, "--config", bad, "streams", "status")
	assert.Equal(t, 2, code, "a role refuses a bad file before it starts")
	assert.Contains(t, stderr, "--config: 6 problem(s)")
	_, stderr, code = run(bin, nil, "config", "check", write("notyaml.yaml", "nats-url: [unclosed\n"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not YAML")

	good := write("good.yaml", "nats-url: "+srv.URL()+"\n")
	elsewhere := write("elsewhere.yaml", "nats-url: nats://127.0.0.1:1\n")
	tests := []struct {
		name string
		env  []string
		args []string
		ok   bool
	}{
		{"the file's value", nil, []string{"--config", good, "streams", "status"}, true},
		{"the environment wins over the file", []string{"EDGESYNC_NATS_URL=" + srv.URL()}, []string{"--config", elsewhere, "streams", "status"}, true},
		{"a flag wins over the file", nil, []string{"--config", elsewhere, "--nats-url", srv.URL(), "streams", "status"}, true},
		{"the file named by EDGESYNC_CONFIG", []string{"EDGESYNC_CONFIG=" + elsewhere}, []string{"streams", "status"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(bin, tt.env, tt.args...)
			if tt.ok {
				assert.Zero(t, code, stderr)
			} else {
				assert.Contains(t, stderr, "127.0.0.1:1")
			}
		})
	}
}

// `edgesync replay` against a running consumer: it starts the replay, the
// consumer follows it, and the command says when it is done.
func TestReplayCommand(t *testing.T) {
	bin := buildBinary(t)
	srv := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 50 {
		_, err := srv.JS.Publish(ctx, fmt.Sprintf("edge.customer.001.%06d", i), []byte(`{}`))
		require.NoError(t, err)
	}
	var handled atomic.Int64
	done := make(chan struct{})
	go func() {
		_ = streams.Consume(ctx, srv.JS, streams.ConsumerConfig{Durable: "podium", Stream: streams.StreamEdge, Filters: []string{"edge.customer.>"}},
			func(context.Context, jetstream.Msg) error { handled.Add(1); return nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return handled.Load() == 50 }, 20*time.Second, 20*time.Millisecond, "the live consumer")

	stdout, stderr, code := run(bin, []string{"EDGESYNC_NATS_URL=" + srv.URL()}, "replay", "--connector", "podium", "--from-start", "--subject", "edge.customer.001.>")
	require.Zero(t, code, stderr)
	assert.Contains(t, stdout, "replay of podium started: 50 events")
	assert.Contains(t, stdout, "replay of podium done: 50 events")
	assert.EqualValues(t, 100, handled.Load(), "every event again, through the same handler")
	_, stderr, code = run(bin, []string{"EDGESYNC_NATS_URL=" + srv.URL()}, "replay", "--connector", "podium", "--cancel")
	assert.NotZero(t, code)
	assert.Contains(t, stderr, "no replay of podium is running")
}

// With --pprof a process serves Go's profiles next to its metrics: the
// scale benchmark profiles every process of the fleet, the test bed's too.
func TestProfilesOnTheMetricsAddress(t *testing.T) {
	bin := buildBinary(t)
	addr, ops := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	out, body := serve(t, bin, nil, "http://"+ops+"/debug/pprof/cmdline",
		"sim", "clientbook", "--api-key", "k", "--no-persist", "--dir", t.TempDir(), "--addr", addr, "--metrics-addr", ops, "--pprof")
	assert.Contains(t, body, "sim")
	code, body := get(t, "http://"+ops+"/debug/pprof/profile?seconds=1")
	assert.Equal(t, http.StatusOK, code)
	assert.NotEmpty(t, body, "a CPU profile")
	assert.Contains(t, out.String(), "/debug/pprof/", "the log says where")
}

// A wrong user says which user was refused what and which user the
// command needs, not a bare "context deadline exceeded"; a wrong password
// says the login was refused.
func TestARefusedUserIsToldWhatItMayDo(t *testing.T) {
	bin := buildBinary(t)
	url := natstest.StartProcessConf(t, func(port int, dir string) string {
		return fmt.Sprintf(`listen: 127.0.0.1:%d
jetstream { store_dir: %q }
accounts { E { jetstream: enabled, users: [
  { user: admin, password: adminpw }
  { user: capture, password: capturepw, permissions: { publish: ["edge.>"], subscribe: ["_INBOX_capture.>"] } }
] } }
`, port, dir)
	}, nil)
	_, stderr, code := run(bin, []string{"EDGESYNC_NATS_URL=" + url, "EDGESYNC_NATS_USER=capture", "EDGESYNC_NATS_PASSWORD=capturepw"}, "streams", "status")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `user \"capture\" may not do this`)
	assert.Contains(t, stderr, "need the admin user")
	assert.Contains(t, stderr, "$JS.API.STREAM.INFO", "what was refused")
	assert.NotContains(t, stderr, "capturepw")
	t.Log(stderr)

	_, stderr, code = run(bin, []string{"EDGESYNC_NATS_URL=" + url, "EDGESYNC_NATS_USER=admin", "EDGESYNC_NATS_PASSWORD=wrongpw"}, "streams", "status")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `the server refused the login of user \"admin\": check the user`)
	assert.NotContains(t, stderr, "wrongpw")
}

// The shipped binary links what it runs (the simulators and emulators of
// `edgesync demo` and `edgesync sim` live in sim/), never a test package.
// The emulators declare their partner's wire shapes from the API
// documents, not from edgesync's client or rules: a field the client names
// wrong fails a test instead of being mirrored.
func TestTheEmulatorsDeclareTheirOwnWire(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/edgesync/edgesync/sim/podiumemu", "github.com/edgesync/edgesync/sim/clientbookemu").Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(out)) {
		assert.NotContains(t, p, "github.com/edgesync/edgesync/connectors/", "an emulator imports %s", p)
		assert.NotContains(t, p, "github.com/edgesync/edgesync/projectors", "an emulator imports %s", p)
	}
}

func TestTheBinaryLinksNoTestPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(out)) {
		assert.NotContains(t, p, "github.com/edgesync/edgesync/test/", "the binary links %s", p)
	}
}
