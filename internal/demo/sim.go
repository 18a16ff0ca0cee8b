package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/sim/podiumemu"
)

// The simulator and the emulators as roles of their own (edgesync sim
// edge, sim podium, sim clientbook): the same pieces the demo runs in one
// process, each served on an address of its own so capture, the writer and
// the connectors run as separate processes or containers against them.
// Each keeps its state in its data directory, as the demo does, so it can
// be killed and restarted.

// Sim is what every simulated role needs.
type Sim struct {
	Dir      string       // data directory
	Listener net.Listener // where to serve
	Every    time.Duration
	Log      *slog.Logger
	// NoPersist keeps an emulator's state in memory only: each change is
	// no longer written whole to disk before the answer, for benchmarks
	// whose state would make that the bottleneck.
	NoPersist bool
}

func (s Sim) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// ChangeRequest asks a simulated role for n changes now: Edge changes from
// the simulator, app edits from an emulator. The answer is a ChangeResult.
type ChangeRequest struct {
	Changes int `json:"changes"`
}

// ChangeResult says how many changes were made.
type ChangeResult struct {
	Made int `json:"made"`
}

// changesHandler serves POST /_sim/changes with change, which makes one
// change and reports whether it did.
func changesHandler(change func() (bool, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req ChangeRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.Changes < 0 || req.Changes > 100_000 {
			emulator.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"changes\": N}, N from 0 to 100000"})
			return
		}
		var res ChangeResult
		for range req.Changes {
			ok, err := change()
			if err != nil {
				emulator.WriteJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "made": res.Made})
				return
			}
			if ok {
				res.Made++
			}
		}
		emulator.WriteJSON(w, http.StatusOK, res)
	}
}

