package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/sim/edgesim"
)

type demoCmd struct {
	Dir               string        `help:"Data directory (JetStream store, simulator and emulator state). Run again on it to resume." default:"edgesync-demo" type:"path"`
	Duration          time.Duration `min:"0s" help:"Run this long, then drain and print a summary; 0 runs until Ctrl-C." default:"0"`
	ChurnEvery        time.Duration `min:"0s" help:"Make one live Edge change (new customer, edited contact method, sale, ...) per interval; 0 for none." default:"100ms"`
	Poll              time.Duration `min:"10ms" help:"Capture poll interval." default:"250ms"`
	PodiumRate        int           `min:"1" help:"Podium requests per minute, for the emulator and the client. Real Podium allows 300." default:"6000"`
	NATSPort          int           `name:"nats-port" min:"0" help:"Port of the embedded NATS, so other processes (examples/printcustomers) can connect; 0 picks one, and so does the default when 4222 is taken." default:"4222"`
	NATSLazySync      bool          `name:"nats-lazy-sync" help:"Let the embedded JetStream fsync every 2 minutes instead of before each acknowledgement: faster, but a power cut can lose acknowledged events."`
	Stores            int           `min:"1" help:"Stores in the generated chain (first run only)." default:"2"`
	CustomersPerStore int           `min:"0" help:"Customers per store in the generated chain (first run only)." default:"300"`
	StatusAddr        string        `help:"Serve the status page on this address too (e.g. 127.0.0.1:8080); off when empty."`
}

func (c *demoCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	if c.NATSPort == defaultNATSPort && !portFree(c.NATSPort) {
		// The README's first command must work on a machine that already
		// runs a NATS: the default gives way, a port asked for does not.
		log.Warn("port 4222 is taken (another NATS or demo?): the demo's NATS listens on a free port instead; choose one with --nats-port", "port", c.NATSPort)
		c.NATSPort = 0
	}
	cfg := demo.DefaultConfig()
	cfg.Dir, cfg.Duration, cfg.ChurnEvery, cfg.PollInterval = c.Dir, c.Duration, c.ChurnEvery, c.Poll
	cfg.PodiumRate, cfg.NATSPort, cfg.LazySync = c.PodiumRate, c.NATSPort, c.NATSLazySync
	cfg.Spec = edgesim.DemoSpec()
	cfg.Spec.Stores, cfg.Spec.CustomersPerStore = c.Stores, c.CustomersPerStore
	cfg.Log, cfg.Out, cfg.StatusAddr = log, os.Stdout, c.StatusAddr
	cfg.Metrics = metricsRegistry(ctx, g, log)
	sum, err := demo.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if !sum.InSync() && ctx.Err() == nil {
		return errNotInSync
	}
	return nil
}

const defaultNATSPort = 4222

// portFree reports whether a TCP port of the loopback can be listened on.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
