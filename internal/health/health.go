// Package health answers the two questions an orchestrator asks a role:
// /healthz, is the process alive (it answers), and /readyz, can it do its
// work (every dependency it names answers).
package health

import (
	"context"
	"errors"
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
	Fn   func(ctx context.Context) error // ready: the dependency answers now
	// Live, when set, says whether the role can still do its job at all
	// with this dependency, as opposed to waiting for it: a NATS
	// connection that is reconnecting is not ready, one that nats.go
	// closed for good is not alive. /healthz fails on it, so an
	// orchestrator restarts the role.
	Live func() error
}

// checkTimeout bounds each check, so a hung dependency reads as not ready
// instead of hanging the probe.
const checkTimeout = 2 * time.Second

// Register adds GET /healthz and GET /readyz to mux. /readyz answers 200
// when every check passes and 503 otherwise, one line per check either way,
// so the answer says which dependency is down.
func Register(mux *http.ServeMux, checks ...Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		for _, c := range checks {
			if c.Live == nil {
				continue
			}
			if err := c.Live(); err != nil {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "not alive\n%s: %v\n", c.Name, err)
				return
			}
		}
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

// NATS checks that the connection is up, and that it is not closed for
// good (nats.go gives up on a connection the server closed for a protocol
// error, and never reconnects it).
func NATS(nc *nats.Conn) Check {
	return Check{Name: "nats", Fn: func(context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("connection is %s", s)
		}
		return nil
	}, Live: func() error {
		if nc.IsClosed() {
			if err := nc.LastError(); err != nil {
				return fmt.Errorf("connection closed for good: %w", err)
			}
			return errors.New("connection closed for good")
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
