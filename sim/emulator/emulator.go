// Package emulator holds the machinery every partner emulator shares: OAuth
// tokens, a per-account request limit, fault injection that tests control,
// cursor pagination and request counters for inspection. Each partner
// package (podiumemu, ...) adds its own routes and data on top.
package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are failures a test switches on. The zero value injects nothing.
type Faults struct {
	Latency    time.Duration // added to every API call
	ErrorRate  float64       // share of API calls answered 500, 0..1
	Burst500   int           // the next N API calls are answered 500
	Burst429   int           // the next N API calls are answered 429
	Hang       int           // the next N API calls hang for HangFor before answering 503
	HangFor    time.Duration // default 10s
	ExpireAll  bool          // every issued access token is expired now (set once, then cleared)
	RetryAfter int           // seconds in Retry-After on 429s; 1 when zero
	Drop       int           // the next N API calls are carried out, then their connection drops mid-answer
	DropOn     string        // with Drop: only the calls whose path holds it
	// Poison makes every API call whose path or body holds it fail with a
	// 500, as a partner that cannot take one record does, while the others
	// succeed.
	Poison string
}

// Core is the shared state of one emulator.
type Core struct {
	srv      *httptest.Server
	mu       sync.Mutex
	faults   Faults
	rng      *rand.Rand
	tokens   *Tokens
	limit    *Limiter
	counters map[string]int
	now      func() time.Time
	store    *Store // nil: state in memory only
	// ErrorBody renders a partner's error body for a status and code.
	ErrorBody func(status int, code, message string) any
}

// NewCore returns a Core with a limit of perMinute requests per account per
// minute (0: no limit).
func NewCore(perMinute int, errorBody func(status int, code, message string) any) *Core {
	now := time.Now
	return &Core{
		rng:       rand.New(rand.NewPCG(1, 2)),
		tokens:    newTokens(now),
		limit:     NewLimiter(perMinute, time.Minute, now),
		counters:  make(map[string]int),
		now:       now,
		ErrorBody: errorBody,
	}
}

// Serve serves h on a loopback port and returns its URL.
func (c *Core) Serve(h http.Handler) string {
	c.srv = httptest.NewServer(h)
	return c.srv.URL
}

// URL is the base URL once serving.
func (c *Core) URL() string { return c.srv.URL }

// StopServing closes the server and its connections.
func (c *Core) StopServing() {
	if c.srv != nil {
		c.srv.CloseClientConnections()
		c.srv.Close()
	}
}

// Tokens returns the OAuth token store.
func (c *Core) Tokens() *Tokens { return c.tokens }

// SetFaults replaces the active faults.
func (c *Core) SetFaults(f Faults) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.ExpireAll {
		c.tokens.expireAll()
		f.ExpireAll = false
	}
	c.faults = f
}

// SetLimit changes the per-account limit per minute (0: none).
func (c *Core) SetLimit(perMinute int) { c.limit.SetRate(perMinute) }

// SetLimitWindow makes the limit n requests per window.
func (c *Core) SetLimitWindow(n int, window time.Duration) {
	c.limit.SetRate(n)
	c.limit.SetWindow(window)
}

// Count adds one to a named counter.
func (c *Core) Count(name string) {
	c.mu.Lock()
	c.counters[name]++
	c.mu.Unlock()
}

// Counter reads a named counter. The core counts "requests", "status.<code>",
// "rate_limited", "faults.500", "faults.429", "faults.hang" and
// "unauthenticated"; partners add their own.
func (c *Core) Counter(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counters[name]
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error writes the partner's error body.
func (c *Core) Error(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, c.ErrorBody(status, code, message))
}

// DecodeBody reads a JSON request body of at most 1 MiB into v, refusing
// unknown fields as the partners' specs do; a bad body is answered 400
// with the partner's invalidCode.
func (c *Core) DecodeBody(w http.ResponseWriter, r *http.Request, v any, invalidCode string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		c.Error(w, http.StatusBadRequest, invalidCode, "body: "+err.Error())
		return false
	}
	return true
}