// every calls fn at each interval until ctx ends; never when d is 0.
func every(ctx context.Context, d time.Duration, fn func()) {
	if d <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// live serves h with POST /_sim/changes beside it and makes a change
// every s.Every. Changes run one at a time, whether the ticker or a
// request asks for them: the generators behind them are not safe for
// concurrent use.
func (s Sim) live(ctx context.Context, what string, h http.Handler, change func() (bool, error)) error {
	var mu sync.Mutex
	one := func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return change()
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("POST /_sim/changes", changesHandler(one))
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go every(ctx, s.Every, func() {
		if _, err := one(); err != nil {
			s.log().Error("simulated change failed", "err", err)
		}
	})
	return s.serve(ctx, what, mux)
}

// serve serves h on s.Listener until ctx ends.
func (s Sim) serve(ctx context.Context, what string, h http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	health.Register(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(s.Listener) }()
	// A log line, in the role's log format (--log-format json too).
	s.log().Info(what+" listening", "addr", s.Listener.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("%s: %w", what, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// EdgeSim configures the served Edge simulator.
type EdgeSim struct {
	Sim
	Spec edgesim.Spec // the chain generated on the first run
	Seed uint64       // of the live changes
}

// RunEdgeSim serves the Edge simulator (edgesim.Server) with
// POST /_sim/changes beside it, and makes a live change every cfg.Every.
func RunEdgeSim(ctx context.Context, cfg EdgeSim) error {
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("edge simulator: data directory: %w", err)
	}
	path := filepath.Join(cfg.Dir, simFile)
	db, generated, err := edgesim.Open(path, cfg.Spec)
	if err != nil {
		return err
	}
	defer db.Close()
	cfg.log().Info("edge simulator ready", "customers", count(db, "customer"), "generated", generated, "dir", cfg.Dir)
	churn := edgesim.NewChurn(db, cfg.Seed)
	step := func() (bool, error) { _, err := churn.Step(); return err == nil, err }
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// The journal is folded into the snapshot once it has grown, as a
	// database checkpoints its log.
	go every(ctx, 3*time.Second, func() {
		if err := db.Checkpoint(checkpointJournal); err != nil {
			cfg.log().Error("save simulator", "err", err)
		}
	})
	err = cfg.live(ctx, "edge simulator", edgesim.NewServer(db, cfg.log()).Handler(), step)
	return errors.Join(err, db.Save(path))
}

// PodiumSim configures the served Podium emulator.
type PodiumSim struct {
	Sim
	Rate      int               // requests per minute per account
	Locations map[string]string // Edge store -> location uid, made as "Store <store>"
	DataFeed  string            // uid of the "edgesync" data feed
}

// RunPodiumSim serves the Podium emulator with its admin routes and
// POST /_sim/changes (app edits), and makes an app edit every cfg.Every.
func RunPodiumSim(ctx context.Context, cfg PodiumSim) error {
	emu, err := openPodium(cfg.Dir, cfg.Rate, cfg.Locations, !cfg.NoPersist)
	if err != nil {
		return err
	}
	defer emu.Close()
	if cfg.DataFeed != "" {
		emu.AddDataFeedUID("edgesync", cfg.DataFeed)
	}
	n := 0
	return runEmulator(ctx, cfg.Sim, "podium emulator", emu.Core, emu.Handler(), emu.MarshalState, emu.Webhooks(), func() bool {
		n++
		return podiumUser(emu, n*10, cfg.Locations)
	})
}

// ClientbookSim configures the served Clientbook emulator.
type ClientbookSim struct {
	Sim
	Rate   int
	APIKey string
}

// RunClientbookSim serves the Clientbook emulator with its admin routes
// and POST /_sim/changes (app edits), and makes an app edit every cfg.Every.
func RunClientbookSim(ctx context.Context, cfg ClientbookSim) error {
	emu, err := openClientbook(cfg.Dir, cfg.Rate, cfg.APIKey, !cfg.NoPersist)
	if err != nil {
		return err
	}
	defer emu.Close()
	n := 0
	return runEmulator(ctx, cfg.Sim, "clientbook emulator", emu.Core, emu.Handler(), emu.MarshalState, emu.Webhooks(), func() bool {
		n++
		return clientbookUser(emu, n*10+5)
	})
}

// runEmulator serves an emulator's API with its admin routes, and lets a
// simulated associate edit in the partner's app (edit) every s.Every or
// on request. The associate starts working only once edgesync subscribed
// to the partner's webhooks: a record made before is one edgesync was
// never told about, as with a real account connected late, and the demo's
// one-to-one check would count it as unmatched.
func runEmulator(ctx context.Context, s Sim, what string, core *emulator.Core, api http.Handler, state func() ([]byte, error),
	hooks *emulator.Webhooks, edit func() bool) error {
	return s.live(ctx, what, core.WithAdmin(api, state, hooks), func() (bool, error) {
		return len(hooks.List()) > 0 && edit(), nil
	})
}

// Endpoints are the served simulator and emulators; an empty partner is
// not checked.
type Endpoints struct {
	Edge, Podium, Clientbook string
}

// Check is what the partners' emulators hold against the Edge simulator,
// read from their own records, as the demo's summary checks it.
type Check struct {
	EdgeCustomers     int      `json:"edge_customers"`
	SyncedCustomers   int      `json:"synced_customers"`
	PodiumContacts    int      `json:"podium_contacts"`
	ClientbookClients int      `json:"clientbook_clients"`
	EdgeDuplicates    int      `json:"edge_duplicate_emails"` // see DuplicateEmails
	Podium            *Effects `json:"podium,omitempty"`
	Clientbook        *Effects `json:"clientbook,omitempty"`
	// ClientbookPurchases are the Edge sales of customers against
	// Clientbook's purchases (ClientbookPurchases).
	ClientbookPurchases *Effects `json:"clientbook_purchases,omitempty"`
}

// InSync reports whether every checked partner holds each customer it
// should, once, and nothing else.
func (c Check) InSync() bool {
	return (c.Podium == nil || c.Podium.Clean() && c.PodiumContacts == c.SyncedCustomers) &&
		(c.Clientbook == nil || c.Clientbook.Clean() && c.ClientbookClients == c.EdgeCustomers) &&
		(c.ClientbookPurchases == nil || c.ClientbookPurchases.Clean())
}

func (c Check) String() string {
	s := fmt.Sprintf("Edge: %d customers, %d set to synchronize", c.EdgeCustomers, c.SyncedCustomers)
	if c.Podium != nil {
		s += fmt.Sprintf("; Podium: %d contacts, %s", c.PodiumContacts, c.Podium)
	}
	if c.Clientbook != nil {
		s += fmt.Sprintf("; Clientbook: %d clients, %s", c.ClientbookClients, c.Clientbook)
	}
	if c.ClientbookPurchases != nil {
		s += fmt.Sprintf("; Clientbook purchases: %s", c.ClientbookPurchases)
	}
	return s
}

// CheckSims reads the simulator's and the emulators' states over HTTP and
// compares them.
func CheckSims(ctx context.Context, ep Endpoints) (Check, error) {
	db, err := edgesim.Dial(ep.Edge).State(ctx)
	if err != nil {
		return Check{}, err
	}
	c := Check{EdgeCustomers: int(count(db, "customer")), SyncedCustomers: db.SyncedCustomers(), EdgeDuplicates: DuplicateEmails(db)}
	if ep.Podium != "" {
		emu := podiumemu.New()
		if err := loadState(ctx, ep.Podium, emu.UnmarshalState); err != nil {
			return c, fmt.Errorf("podium emulator: %w", err)
		}
		e := PodiumEffects(db, emu)
		c.Podium, c.PodiumContacts = &e, emu.ContactCount()
	}
	if ep.Clientbook != "" {
		emu := clientbookemu.New()
		if err := loadState(ctx, ep.Clientbook, emu.UnmarshalState); err != nil {
			return c, fmt.Errorf("clientbook emulator: %w", err)
		}
		v := newClientbookView(db, emu)
		e := v.effects()
		c.Clientbook, c.ClientbookClients = &e, emu.Totals().Clients
		p, err := v.purchases(ctx)
		if err != nil {
			return c, err
		}
		c.ClientbookPurchases = &p
	}
	return c, nil
}

func loadState(ctx context.Context, base string, unmarshal func([]byte) error) error {
	body, err := emulator.Admin{Base: base}.State(ctx)
	if err != nil {
		return err
	}
	return unmarshal(body)
}
