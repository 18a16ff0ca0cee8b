// Package demo runs every edgesync role in one process: an embedded
// JetStream, the Edge simulator with live changes, capture, the Podium and
// Clientbook emulators with their connectors, the webhook gateway and the
// Edge writer, while simulated people work in both partner apps. It is `edgesync demo`, and the
// end-to-end tests drive it the same way.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/internal/durable"
	"github.com/edgesync/edgesync/internal/status"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/writer"
)

// Config configures a demo run.
type Config struct {
	Dir          string        // data directory: JetStream store, simulator and emulator state
	Duration     time.Duration // 0: until ctx ends
	ChurnEvery   time.Duration // one live Edge change per interval; 0: none
	PollInterval time.Duration // capture poll interval
	PodiumRate   int           // emulator and client limit per minute; real Podium: 300
	CBRate       int           // Clientbook emulator and client limit per minute; documented: 120
	NATSPort     int           // 0: a random port
	LazySync     bool          // embedded JetStream without fsync per write (faster, can lose acknowledged writes on power loss)
	Spec         edgesim.Spec  // store chain generated on the first run
	StatusEvery  time.Duration // live status line interval; 0: none
	DrainTimeout time.Duration // how long to wait for the pipeline to catch up at the end
	Out          io.Writer     // status lines and the summary
	Log          *slog.Logger
	Metrics      prometheus.Registerer // when set, receives the roles' metrics
	StatusAddr   string                // when set, serve the status page there
}

// DefaultConfig is what `edgesync demo` runs.
func DefaultConfig() Config {
	return Config{
		Dir:          "edgesync-demo",
		ChurnEvery:   100 * time.Millisecond,
		PollInterval: 500 * time.Millisecond,
		PodiumRate:   6000,
		CBRate:       20000,
		Spec:         edgesim.DemoSpec(),
		StatusEvery:  2 * time.Second,
		DrainTimeout: 60 * time.Second,
		Out:          os.Stdout,
	}
}

// Summary is the demo's result.
type Summary struct {
	SyncedCustomers int            // customers set to synchronize in the simulator
	PodiumContacts  int            // contacts the Podium emulator holds
	PodiumFeed      map[string]int // data-feed events Podium received, by type
	ReviewInvites   int
	Texts           int
	PodiumEdits     int   // changes a simulated Podium user made in Podium
	WrittenToEdge   int64 // partner events the Edge writer applied
	Published       map[schemas.Entity]int64
	Duplicates      int64
	Snapshots       int64
	Changes         int // live changes made during the run
	DeadLetters     uint64
	EdgeMessages    uint64
	Pending         uint64 // podium consumer backlog at the end
	EdgeCustomers   int    // every customer: Clientbook gets them all
	Clientbook      clientbookemu.Totals
	CBEdits         int    // changes a simulated Clientbook user made in Clientbook
	CBPending       uint64 // clientbook consumer backlog at the end
	Elapsed         time.Duration
	Generated       bool     // the simulator was generated, not loaded
	PodiumEffects   Effects  // Podium's contacts checked one by one against Edge
	CBEffects       Effects  // Clientbook's clients checked one by one against Edge
	Unread          []string // figures the summary could not read, with why
	Stuck           string   // what the end-of-run drain was still waiting for when it gave up
}

// InSync reports whether every check holds: Podium holds exactly the
// customers set to synchronize and Clientbook all of them, each once, with
// nothing pending, nothing dead-lettered and every figure actually read.
func (s Summary) InSync() bool {
	return len(s.Unread) == 0 && s.Stuck == "" && s.SyncedCustomers == s.PodiumContacts && s.Pending == 0 &&
		s.EdgeCustomers == s.Clientbook.Clients && s.CBPending == 0 && s.DeadLetters == 0 &&
		s.PodiumEffects.Clean() && s.CBEffects.Clean()
}

// checkpointJournal is how large the simulator's journal grows before it
// is folded into the snapshot: small enough that a restart replays it in
// moments, large enough that a big chain is not rewritten every few seconds.
const checkpointJournal = 16 << 20

