// Package fleet runs edgesync as it is deployed: every role its own OS
// process of the real binary (capture, both connectors, a webhook gateway
// per partner, the writer), an external nats-server with
// deploy/nats-server.conf (or three of them clustered), and the Edge
// simulator and the partners' emulators as processes of their own
// (edgesync sim ...). Tests kill any of them with SIGKILL and start them
// again, and read the outcome from the simulator's and emulators' own
// records.
package fleet

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/internal/status"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/test/natstest"
)

// Options shape a fleet.
type Options struct {
	Servers           int     // NATS servers: 1, or 3 clustered with R3 streams
	Stores            int     // in the generated chain; 2 when zero
	CustomersPerStore int     // 300 when zero
	SalesPerCustomer  float64 // 1.5 when zero
	ItemsPerStore     int     // 200 when zero
	Poll              time.Duration
	AckWait           time.Duration // of the connectors and the writer; 5 s when zero, so a killed one's messages come back soon
	Seed              uint64
	NoPersist         bool          // the emulators keep their state in memory only (benchmarks, suites that never kill them)
	LiveEvery         time.Duration // the sims' own live changes (--every): Edge, and a tenth as often app edits; 0 for none
	Pprof             bool          // every process serves Go's profiles (--pprof), for CPUProfiles
	// SyncInterval replaces the shipped sync_interval (always: an fsync
	// before every acknowledgement), for benchmarks that measure what
	// that durability costs; "" keeps it.
	SyncInterval string
	// Deferred roles are made but not started: the test starts them with
	// Proc(name).Start, to make them meet what is already there.
	Deferred []string
}

// Role names, for Proc lookups.
const (
	Capture            = "capture"
	ConnectorPodium    = "connector-podium"
	ConnectorClientbok = "connector-clientbook"
	GatewayPodium      = "gateway-podium"
	GatewayClientbook  = "gateway-clientbook"
	Writer             = "writer"
	SimEdge            = "sim-edge"
	SimPodium          = "sim-podium"
	SimClientbook      = "sim-clientbook"
)

// ClientbookWorkers is how many calls the Clientbook connector makes at once.
const ClientbookWorkers = clientbook.DefaultWorkers

// ConnName is the name a role's NATS connection goes by (both gateways
// use one name: ServerOf finds one of them).
func ConnName(role string) string {
	switch role {
	case GatewayPodium, GatewayClientbook:
		return "edgesync-webhooks"
	}
	return "edgesync-" + role
}

// Roles are the pipeline's roles, the ones a fault suite kills.
var Roles = []string{Capture, ConnectorPodium, ConnectorClientbok, GatewayPodium, GatewayClientbook, Writer}

// Fleet is a running deployment.
type Fleet struct {
	t         testing.TB
	dir       string
	bin       string
	NATS      []*Proc
	natsURLs  []string
	monitors  []string // each server's monitoring address
	procs     map[string]*Proc
	passwords map[string]string
	urls      map[string]string // sims and gateways by role
	profiles  map[string]string // with Options.Pprof: where each process serves its profiles, by name

	// RolesStarted is when the first role of the pipeline started: the
	// simulator and the emulators were ready, and nothing was captured yet.
	RolesStarted time.Time

	Edge       *edgesim.Remote
	Podium     emulator.Admin
	Clientbook emulator.Admin

	adminOnce sync.Once
	nc        *nats.Conn
	js        jetstream.JetStream
	reader    *status.Reader
}

var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary builds the edgesync binary once per test binary.
func Binary(t testing.TB) string {
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "edgesync-fleet")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "edgesync")
		out, err := exec.Command("go", "build", "-o", binary.path, "github.com/edgesync/edgesync/cmd/edgesync").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("build edgesync: %v: %s", err, out)
		}
	})
	require.NoError(t, binary.err)
	return binary.path
}

// Demo constants the sims and the roles agree on.
const (
	cbKey         = "fleet-clientbook-key"
	webhookSecret = "fleet-webhook-secret"
	dataFeed      = "5e0c7d2a-1b3f-4e8a-b6c9-7f2e1d0c0001"
)

func locations(stores int) (connector, writer string) {
	var c, w []string
	for s := 1; s <= stores; s++ {
		uid := fmt.Sprintf("8b1f0a3e-6f2d-4c1e-9a57-0d3c2b1a%04d", s)
		c = append(c, fmt.Sprintf("%03d=%s", s, uid))
		w = append(w, fmt.Sprintf("%s=%03d", uid, s))
	}
	return strings.Join(c, ";"), strings.Join(w, ";")
}