// statusRecorder remembers the status for counters.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// API wraps an authenticated API handler: it counts, injects faults, checks
// the bearer token and scope, and applies the per-account limit, in the order
// a real gateway does.
func (c *Core) API(scope string, next func(w http.ResponseWriter, r *http.Request, account string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { c.Count("status." + strconv.Itoa(rec.status)) }()
		c.Count("requests")
		if c.injectFault(rec, r) {
			return
		}
		account, scopes, ok := c.tokens.Check(r.Header.Get("Authorization"))
		if !ok {
			c.Count("unauthenticated")
			c.Error(rec, http.StatusUnauthorized, "unauthenticated", "missing, invalid or expired access token")
			return
		}
		if scope != "" && !scopes[scope] {
			c.Error(rec, http.StatusForbidden, "unauthorized", "token lacks scope "+scope)
			return
		}
		if ok, wait := c.limit.Allow(account); !ok {
			c.Count("rate_limited")
			rec.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
			c.Error(rec, http.StatusTooManyRequests, "rate_limit", "rate limit exceeded")
			return
		}
		if !c.takeDrop(r) {
			c.commitThen(rec, r, func(w http.ResponseWriter) { next(w, r, account) })
			return
		}
		// The change is made and durable, and the client never learns it:
		// what a retry then does is the point of the fault.
		c.Count("faults.drop")
		buf := &bufferedResponse{header: http.Header{}}
		c.commitThen(buf, r, func(w http.ResponseWriter) { next(w, r, account) })
		buf.header.Set("Content-Length", strconv.Itoa(buf.body.Len())) // the whole answer is announced, half arrives
		buf.replay(rec, buf.body.Bytes()[:buf.body.Len()/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
}

func (c *Core) takeDrop(r *http.Request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faults.Drop > 0 && strings.Contains(r.URL.Path, c.faults.DropOn) {
		c.faults.Drop--
		return true
	}
	return false
}

func (c *Core) injectFault(w http.ResponseWriter, r *http.Request) bool {
	c.mu.Lock()
	f := &c.faults
	latency := f.Latency
	var kind string
	switch {
	case f.Burst429 > 0:
		f.Burst429--
		kind = "429"
	case f.Burst500 > 0:
		f.Burst500--
		kind = "500"
	case f.Hang > 0:
		f.Hang--
		kind = "hang"
	case f.ErrorRate > 0 && c.rng.Float64() < f.ErrorRate:
		kind = "500"
	case f.Poison != "" && holds(r, f.Poison):
		kind = "500"
	}
	retryAfter, hangFor := max(1, f.RetryAfter), f.HangFor
	c.mu.Unlock()
	if latency > 0 {
		sleep(r, latency)
	}
	switch kind {
	case "429":
		c.Count("faults.429")
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		c.Error(w, http.StatusTooManyRequests, "rate_limit", "rate limit exceeded (injected)")
	case "hang":
		c.Count("faults.hang")
		if hangFor == 0 {
			hangFor = 10 * time.Second
		}
		sleep(r, hangFor)
		c.Error(w, http.StatusServiceUnavailable, "internal_server_error", "timed out (injected)")
	case "500":
		c.Count("faults.500")
		c.Error(w, http.StatusInternalServerError, "internal_server_error", "internal error (injected)")
	default:
		return false
	}
	return true
}

// holds reports whether the request's path or body holds s; it leaves
// the body for the handler to read.
func holds(r *http.Request, s string) bool {
	if strings.Contains(r.URL.Path, s) {
		return true
	}
	if r.Body == nil {
		return false
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return bytes.Contains(body, []byte(s))
}

func sleep(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// Page cuts items by an opaque cursor (base64 of an offset) and a limit
// (default 10, at most 100, as Podium documents). It returns the page and the
// next cursor ("" on the last page), or ok=false for a bad cursor.
func Page[T any](items []T, cursor string, limitParam string) (page []T, next string, ok bool) {
	limit := 10
	if limitParam != "" {
		n, err := strconv.Atoi(limitParam)
		if err != nil || n < 0 {
			return nil, "", false
		}
		limit = min(n, 100)
	}
	off := 0
	if cursor != "" {
		raw, err := base64.StdEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", false
		}
		if off, err = strconv.Atoi(string(raw)); err != nil || off < 0 || off > len(items) {
			return nil, "", false
		}
	}
	end := min(off+limit, len(items))
	if end < len(items) {
		next = base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[off:end], next, true
}

// UpdatedAfter keeps the records updated after the RFC 3339 time since
// (all of them when since is empty): a list's "changed since" filter. ok
// is false when since is not a time.
func UpdatedAfter[T any](all []T, since string, updated func(T) time.Time) (kept []T, ok bool) {
	if since == "" {
		return all, true
	}
	t, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return nil, false
	}
	for _, r := range all {
		if updated(r).After(t) {
			kept = append(kept, r)
		}
	}
	return kept, true
}
