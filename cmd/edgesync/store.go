package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/internal/site"
	"github.com/edgesync/edgesync/writer"
)

// storeCmd is the role that runs at a store of a chain, next to its Edge
// server: a NATS leaf node of the hub holding the store's own stream, and
// capture into it.
type storeCmd struct {
	edgeDB
	Store       string        `help:"This store's Edge code, three digits (its events are edge.<entity>.<store>.<id>)." required:""`
	Dir         string        `help:"Data directory of the store's NATS (its stream and capture's checkpoints)." default:"edgesync-store" type:"path"`
	HubURLs     []string      `name:"hub-url" help:"The hub's leaf node URLs, every server of it, e.g. tls://hub-1:7422,tls://hub-2:7422 (deploy/nats-hub.conf takes TLS only)." required:""`
	HubUser     string        `name:"hub-user" help:"This store's user on the hub's leaf node port (store001 in deploy/nats-hub.conf)."`
	HubPassword string        `name:"hub-password" secret:"" help:"Its password (prefer EDGESYNC_HUB_PASSWORD)."`
	HubCA       string        `name:"hub-ca" help:"CA certificate (PEM) that signed the hub's leaf node certificate; turns TLS on for the link." type:"existingfile"`
	Port        int           `min:"0" help:"Client port of the store's NATS, for edgesync tools run at the store; 0 for none." default:"0"`
	Poll        time.Duration `min:"10ms" help:"How often to read changes." default:"250ms"`
	// With a partner store map, the store's Edge writer runs too, reading
	// the store's partner changes from the hub through the leaf node link.
	mergeFlags
}

func (c *storeCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	if err := checkStores("--store", []string{c.Store}); err != nil {
		return err
	}
	if (c.HubUser == "") != (c.HubPassword == "") {
		return errors.New("--hub-user and --hub-password go together")
	}
	wcfg, writes, err := c.writerConfig()
	if err != nil {
		return err
	}
	role, storeWriter := "capture", (*writer.Config)(nil)
	if writes {
		role, storeWriter = "store", &wcfg // capture and the writer
	}
	db, closeDB, err := c.source(ctx, log, role)
	if err != nil {
		return err
	}
	defer closeDB()
	// Ready means the store can capture: its own NATS and its Edge. The
	// link to the hub is not a condition, since the store keeps working
	// without it; the log says when it goes and comes back.
	var running atomic.Pointer[site.Site]
	reg := metricsRegistry(ctx, g, log, edgeReady(db), health.Check{Name: "store stream", Fn: func(ctx context.Context) error {
		s := running.Load()
		if s == nil {
			return errors.New("starting")
		}
		if _, err := s.Stored(ctx); err != nil {
			return err
		}
		return s.CaptureReady(ctx)
	}})
	s, err := site.Start(ctx, site.Config{
		Store: c.Store, Dir: c.Dir, Port: c.Port,
		Hub:     broker.Leaf{URLs: c.HubURLs, User: c.HubUser, Password: c.HubPassword, CAFile: c.HubCA},
		Capture: capture.Config{Site: "store" + c.Store, PollInterval: c.Poll, Metrics: capture.NewMetrics(reg)},
		Writer:  storeWriter,
	}, db, log)
	if err != nil {
		return err
	}
	defer s.Close()
	running.Store(s)
	log.Info("store running", "store", c.Store, "hub", fmt.Sprint(len(c.HubURLs))+" leaf node URL(s)", "poll", c.Poll, "writer", writes)
	return s.Run(ctx)
}