func cbStores(stores int) string {
	var c []string
	for s := 1; s <= stores; s++ {
		c = append(c, fmt.Sprintf("%03d=st_%03d", s, s))
	}
	return strings.Join(c, ";")
}

// Start runs a whole deployment and returns once every role is ready. It
// stops when the test ends, and prints every process's last lines when the
// test failed.
func Start(t testing.TB, o Options) *Fleet {
	t.Helper()
	o.Servers = max(o.Servers, 1)
	o.Stores = max(o.Stores, 2)
	if o.CustomersPerStore == 0 {
		o.CustomersPerStore = 300
	}
	if o.SalesPerCustomer == 0 {
		o.SalesPerCustomer = 1.5
	}
	if o.ItemsPerStore == 0 {
		o.ItemsPerStore = 200
	}
	if o.Poll == 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.AckWait == 0 {
		o.AckWait = 5 * time.Second
	}
	f := &Fleet{t: t, dir: t.TempDir(), bin: Binary(t), procs: map[string]*Proc{}, passwords: map[string]string{}, urls: map[string]string{},
		profiles: map[string]string{}}
	t.Cleanup(f.stopAll)
	f.startNATS(t, o.Servers, o.Pprof, o.SyncInterval)

	port := func() string { return fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t)) }
	sims := []struct {
		name string
		args []string
	}{
		{SimEdge, []string{"sim", "edge", "--stores", fmt.Sprint(o.Stores), "--customers-per-store", fmt.Sprint(o.CustomersPerStore),
			"--sales-per-customer", fmt.Sprint(o.SalesPerCustomer), "--items-per-store", fmt.Sprint(o.ItemsPerStore),
			"--seed", fmt.Sprint(max(o.Seed, 1))}},
		{SimPodium, []string{"sim", "podium", "--rate", "0", "--data-feed", dataFeed, "--location", must(locations(o.Stores))}},
		{SimClientbook, []string{"sim", "clientbook", "--rate", "0", "--api-key", cbKey}},
	}
	for _, s := range sims {
		if o.NoPersist && s.name != SimEdge {
			s.args = append(s.args, "--no-persist")
		}
		if o.LiveEvery > 0 {
			every := o.LiveEvery
			if s.name != SimEdge {
				every *= 10
			}
			s.args = append(s.args, "--every", every.String())
		}
		if o.Pprof {
			f.profiles[s.name] = port()
			s.args = append(s.args, "--metrics-addr", f.profiles[s.name], "--pprof")
		}
		addr := port()
		f.urls[s.name] = "http://" + addr
		p := f.proc(s.name, append(s.args, "--dir", filepath.Join(f.dir, s.name), "--addr", addr), nil, f.urls[s.name]+"/healthz")
		require.NoError(t, p.Start())
	}
	f.Edge = edgesim.Dial(f.urls[SimEdge])
	f.Podium = emulator.Admin{Base: f.urls[SimPodium]}
	f.Clientbook = emulator.Admin{Base: f.urls[SimClientbook]}

	out, err := f.run("admin", "streams", "init", "--replicas", fmt.Sprint(map[bool]int{true: 3, false: 1}[o.Servers == 3]), "--wait", "60s")
	require.NoError(t, err, "streams init: %s", out)

	connLoc, writerLoc := locations(o.Stores)
	gwPodium, gwCB := port(), port()
	f.urls[GatewayPodium], f.urls[GatewayClientbook] = "http://"+gwPodium, "http://"+gwCB
	roles := []struct {
		name, user string
		args       []string
	}{
		{GatewayPodium, "gateway-podium", []string{"webhooks", "--addr", gwPodium, "--podium-webhook-secret", webhookSecret,
			"--spool", filepath.Join(f.dir, GatewayPodium, "spool")}},
		{GatewayClientbook, "gateway-clientbook", []string{"webhooks", "--addr", gwCB, "--clientbook-webhook-secret", webhookSecret,
			"--spool", filepath.Join(f.dir, GatewayClientbook, "spool")}},
		{Capture, "capture", []string{"capture", "--site", "fleet", "--edge-simulator", f.urls[SimEdge], "--poll", o.Poll.String()}},
		{ConnectorPodium, "connector-podium", []string{"connector", "podium", "--podium-base-url", f.urls[SimPodium],
			"--podium-token-url", f.urls[SimPodium] + "/oauth/token", "--podium-client-id", demo.PodiumClientID,
			"--podium-client-secret", demo.PodiumClientSecret, "--podium-refresh-token", demo.PodiumRefreshToken,
			"--podium-location", connLoc, "--podium-rate=-1", "--podium-tier", "clienteling-plus", "--podium-data-feed", dataFeed,
			"--podium-webhook-url", f.urls[GatewayPodium] + "/webhooks/podium", "--podium-webhook-secret", webhookSecret}},
		{ConnectorClientbok, "connector-clientbook", []string{"connector", "clientbook", "--clientbook-url", f.urls[SimClientbook],
			"--clientbook-api-key", cbKey, "--clientbook-store", cbStores(o.Stores), "--clientbook-rate=-1", "--clientbook-workers", fmt.Sprint(ClientbookWorkers),
			"--clientbook-preference", "Key1=Ring Size;Key2=Metal", "--clientbook-associate", "1=us_1;2=us_2;3=us_3", "--clientbook-sms",
			"--clientbook-webhook-url", f.urls[GatewayClientbook] + "/webhooks/clientbook", "--clientbook-webhook-secret", webhookSecret}},
		{Writer, "writer", []string{"writer", "--edge-simulator", f.urls[SimEdge], "--podium-store", writerLoc,
			"--clientbook-store", cbStores(o.Stores), "--clientbook-preference", "Key1=Ring Size;Key2=Metal"}},
	}
	f.RolesStarted = time.Now()
	for _, r := range roles {
		metrics := port()
		if r.name == ConnectorPodium || r.name == ConnectorClientbok || r.name == Writer {
			r.args = append(r.args, "--ack-wait", o.AckWait.String())
		}
		if o.Pprof {
			f.profiles[r.name] = metrics
			r.args = append(r.args, "--pprof")
		}
		args := append(r.args, "--metrics-addr", metrics, "--nats-url", strings.Join(f.natsURLs, ","), "--nats-user", r.user)
		p := f.proc(r.name, args, []string{"EDGESYNC_NATS_PASSWORD=" + f.passwords[r.user]}, "http://"+metrics+"/readyz")
		if !slices.Contains(o.Deferred, r.name) {
			require.NoError(t, p.Start())
		}
	}
	return f
}

