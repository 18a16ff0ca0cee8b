// Package health answers the two questions an orchestrator asks a role:
// /healthz, is the process alive (it answers), and /readyz, can it do its
// work (every dependency it names answers).
package health

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Check is one dependency of a role.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// checkTimeout bounds each check, so a hung dependency reads as not ready
// instead of hanging the probe.
const checkTimeout = 2 * time.Second

// Register adds GET /healthz and GET /readyz to mux. /readyz answers 200
// when every check passes and 503 otherwise, one line per check either way,
// so the answer says which dependency is down.
func Register(mux *http.ServeMux, checks ...Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var lines []string
		ready := true
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			err := c.Fn(ctx)
			cancel()
			if err != nil {
				ready = false
				lines = append(lines, c.Name+": "+err.Error())
			} else {
				lines = append(lines, c.Name+": ok")
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
		} else {
			fmt.Fprintln(w, "ready")
		}
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	})
}

// NATS checks that the connection is up.
func NATS(nc *nats.Conn) Check {
	return Check{Name: "nats", Fn: func(context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("connection is %s", s)
		}
		return nil
	}}
}

// Consumer checks that a durable consumer can be read.
func Consumer(js jetstream.JetStream, stream, durable string) Check {
	return Check{Name: "consumer " + stream + "/" + durable, Fn: func(ctx context.Context) error {
		c, err := js.Consumer(ctx, stream, durable)
		if err != nil {
			return err
		}
		_, err = c.Info(ctx)
		return err
	}}
}

// Stream checks that a stream can be read.
func Stream(js jetstream.JetStream, name string) Check {
	return Check{Name: "stream " + name, Fn: func(ctx context.Context) error {
		_, err := js.Stream(ctx, name)
		return err
	}}
}