const (
	simFile     = "edge-simulator.json"
	podiumFile  = "podium-emulator.json"
	cbFile      = "clientbook-emulator.json"
	gatewayFile = "gateway-url"
	cbAPIKey    = "demo-clientbook-key"
	cbStore     = "st_" // + Edge store
)

// The demo's Podium OAuth client, which the emulator registers (edgesync sim
// podium too). The secrets are fixed so a restarted emulator accepts the
// refresh token the connector holds; they protect nothing.
const (
	PodiumClientID     = "edgesync-demo"
	PodiumClientSecret = "demo-secret"
	PodiumRefreshToken = "demo-refresh-token"
)

// Run runs the demo until cfg.Duration passes or ctx ends, then lets the
// pipeline drain and returns the summary.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	start := time.Now()
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return Summary{}, fmt.Errorf("demo: data directory: %w", err)
	}

	nats, err := broker.StartEmbedded(broker.EmbeddedConfig{Dir: filepath.Join(cfg.Dir, "jetstream"), Port: cfg.NATSPort, LazySync: cfg.LazySync})
	if err != nil {
		return Summary{}, err
	}
	defer nats.Shutdown()
	nc, err := nats.Connect("edgesync-demo")
	if err != nil {
		return Summary{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	if err := streams.Provision(ctx, js, streams.DefaultConfig()); err != nil {
		return Summary{}, err
	}

	if cfg.StatusAddr != "" {
		l, err := net.Listen("tcp", cfg.StatusAddr)
		if err != nil {
			return Summary{}, fmt.Errorf("demo: status page: %w", err)
		}
		reader := status.NewReader(js)
		watchCtx, stopWatching := context.WithCancel(ctx)
		defer stopWatching()
		go reader.Watch(watchCtx, 2*time.Second)
		page := &http.Server{Handler: status.Handler(reader, 2*time.Second, log), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = page.Serve(l) }()
		defer page.Close()
		fmt.Fprintf(out, "edgesync demo: status page at http://%s/\n", l.Addr())
	}

	db, generated, err := edgesim.Open(filepath.Join(cfg.Dir, simFile), cfg.Spec)
	if err != nil {
		return Summary{}, err
	}
	defer db.Close()
	emu, err := startPodium(cfg)
	if err != nil {
		return Summary{}, err
	}
	defer emu.Close()
	cbEmu, err := startClientbook(cfg)
	if err != nil {
		return Summary{}, err
	}
	defer cbEmu.Close()
	fmt.Fprintf(out, "edgesync demo: JetStream at %s, Podium emulator at %s (%d requests/min; real Podium allows 300), Clientbook emulator at %s\n",
		nats.URL(), emu.URL(), cfg.PodiumRate, cbEmu.URL())
	fmt.Fprintf(out, "Edge simulator: %d customers (%d set to synchronize), %d sales, %d service jobs, %d items%s\n",
		count(db, schemas.EntityCustomer), db.SyncedCustomers(), count(db, schemas.EntitySale), count(db, schemas.EntityService),
		count(db, schemas.EntityItem), map[bool]string{true: " (generated)", false: " (loaded from " + cfg.Dir + ")"}[generated])

	capCfg := capture.Config{Site: "demo", PollInterval: cfg.PollInterval}
	var consumerMetrics *streams.ConsumerMetrics
	var callMetrics *partnerapi.CallMetrics
	if cfg.Metrics != nil {
		capCfg.Metrics = capture.NewMetrics(cfg.Metrics)
		consumerMetrics = streams.NewConsumerMetrics(cfg.Metrics)
		callMetrics = partnerapi.NewCallMetrics()
		cfg.Metrics.MustRegister(callMetrics)
	}
	cpt, err := capture.New(ctx, db, js, capCfg, log)
	if err != nil {
		return Summary{}, err
	}
	// Inbound: the partners' webhooks reach the gateway, the writer merges them into Edge.
	const webhookSecret = "demo-webhook-secret"
	v := webhooks.PodiumVerifier(webhookSecret, 5*time.Minute)
	cbv := webhooks.ClientbookVerifier(webhookSecret, 5*time.Minute)
	gw, err := webhooks.New(js, webhooks.Config{Podium: &v, Clientbook: &cbv, Metrics: cfg.Metrics}, log)
	if err != nil {
		return Summary{}, err
	}
	gwSrv, err := serveGateway(cfg.Dir, gw.Handler(), emu.Webhooks(), cbEmu.Webhooks())
	if err != nil {
		return Summary{}, err
	}
	defer gwSrv.Close()
	conn, podiumMerge, locations, err := podiumRoles(ctx, cfg, js, emu, gwSrv.URL+"/webhooks/podium", webhookSecret, consumerMetrics, callMetrics, log)
	if err != nil {
		return Summary{}, err
	}
	cbConn, cbWriter, err := clientbookRoles(ctx, cfg, js, cbEmu, gwSrv.URL+"/webhooks/clientbook", webhookSecret, consumerMetrics, callMetrics, log)
	if err != nil {
		return Summary{}, err
	}
	wr, err := writer.New(ctx, js, db, writer.Config{Podium: podiumMerge, PodiumAcquisitionLabel: "Acquisition",
		Clientbook: cbWriter, Metrics: consumerMetrics}, log)
	if err != nil {
		return Summary{}, err
	}

	runCtx, stopRoles := context.WithCancel(ctx)
	defer stopRoles()
	roles := []interface{ Run(context.Context) error }{cpt, conn, cbConn, wr}
	stopped := make(chan error, len(roles))
	for _, r := range roles {
		go func() { stopped <- r.Run(runCtx) }()
	}
	gwReported := make(chan struct{})
	go func() { gw.RunReports(runCtx, 0); close(gwReported) }()
	defer func() { stopRoles(); <-gwReported }()

	liveCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		liveCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	changes, podiumEdits, cbEdits := live(liveCtx, cfg, db, cpt, emu, cbEmu, js, out, log, locations)

	// Let everything that happened reach Podium, unless the user interrupted.
	drainCtx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), cfg.DrainTimeout)
	defer cancelDrain()
	var stuck string
	if ctx.Err() == nil {
		fmt.Fprintf(out, "%s  live changes stopped; waiting up to %s for every partner to catch up\n", time.Now().Format("15:04:05"), cfg.DrainTimeout)
		for range 2 { // outbound, inbound, then outbound again
			stuck = drain(drainCtx, out, db, cpt, js, emu, cbEmu)
		}
	}
	stopRoles()
	for range roles {
		if err := <-stopped; err != nil {
			log.Error("role stopped with an error", "err", err)
		}
	}
	if err := db.Save(filepath.Join(cfg.Dir, simFile)); err != nil {
		return Summary{}, err
	}
	if err := saveState(cfg, podiumFile, emu.MarshalState); err != nil {
		return Summary{}, err
	}
	if err := saveState(cfg, cbFile, cbEmu.MarshalState); err != nil {
		return Summary{}, err
	}

	st := cpt.Stats()
	sum := Summary{
		SyncedCustomers: db.SyncedCustomers(), PodiumContacts: emu.ContactCount(), Published: st.Published,
		Duplicates: st.Duplicates, Snapshots: st.Snapshots, Changes: changes, Generated: generated,
		Elapsed: time.Since(start), PodiumFeed: map[string]int{}, ReviewInvites: len(emu.ReviewInvites()), Texts: len(emu.Messages()),
		PodiumEdits: podiumEdits, WrittenToEdge: wr.Stats().Applied,
		EdgeCustomers: int(count(db, schemas.EntityCustomer)), Clientbook: cbEmu.Totals(), CBEdits: cbEdits,
	}
	for _, fe := range emu.FeedEvents("") {
		sum.PodiumFeed[fe.Type]++
	}
	sum.PodiumEffects, sum.CBEffects = PodiumEffects(db, emu), ClientbookEffects(db, cbEmu)
	sum.Stuck = stuck
	// The drain may have used up its time: the figures get their own.
	readCtx, cancelRead := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelRead()
	unread := func(what string, err error) { sum.Unread = append(sum.Unread, what+": "+err.Error()) }
	if sum.Pending, err = streams.Pending(readCtx, js, streams.StreamEdge, podium.Durable); err != nil {
		unread("podium pending", err)
	}
	if sum.CBPending, err = streams.Pending(readCtx, js, streams.StreamEdge, clientbook.Durable); err != nil {
		unread("clientbook pending", err)
	}
	if sts, err := streams.Status(readCtx, js); err != nil {
		unread("stream status", err)
	} else {
		found := map[string]bool{}
		for _, s := range sts {
			found[s.Name] = true
			switch s.Name {
			case streams.StreamEdge:
				sum.EdgeMessages = s.Messages
			case streams.StreamDLQ:
				sum.DeadLetters = s.Messages
			}
		}
		for _, name := range []string{streams.StreamEdge, streams.StreamDLQ} {
			if !found[name] {
				unread("stream "+name, errors.New("not found"))
			}
		}
	}
	WriteSummary(out, sum)
	return sum, nil
}