func must(s, _ string) string { return s }

func (f *Fleet) proc(name string, args, env []string, readyURL string) *Proc {
	p := &Proc{Name: name, bin: f.bin, args: args, env: env}
	if readyURL != "" {
		p.ready = func() error { return probe(readyURL) }
	}
	f.procs[name] = p
	return p
}

func probe(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// run runs a one-shot command as user and returns its output.
func (f *Fleet) run(user string, args ...string) (string, error) {
	cmd := exec.Command(f.bin, append(args, "--nats-url", strings.Join(f.natsURLs, ","), "--nats-user", user)...)
	cmd.Env = append(os.Environ(), "EDGESYNC_NATS_PASSWORD="+f.passwords[user])
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Procs are every process but the NATS servers, by name.
func (f *Fleet) Procs() map[string]*Proc { return f.procs }

// Proc returns a role's or a sim's process.
func (f *Fleet) Proc(name string) *Proc { return f.procs[name] }

// startNATS runs n nats-server processes with deploy/nats-server.conf as
// shipped (its users, fsync always unless sync says otherwise), clustered
// when n is 3.
func (f *Fleet) startNATS(t testing.TB, n int, pprof bool, sync string) {
	_, file, _, _ := runtime.Caller(0)
	body, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "deploy", "nats-server.conf"))
	require.NoError(t, err)
	var env []string
	for _, u := range []string{"admin", "capture", "connector-podium", "connector-clientbook", "gateway-podium", "gateway-clientbook", "writer"} {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		f.passwords[u] = hex.EncodeToString(b)
		env = append(env, "EDGESYNC_NATS_"+strings.ToUpper(strings.ReplaceAll(u, "-", "_"))+"_PASSWORD="+f.passwords[u])
	}
	ports, routes, monitors := make([]int, n), make([]int, n), make([]int, n)
	var routeURLs []string
	for i := range n {
		ports[i], routes[i], monitors[i] = natstest.FreePort(t), natstest.FreePort(t), natstest.FreePort(t)
		routeURLs = append(routeURLs, fmt.Sprintf("nats-route://127.0.0.1:%d", routes[i]))
	}
	bin := natstest.ServerBinary(t)
	for i := range n {
		conf := string(body)
		for old, repl := range map[string]string{
			"port: 4222":                 "listen: 127.0.0.1:" + fmt.Sprint(ports[i]),
			"http_port: 8222":            fmt.Sprintf("http: 127.0.0.1:%d", monitors[i]),
			"server_name: edgesync-nats": fmt.Sprintf("server_name: n%d", i+1),
			"store_dir: /data":           fmt.Sprintf("store_dir: %q", filepath.Join(f.dir, fmt.Sprintf("nats-%d", i+1))),
			"sync_interval: always":      "sync_interval: " + cmp.Or(sync, "always"),
		} {
			require.Contains(t, conf, old, "deploy/nats-server.conf changed shape")
			conf = strings.Replace(conf, old, repl, 1)
		}
		if n > 1 {
			conf += fmt.Sprintf("\ncluster {\n  name: edgesync\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n", routes[i], strings.Join(routeURLs, ", "))
		}
		if pprof {
			prof := natstest.FreePort(t)
			conf += fmt.Sprintf("\nprof_port: %d\n", prof)
			f.profiles[fmt.Sprintf("nats-%d", i+1)] = fmt.Sprintf("127.0.0.1:%d", prof)
		}
		path := filepath.Join(f.dir, fmt.Sprintf("nats-%d.conf", i+1))
		require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
		addr := fmt.Sprintf("127.0.0.1:%d", ports[i])
		p := &Proc{Name: fmt.Sprintf("nats-%d", i+1), bin: bin, args: []string{"-c", path}, env: env, ready: func() error { return dial(addr) }}
		require.NoError(t, p.Start())
		f.NATS = append(f.NATS, p)
		f.natsURLs = append(f.natsURLs, "nats://"+addr)
		f.monitors = append(f.monitors, fmt.Sprintf("http://127.0.0.1:%d", monitors[i]))
	}
}

