package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"
)

// An emulator run as its own process (edgesync sim podium, sim clientbook)
// is inspected and made to fail from outside it through these routes,
// beside the partner's API. The partners have nothing like them; the paths
// start with /_emulator/ so they cannot meet a documented route.

// FaultsJSON is Faults on the wire, durations as Go duration strings ("10s").
type FaultsJSON struct {
	Latency    string  `json:"latency,omitempty"`
	ErrorRate  float64 `json:"error_rate,omitempty"`
	Burst500   int     `json:"burst_500,omitempty"`
	Burst429   int     `json:"burst_429,omitempty"`
	Hang       int     `json:"hang,omitempty"`
	HangFor    string  `json:"hang_for,omitempty"`
	RetryAfter int     `json:"retry_after,omitempty"`
	Drop       int     `json:"drop,omitempty"`
	Poison     string  `json:"poison,omitempty"`
	DropOn     string  `json:"drop_on,omitempty"`
}

func (j FaultsJSON) faults() (Faults, error) {
	f := Faults{ErrorRate: j.ErrorRate, Burst500: j.Burst500, Burst429: j.Burst429, Hang: j.Hang, RetryAfter: j.RetryAfter, Drop: j.Drop, Poison: j.Poison, DropOn: j.DropOn}
	for _, d := range []struct {
		name, v string
		dst     *time.Duration
	}{{"latency", j.Latency, &f.Latency}, {"hang_for", j.HangFor, &f.HangFor}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil || v < 0 {
			return f, fmt.Errorf("%s: %q is not a duration such as 10s", d.name, d.v)
		}
		*d.dst = v
	}
	if j.ErrorRate < 0 || j.ErrorRate > 1 {
		return f, fmt.Errorf("error_rate: %v is not between 0 and 1", j.ErrorRate)
	}
	return f, nil
}

// WithAdmin serves api with the admin routes beside it:
//
//	GET /_emulator/state     the state, as the emulator persists it
//	GET /_emulator/counters  the request counters (see Counter), with
//	                         "webhooks.pending": deliveries not yet made
//	GET /_emulator/webhooks/stuck  the webhook queues holding events: attempts and last answer
//	PUT /_emulator/faults    FaultsJSON: the faults to inject from now on
func (c *Core) WithAdmin(api http.Handler, state func() ([]byte, error), hooks *Webhooks) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.HandleFunc("GET /_emulator/state", func(w http.ResponseWriter, _ *http.Request) {
		body, err := state()
		if err != nil {
			c.Error(w, http.StatusInternalServerError, "internal_server_error", err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("GET /_emulator/counters", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		m := maps.Clone(c.counters)
		c.mu.Unlock()
		m["webhooks.pending"] = hooks.Pending()
		WriteJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("GET /_emulator/webhooks/stuck", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, hooks.Stuck())
	})
	mux.HandleFunc("PUT /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var j FaultsJSON
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		err := dec.Decode(&j)
		var f Faults
		if err == nil {
			f, err = j.faults()
		}
		if err != nil {
			c.Error(w, http.StatusBadRequest, "invalid_faults", err.Error())
			return
		}
		c.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// Admin reaches the admin routes of an emulator in another process.
type Admin struct {
	Base   string // the emulator's base URL
	Client *http.Client
}

func (a Admin) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.Base, "/")+path, body)
	if err != nil {
		return nil, err
	}
	hc := a.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("emulator %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("emulator %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// State returns the emulator's state, for its UnmarshalState.
func (a Admin) State(ctx context.Context) ([]byte, error) {
	resp, err := a.do(ctx, http.MethodGet, "/_emulator/state", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Counters returns the emulator's request counters.
func (a Admin) Counters(ctx context.Context) (map[string]int, error) {
	return getJSON[map[string]int](ctx, a, "/_emulator/counters")
}

// StuckWebhooks describes the webhook queues that hold events.
func (a Admin) StuckWebhooks(ctx context.Context) ([]string, error) {
	return getJSON[[]string](ctx, a, "/_emulator/webhooks/stuck")
}

func getJSON[T any](ctx context.Context, a Admin, path string) (T, error) {
	var v T
	resp, err := a.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// SetFaults replaces the emulator's faults.
func (a Admin) SetFaults(ctx context.Context, f FaultsJSON) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	resp, err := a.do(ctx, http.MethodPut, "/_emulator/faults", strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