func count(db *edgesim.DB, e schemas.Entity) int64 {
	n, _ := db.Count(context.Background(), e)
	return n
}

// readEmulatorState reads what an earlier run saved of an emulator in dir's file,
// if anything, into it; what must be there is the directory.
func readEmulatorState(dir, file, what string, unmarshal func([]byte) error) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("%s: data directory: %w", what, err)
	}
	body, err := os.ReadFile(filepath.Join(dir, file))
	switch {
	case err == nil:
		return unmarshal(body)
	case errors.Is(err, os.ErrNotExist):
		return nil
	}
	return fmt.Errorf("%s state: %w", what, err)
}

func saveState(cfg Config, file string, marshal func() ([]byte, error)) error {
	body, err := marshal()
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(cfg.Dir, file), body); err != nil {
		return fmt.Errorf("demo: save %s: %w", file, err)
	}
	return nil
}

// serveGateway serves the webhook gateway at the address it had in the
// last run, as a store's public webhook address stays the same across
// restarts. When that port is taken, it serves on a new one and moves the
// partners' webhooks there, as a DNS change would.
func serveGateway(dir string, h http.Handler, hooks ...*emulator.Webhooks) (*httptest.Server, error) {
	addrFile := filepath.Join(dir, gatewayFile)
	prev, _ := os.ReadFile(addrFile)
	srv := httptest.NewUnstartedServer(h)
	if len(prev) > 0 {
		if l, err := net.Listen("tcp", strings.TrimPrefix(string(prev), "http://")); err == nil {
			srv.Listener.Close()
			srv.Listener = l
		}
	}
	srv.Start()
	if len(prev) > 0 && string(prev) != srv.URL {
		for _, suffix := range []string{"/webhooks/podium", "/webhooks/clientbook"} {
			for _, w := range hooks {
				w.MoveURL(string(prev)+suffix, srv.URL+suffix)
			}
		}
	}
	if err := durable.WriteFile(addrFile, []byte(srv.URL)); err != nil {
		srv.Close()
		return nil, fmt.Errorf("demo: save gateway address: %w", err)
	}
	return srv, nil
}