// ServerOf returns the index in NATS of the server the named client
// connection (edgesync-capture, edgesync-connector-podium, ...) is on,
// read from each server's /connz; -1 when none has it.
func (f *Fleet) ServerOf(conn string) int {
	for i, m := range f.monitors {
		resp, err := http.Get(m + "/connz?limit=1024")
		if err != nil {
			continue
		}
		var cz struct {
			Connections []struct {
				Name string `json:"name"`
			} `json:"connections"`
		}
		err = json.NewDecoder(resp.Body).Decode(&cz)
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, c := range cz.Connections {
			if c.Name == conn {
				return i
			}
		}
	}
	return -1
}

// keepLogs writes every process's whole log into $EDGESYNC_FLEET_LOGS, when
// set: a failed run's tails are rarely enough to find why.
func (f *Fleet) keepLogs() {
	dir := os.Getenv("EDGESYNC_FLEET_LOGS")
	if dir == "" {
		return
	}
	procs := slices.Collect(maps.Values(f.procs))
	procs = append(procs, f.NATS...)
	for _, p := range procs {
		path := filepath.Join(dir, p.Name+".log")
		if err := os.WriteFile(path, []byte(p.Logs()), 0o644); err != nil {
			f.t.Logf("keep logs: %v", err)
			continue
		}
		f.t.Logf("whole log of %s: %s", p.Name, path)
	}
}

// stopAll stops every process, the pipeline's roles first.
func (f *Fleet) stopAll() {
	if f.t.Failed() {
		for name, p := range f.procs {
			f.t.Logf("----- %s, last lines:\n%s", name, p.Tail(25))
		}
		for _, p := range f.NATS {
			f.t.Logf("----- %s, last lines:\n%s", p.Name, p.Tail(15))
		}
		f.keepLogs()
	}
	if f.nc != nil {
		f.nc.Close()
	}
	for _, name := range Roles {
		if p := f.procs[name]; p != nil {
			p.Stop()
		}
	}
	for _, p := range f.procs {
		p.Stop()
	}
	for _, p := range f.NATS {
		p.Stop()
	}
}

