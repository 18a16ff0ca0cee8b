package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgesync/edgesync/internal/health"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsRegistry returns a registry with the Go and process collectors, and
// serves it on --metrics-addr until ctx ends, with /healthz and /readyz (the
// role's checks) and, with --pprof, Go's profiles; nothing is served when
// the address is empty.
func metricsRegistry(ctx context.Context, g *Globals, log *slog.Logger, checks ...health.Check) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edgesync_build_info", Help: "Always 1; the version label is the build's."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	reg.MustRegister(build)
	addr := g.Metrics
	if addr == "" {
		return reg
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	health.Register(mux, checks...)
	paths := "/metrics /healthz /readyz"
	if g.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		paths += " /debug/pprof/"
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "addr", addr, "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	log.Info("serving metrics and health", "addr", addr, "paths", paths)
	return reg
}