// live makes changes in Edge and prints status until ctx ends. Every
// commit is in the simulator's journal before it returns; the journal is
// folded into the snapshot once it has grown, as a database checkpoints its log.
func live(ctx context.Context, cfg Config, db *edgesim.DB, cpt *capture.Capture, emu *podiumemu.Emulator, cbEmu *clientbookemu.Emulator,
	js jetstream.JetStream, out io.Writer, log *slog.Logger, locations map[string]string) (int, int, int) {
	var churnC <-chan time.Time
	if cfg.ChurnEvery > 0 {
		t := time.NewTicker(cfg.ChurnEvery)
		defer t.Stop()
		churnC = t.C
	}
	var statusC <-chan time.Time
	if cfg.StatusEvery > 0 {
		t := time.NewTicker(cfg.StatusEvery)
		defer t.Stop()
		statusC = t.C
	}
	save := time.NewTicker(3 * time.Second)
	defer save.Stop()
	churn := edgesim.NewChurn(db, uint64(time.Now().UnixNano()))
	changes, edits, cbEdits := 0, 0, 0
	for {
		select {
		case <-ctx.Done():
			return changes, edits, cbEdits
		case <-churnC:
			if _, err := churn.Step(); err != nil {
				log.Error("simulated change failed", "err", err)
				continue
			}
			changes++
			// Now and then a store associate works in Podium's app instead.
			if changes%10 == 0 && podiumUser(emu, changes, locations) {
				edits++
			}
			// And another one in Clientbook's.
			if changes%10 == 5 && clientbookUser(cbEmu, changes) {
				cbEdits++
			}
		case <-save.C:
			if err := db.Checkpoint(checkpointJournal); err != nil {
				log.Error("save simulator", "err", err)
			}
		case <-statusC:
			st := cpt.Stats()
			fmt.Fprintf(out, "%s  events %s  | podium pending %s, contacts %d/%d, app edits %d | clientbook pending %s, clients %d/%d, app edits %d\n",
				time.Now().Format("15:04:05"), formatCounts(st.Published), pendingOf(ctx, js, podium.Durable), emu.ContactCount(), db.SyncedCustomers(), edits,
				pendingOf(ctx, js, clientbook.Durable), cbEmu.Totals().Clients, count(db, schemas.EntityCustomer), cbEdits)
		}
	}
}