// JetStream is an admin connection to the fleet's NATS.
func (f *Fleet) JetStream() jetstream.JetStream {
	f.adminOnce.Do(func() {
		nc, err := nats.Connect(strings.Join(f.natsURLs, ","), nats.UserInfo("admin", f.passwords["admin"]),
			nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		require.NoError(f.t, err)
		f.nc = nc
		f.js, err = jetstream.New(nc)
		require.NoError(f.t, err)
		f.reader = status.NewReader(f.js)
	})
	return f.js
}

// Changes asks the simulator for n Edge changes and each emulator for
// app edits, as store associates working in both partners' apps.
func (f *Fleet) Changes(ctx context.Context, edge, podiumEdits, clientbookEdits int) error {
	for _, c := range []struct {
		url string
		n   int
	}{{f.urls[SimEdge], edge}, {f.urls[SimPodium], podiumEdits}, {f.urls[SimClientbook], clientbookEdits}} {
		if c.n == 0 {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/_sim/changes", strings.NewReader(fmt.Sprintf(`{"changes":%d}`, c.n)))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("changes at %s: %w", c.url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("changes at %s: %s", c.url, resp.Status)
		}
	}
	return nil
}

// Waiting returns what the pipeline has not caught up with yet, or "":
// capture behind the simulator, a consumer with a backlog, a webhook not
// delivered, or a partner not holding what Edge holds.
func (f *Fleet) Waiting(ctx context.Context) (string, demo.Check) {
	f.JetStream()
	cur, err := f.Edge.CurrentVersion(ctx)
	if err != nil {
		return "edge simulator: " + err.Error(), demo.Check{}
	}
	for _, a := range []emulator.Admin{f.Podium, f.Clientbook} {
		c, err := a.Counters(ctx)
		if err != nil {
			return err.Error(), demo.Check{}
		}
		if n := c["webhooks.pending"]; n > 0 {
			stuck, _ := a.StuckWebhooks(ctx)
			return fmt.Sprintf("%s: %d webhook deliveries pending: %s", a.Base, n, strings.Join(stuck, "; ")), demo.Check{}
		}
	}
	snap := f.reader.Read(ctx)
	if len(snap.Unread) > 0 {
		return "status: " + strings.Join(snap.Unread, "; "), demo.Check{}
	}
	seen := 0
	for _, cp := range snap.Checkpoints {
		if cp.Site != "fleet" {
			continue
		}
		seen++
		if cp.Version < cur {
			return fmt.Sprintf("capture %s at %d, Edge at %d", cp.Entity, cp.Version, cur), demo.Check{}
		}
	}
	if seen == 0 {
		return "no capture checkpoint yet", demo.Check{}
	}
	for _, c := range snap.Consumers {
		if c.Backlog > 0 {
			return fmt.Sprintf("consumer %s: backlog %d", c.Name, c.Backlog), demo.Check{}
		}
	}
	chk, err := demo.CheckSims(ctx, demo.Endpoints{Edge: f.urls[SimEdge], Podium: f.urls[SimPodium], Clientbook: f.urls[SimClientbook]})
	if err != nil {
		return err.Error(), chk
	}
	if !chk.InSync() {
		return "not in sync: " + chk.String(), chk
	}
	return "", chk
}

// WaitCaughtUp waits until nothing is Waiting and returns the check, or
// fails the test after timeout with what it still waited for.
func (f *Fleet) WaitCaughtUp(ctx context.Context, timeout time.Duration) (demo.Check, time.Duration) {
	f.t.Helper()
	start := time.Now()
	var last string
	said := start
	for time.Since(start) < timeout {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		w, chk := f.Waiting(cctx)
		cancel()
		if w == "" {
			return chk, time.Since(start)
		}
		if time.Since(said) >= 5*time.Second {
			// A slow recovery says what it waits for, not only how long.
			f.t.Logf("waiting %s: %s", time.Since(start).Round(time.Second), w)
			said = time.Now()
		}
		last = w
		time.Sleep(200 * time.Millisecond)
	}
	f.t.Fatalf("not caught up after %s: %s", timeout, last)
	return demo.Check{}, 0
}

// Status reads the pipeline as the status page does.
func (f *Fleet) Status(ctx context.Context) status.Snapshot {
	f.JetStream()
	return f.reader.Read(ctx)
}

// DeadLetters counts the DLQ.
func (f *Fleet) DeadLetters(ctx context.Context) int {
	f.JetStream()
	n := 0
	for _, g := range f.reader.Read(ctx).DeadLetters {
		n += g.Count
	}
	return n
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}
