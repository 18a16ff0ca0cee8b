package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/internal/status"
)

type statusCmd struct {
	Addr    string        `help:"Address to serve the status page on." default:":8080"`
	Refresh time.Duration `min:"1s" help:"How often the page reloads itself." default:"5s"`
}

func (c *statusCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	nc, js, err := connect(ctx, g, log, "edgesync-status-page")
	if err != nil {
		return err
	}
	defer nc.Close()
	// /healthz and /readyz on --metrics-addr, as every role (the compose
	// healthcheck asks there), and on the page's own address too.
	metricsRegistry(ctx, g, log, health.NATS(nc))
	mux := http.NewServeMux()
	health.Register(mux, health.NATS(nc))
	// Read in the background too, so that rates and ETAs are known from
	// the start, not from the first time someone opens the page.
	reader := status.NewReader(js)
	go reader.Watch(ctx, c.Refresh)
	mux.Handle("/", status.Handler(reader, c.Refresh, log))
	return serveStatus(ctx, c.Addr, mux, log)
}

// serveStatus serves h on addr until ctx ends; it says where once the port
// is bound.
func serveStatus(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	log.Info("status page listening", "url", "http://"+l.Addr().String()+"/")
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("status page: %w", err)
	}
	return nil
}