// pendingOf is a consumer's backlog for the live line, or "?" when it
// could not be read: a figure that could not be read is never shown as 0.
func pendingOf(ctx context.Context, js jetstream.JetStream, durable string) string {
	n, err := streams.Pending(ctx, js, streams.StreamEdge, durable)
	if err != nil {
		return "?"
	}
	return strconv.FormatUint(n, 10)
}

// drainSayEvery is how often a drain says what it waits for.
const drainSayEvery = 5 * time.Second

// drain waits until capture has reached the database's current version,
// both partners have delivered their webhooks and no consumer has anything
// pending. It returns what it was still waiting for when ctx ended, or "".
// Every few seconds it says on out what it still waits for: a drain is
// never silent.
func drain(ctx context.Context, out io.Writer, db *edgesim.DB, cpt *capture.Capture, js jetstream.JetStream, emu *podiumemu.Emulator, cbEmu *clientbookemu.Emulator) string {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	said := time.Now()
	for {
		waiting := drained(ctx, db, cpt, js, emu, cbEmu)
		if waiting == "" {
			return ""
		}
		if time.Since(said) >= drainSayEvery {
			said = time.Now()
			fmt.Fprintf(out, "%s  still catching up: %s\n", said.Format("15:04:05"), waiting)
		}
		select {
		case <-ctx.Done():
			return waiting
		case <-t.C:
		}
	}
}

// drained returns what is not caught up yet, or "".
func drained(ctx context.Context, db *edgesim.DB, cpt *capture.Capture, js jetstream.JetStream, emu *podiumemu.Emulator, cbEmu *clientbookemu.Emulator) string {
	for _, c := range []struct{ stream, consumer string }{
		{streams.StreamEdge, podium.Durable}, {streams.StreamPartner, writer.Durable}, {streams.StreamEdge, clientbook.Durable},
	} {
		n, err := streams.Pending(ctx, js, c.stream, c.consumer)
		if err != nil {
			return fmt.Sprintf("consumer %s: %v", c.consumer, err)
		}
		if n > 0 {
			return fmt.Sprintf("consumer %s: %d pending", c.consumer, n)
		}
	}
	if n := emu.Webhooks().Pending(); n > 0 {
		return fmt.Sprintf("Podium: %d webhook events undelivered", n)
	}
	if n := cbEmu.Webhooks().Pending(); n > 0 {
		return fmt.Sprintf("Clientbook: %d webhook events undelivered", n)
	}
	cur, err := db.CurrentVersion(ctx)
	if err != nil {
		return "Edge current version: " + err.Error()
	}
	if !capturedAll(ctx, cpt, cur) {
		return fmt.Sprintf("capture has not reached Edge version %d", cur)
	}
	return ""
}

