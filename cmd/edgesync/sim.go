package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"time"

	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/sim/edgesim"
)

// simCmd runs the Edge simulator and the partners' emulators as roles of
// their own, for the compose demo profile and the fault suite.
type simCmd struct {
	Edge       simEdgeCmd       `cmd:"" help:"Serve the Edge simulator for capture and the writer (their --edge-simulator), making live changes."`
	Podium     simPodiumCmd     `cmd:"" help:"Serve the Podium emulator (OAuth, contacts, data feed, webhooks), with a simulated Podium user."`
	Clientbook simClientbookCmd `cmd:"" help:"Serve the Clientbook emulator, with a simulated Clientbook user."`
	Check      simCheckCmd      `cmd:"" help:"Compare the emulators with the Edge simulator, record by record; exit 1 unless in sync."`
}

type simFlags struct {
	Dir   string        `help:"Data directory; run again on it to resume." default:"edgesync-sim" type:"path"`
	Every time.Duration `min:"0s" help:"Make one live change (Edge change, or app edit in the partner) per interval; 0 for none (POST /_sim/changes still makes them)." default:"0"`
}

func (f simFlags) sim(ctx context.Context, g *Globals, addr string, log *slog.Logger) (demo.Sim, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return demo.Sim{}, fmt.Errorf("--addr: %w", err)
	}
	// The test bed's processes serve metrics and profiles like the roles,
	// so that a benchmark can tell whether the pipeline or its bed is slow.
	metricsRegistry(ctx, g, log)
	return demo.Sim{Dir: f.Dir, Listener: l, Every: f.Every, Log: log}, nil
}

// emulatorFlags are the flags of a partner emulator's role.
type emulatorFlags struct {
	simFlags
	NoPersist bool `help:"Keep the state in memory only (faster; a kill loses it): for benchmarks."`
}

func (f emulatorFlags) sim(ctx context.Context, g *Globals, addr string, log *slog.Logger) (demo.Sim, error) {
	s, err := f.simFlags.sim(ctx, g, addr, log)
	s.NoPersist = f.NoPersist
	return s, err
}

type simEdgeCmd struct {
	simFlags
	Addr              string   `help:"Address to serve on." default:":7070"`
	Stores            int      `min:"1" help:"Stores in the generated chain, 001 to this (first run only)." default:"2"`
	Store             []string `help:"Generate these stores instead, e.g. --store 003 for a chain's third store with an Edge of its own (first run only); repeatable."`
	CustomersPerStore int      `min:"0" help:"Customers per store in the generated chain (first run only)." default:"300"`
	SalesPerCustomer  float64  `min:"0" help:"Sales per customer, on average, in the generated chain (first run only)." default:"1.5"`
	ItemsPerStore     int      `min:"0" help:"Items on hand per store in the generated chain, besides one per sold line (first run only)." default:"200"`
	Seed              uint64   `help:"Seed of the live changes; 0 picks one."`
}

func (c *simEdgeCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	if c.Stores < 1 || c.CustomersPerStore < 0 || c.SalesPerCustomer < 0 || c.ItemsPerStore < 0 {
		return errors.New("--stores must be at least 1; --customers-per-store, --sales-per-customer and --items-per-store at least 0")
	}
	if err := checkStores("--store", c.Store); err != nil {
		return err
	}
	s, err := c.sim(ctx, g, c.Addr, log)
	if err != nil {
		return err
	}
	spec := edgesim.DemoSpec()
	spec.Stores, spec.CustomersPerStore, spec.SalesPerCustomer, spec.ItemsPerStore = c.Stores, c.CustomersPerStore, c.SalesPerCustomer, c.ItemsPerStore
	spec.StoreCodes = c.Store
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return demo.RunEdgeSim(ctx, demo.EdgeSim{Sim: s, Spec: spec, Seed: c.Seed})
}

type simPodiumCmd struct {
	emulatorFlags
	Addr      string            `help:"Address to serve on." default:":7080"`
	Rate      int               `min:"0" help:"Requests per minute per account; real Podium allows 300." default:"6000"`
	Locations map[string]string `name:"location" help:"Edge store and the uid of its Podium location, e.g. 001=<uid>; repeat per store (the connector's --podium-location)." required:""`
	DataFeed  string            `name:"data-feed" help:"Uid of the data feed the connector sends to (its --podium-data-feed)."`
}

func (c *simPodiumCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	if err := checkStores("--location", slices.Collect(maps.Keys(c.Locations))); err != nil {
		return err
	}
	s, err := c.sim(ctx, g, c.Addr, log)
	if err != nil {
		return err
	}
	return demo.RunPodiumSim(ctx, demo.PodiumSim{Sim: s, Rate: c.Rate, Locations: c.Locations, DataFeed: c.DataFeed})
}

type simClientbookCmd struct {
	emulatorFlags
	Addr   string `help:"Address to serve on." default:":7090"`
	Rate   int    `min:"0" help:"Requests per minute per key; Clientbook's documented limit is 120." default:"20000"`
	APIKey string `name:"api-key" secret:"" help:"API key the emulator accepts (the connector's --clientbook-api-key)." required:""`
}

func (c *simClientbookCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	s, err := c.sim(ctx, g, c.Addr, log)
	if err != nil {
		return err
	}
	return demo.RunClientbookSim(ctx, demo.ClientbookSim{Sim: s, Rate: c.Rate, APIKey: c.APIKey})
}

type simCheckCmd struct {
	Edge       string        `help:"URL of the Edge simulator." required:""`
	Podium     string        `help:"URL of the Podium emulator; empty to not check Podium."`
	Clientbook string        `help:"URL of the Clientbook emulator; empty to not check Clientbook."`
	Wait       time.Duration `min:"0s" help:"Check again until in sync or this much time has passed." default:"0"`
	JSON       bool          `name:"json" help:"Print the check as JSON."`
}

func (c *simCheckCmd) Run(ctx context.Context) error {
	deadline := time.Now().Add(c.Wait)
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		chk, err := demo.CheckSims(cctx, demo.Endpoints{Edge: c.Edge, Podium: c.Podium, Clientbook: c.Clientbook})
		cancel()
		if err == nil && (chk.InSync() || !time.Now().Before(deadline)) {
			if c.JSON {
				_ = json.NewEncoder(os.Stdout).Encode(chk)
			} else {
				fmt.Println(chk)
			}
			if !chk.InSync() {
				return errors.New("not in sync")
			}
			fmt.Fprintln(os.Stderr, "RESULT: in sync")
			return nil
		}
		if err != nil && !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
