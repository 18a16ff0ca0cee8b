// Package site runs the part of a chain's edgesync that lives at a store,
// next to its Edge server: an embedded NATS server with JetStream, a leaf
// node of the hub with a JetStream domain of its own, and capture
// publishing into the store's own EDGE stream. A change is durable at the
// store the moment it is captured, whether the store's internet is up or
// not; the hub sources the store's stream and takes each event once, by
// its Nats-Msg-Id, when the link is up.
package site

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/writer"
)

// Config configures a store site.
type Config struct {
	Store   string      // the store's Edge code, "001": its domain is streams.StoreDomain(Store)
	Dir     string      // the leaf node's JetStream store
	Hub     broker.Leaf // how to reach the hub
	Port    int         // client port of the leaf node, for tools at the store; 0: in-process only
	Capture capture.Config
	Streams streams.Config // the store's EDGE stream and checkpoints; streams.DefaultConfig when zero
	// Writer, when set, runs the store's Edge writer too: it reads the
	// store's partner changes from the hub's PARTNER stream through the
	// leaf node link (Writer.Store is set to Store) and writes them into
	// the store's Edge. Through an outage they wait at the hub.
	Writer *writer.Config
}

// Edge is the store's Edge database: capture reads it, the writer writes it.
type Edge interface {
	capture.ChangeSource
	writer.EdgeStore
}

// HubDomain is the hub's JetStream domain, as deploy/nats-hub.conf names it.
const HubDomain = "hub"

// Site is a running store site.
type Site struct {
	cfg Config
	srv *broker.Embedded
	nc  *nats.Conn
	js  jetstream.JetStream
	cpt *capture.Capture
	// reportNC carries capture's reports to the hub.
	reportNC *nats.Conn
	edge     writer.EdgeStore
	log      *slog.Logger
}

// Start starts the leaf node, provisions the store's stream and prepares
// capture from edge; Run runs capture, and the writer when configured.
func Start(ctx context.Context, cfg Config, edge Edge, log *slog.Logger) (*Site, error) {
	if len(cfg.Store) != 3 {
		return nil, fmt.Errorf("site: store %q: want the three-digit Edge store code", cfg.Store)
	}
	if len(cfg.Hub.URLs) == 0 {
		return nil, errors.New("site: no hub leaf node URL")
	}
	if cfg.Streams.Replicas == 0 {
		cfg.Streams = streams.DefaultConfig()
	}
	cfg.Streams.Replicas = 1 // one server at the store
	port := cfg.Port
	if port == 0 {
		port = -1
	}
	srv, err := broker.StartEmbedded(broker.EmbeddedConfig{
		Dir: filepath.Join(cfg.Dir, "jetstream"), Port: port, Name: "edgesync-store-" + cfg.Store,
		Domain: streams.StoreDomain(cfg.Store), Hub: &cfg.Hub,
	})
	if err != nil {
		return nil, err
	}
	s := &Site{cfg: cfg, srv: srv, edge: edge, log: log.With("store", cfg.Store)}
	if s.nc, err = srv.Connect("edgesync-store-" + cfg.Store); err != nil {
		srv.Shutdown()
		return nil, err
	}
	s.js, err = jetstream.New(s.nc)
	if err == nil {
		err = streams.ProvisionSite(ctx, s.js, cfg.Streams)
	}
	if err == nil && cfg.Capture.Reports == nil {
		// Capture reports to the hub's status page, through the link, on
		// a connection whose replies come back on the store's own inbox.
		s.reportNC, err = nats.Connect(srv.URL(), nats.Name("edgesync-store-reports-"+cfg.Store), nats.MaxReconnects(-1),
			nats.CustomInboxPrefix(broker.InboxPrefix("store"+cfg.Store)))
		if err == nil {
			cfg.Capture.Reports, err = jetstream.NewWithDomain(s.reportNC, HubDomain)
		}
	}
	if err == nil {
		s.cpt, err = capture.New(ctx, edge, s.js, cfg.Capture, log)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("site %s: %w", cfg.Store, err)
	}
	return s, nil
}

// Run captures until ctx ends, writes the store's partner changes when
// configured, and logs each change of the link to the hub.
func (s *Site) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.watchLink(ctx)
	if s.cfg.Writer != nil {
		done := make(chan struct{})
		defer func() { cancel(); <-done }()
		go func() { defer close(done); s.runWriter(ctx) }()
	}
	return s.cpt.Run(ctx)
}

// writerRetry is how long the writer waits before it tries the hub again.
const writerRetry = 2 * time.Second

// runWriter runs the store's Edge writer against the hub's JetStream,
// reached through the leaf node, until ctx ends. While the link is down
// the writer cannot open its consumer, or its consumer stops: it tries
// again every writerRetry, and the store's partner changes wait at the hub.
func (s *Site) runWriter(ctx context.Context) {
	cfg := *s.cfg.Writer
	cfg.Store = s.cfg.Store
	user := "store" + s.cfg.Store
	// Replies come back down the link on an inbox of the store's own
	// (deploy/nats-hub.conf lets a store receive only its own).
	nc, err := nats.Connect(s.srv.URL(), nats.Name("edgesync-store-writer-"+s.cfg.Store), nats.MaxReconnects(-1),
		nats.CustomInboxPrefix(broker.InboxPrefix(user)))
	if err != nil {
		s.log.Error("store writer: connect to the store's NATS", "err", err)
		return
	}
	defer nc.Close()
	hub, err := jetstream.NewWithDomain(nc, HubDomain)
	if err != nil {
		s.log.Error("store writer", "err", err)
		return
	}
	for {
		w, err := writer.New(ctx, hub, s.edge, cfg, s.log)
		if err == nil {
			s.log.Info("store writer running: the store's partner changes come from the hub", "consumer", writer.DurableFor(cfg.Store))
			err = w.Run(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("store writer cannot reach the hub; partner changes wait there", "err", err, "retry_in", writerRetry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(writerRetry):
		}
	}
}

func (s *Site) watchLink(ctx context.Context) {
	up := false
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if now := s.srv.LeafConnected(); now != up {
			up = now
			if up {
				s.log.Info("link to the hub up: the hub takes what the store buffered")
			} else {
				s.log.Warn("link to the hub down: changes are kept at the store until it is back")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Connected reports whether the leaf node is connected to the hub.
func (s *Site) Connected() bool { return s.srv.LeafConnected() }

// Stored is how many events the store's EDGE stream holds (its last
// sequence): what the store captured, sent or still buffered.
func (s *Site) Stored(ctx context.Context) (uint64, error) {
	st, err := s.js.Stream(ctx, streams.StreamEdge)
	if err != nil {
		return 0, fmt.Errorf("site %s: %w", s.cfg.Store, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("site %s: %w", s.cfg.Store, err)
	}
	return info.State.LastSeq, nil
}

// CaptureReady reports whether the store's capture keeps up (capture.Ready).
func (s *Site) CaptureReady(ctx context.Context) error { return s.cpt.Ready(ctx) }

// JetStream is the store's own JetStream (its domain).
func (s *Site) JetStream() jetstream.JetStream { return s.js }

// Close stops the leaf node.
func (s *Site) Close() {
	if s.nc != nil {
		s.nc.Close()
	}
	if s.reportNC != nil {
		s.reportNC.Close()
	}
	s.srv.Shutdown()
}