func capturedAll(ctx context.Context, cpt *capture.Capture, cur int64) bool {
	for _, e := range schemas.Entities {
		cp, ok, err := cpt.LoadCheckpoint(ctx, e)
		if err != nil || !ok || cp.Version < cur {
			return false
		}
	}
	return true
}

func formatCounts(m map[schemas.Entity]int64) string {
	var parts []string
	for _, e := range schemas.Entities {
		if n := m[e]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", e, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// WriteSummary prints the summary.
func WriteSummary(w io.Writer, s Summary) {
	total := int64(0)
	keys := make([]string, 0, len(s.Published))
	for e, n := range s.Published {
		total += n
		keys = append(keys, string(e))
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "\n== edgesync demo summary (%s) ==\n", s.Elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(w, "Edge changes made during the run: %d\n", s.Changes)
	fmt.Fprintf(w, "Events published: %d (%s); duplicates dropped: %d; snapshots taken: %d; EDGE stream holds %d\n",
		total, formatCounts(s.Published), s.Duplicates, s.Snapshots, s.EdgeMessages)
	fmt.Fprintf(w, "Customers set to synchronize in Edge: %d\n", s.SyncedCustomers)
	fmt.Fprintf(w, "Contacts in Podium:                   %d\n", s.PodiumContacts)
	fmt.Fprintf(w, "Podium also holds: %d purchases, %d appointment and %d service job timeline entries, %d products (Clienteling+), %d review invitations, %d texts sent\n",
		s.PodiumFeed[projectors.FeedPurchase], s.PodiumFeed[projectors.FeedAppointment], s.PodiumFeed[projectors.FeedServiceJob],
		s.PodiumFeed[projectors.FeedProduct], s.ReviewInvites, s.Texts)
	fmt.Fprintf(w, "Customers in Edge:                    %d\n", s.EdgeCustomers)
	fmt.Fprintf(w, "Clients in Clientbook:                %d\n", s.Clientbook.Clients)
	fmt.Fprintf(w, "Clientbook also holds: %d purchases, %d products (inventory, wishes, sold items, service jobs), %d recent-activity notes, %d texts sent\n",
		s.Clientbook.Purchases, s.Clientbook.Products, s.Clientbook.Activities, s.Clientbook.Messages)
	fmt.Fprintf(w, "Changes made in Podium's app: %d; in Clientbook's app: %d; partner changes written to Edge: %d (new contact methods, customers, notes, wishes, activity; never overwriting)\n",
		s.PodiumEdits, s.CBEdits, s.WrittenToEdge)
	fmt.Fprintf(w, "Pending: podium %d, clientbook %d; dead letters: %d%s\n", s.Pending, s.CBPending, s.DeadLetters,
		map[bool]string{true: " (see `edgesync dlq list`)"}[s.DeadLetters > 0])
	fmt.Fprintf(w, "Checked record by record against Edge: Podium %s; Clientbook %s\n", s.PodiumEffects, s.CBEffects)
	if s.Stuck != "" {
		fmt.Fprintf(w, "Not caught up at the end: %s\n", s.Stuck)
	}
	for _, u := range s.Unread {
		fmt.Fprintf(w, "Could not read %s\n", u)
	}
	if s.InSync() {
		fmt.Fprintln(w, "RESULT: in sync")
	} else {
		fmt.Fprintln(w, "RESULT: NOT in sync")
	}
}
