// Package partnerapi holds what every partner API client needs and nothing
// partner-specific: a rate limiter that keeps one account under its
// per-minute limit in every sliding minute, and a retry loop with
// exponential backoff and jitter that honours Retry-After. The podium and
// clientbook clients build their requests and read their answers; this
// package decides when and how often to try again.
package partnerapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/time/rate"

	"github.com/edgesync/edgesync/internal/lane"
)

// Error is an error answer from a partner API.
type Error struct {
	Partner string
	Method  string
	Path    string
	Status  int
	Code    string // the partner's code: rate_limit, invalid_request_values, ...
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s %s: %d %s: %s", e.Partner, e.Method, e.Path, e.Status, e.Code, e.Message)
}

// Refused reports whether the partner refused the request itself: a 4xx
// other than 401 (a token to refresh), 408 and 429 (try later). Retrying a
// refused request cannot succeed.
// Permanent is Refused, for streams.IsPermanent: a refusal is never
// retried, by the client or by the consumer.
func (e *Error) Permanent() bool { return e.Refused() }

func (e *Error) Refused() bool {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return e.Status >= 400 && e.Status < 500
}

// A token bucket with burst b and rate r allows b + 60r calls in any
// minute, so r = (limit - b)/60 keeps the client under the partner's
// per-minute limit in every sliding window. The steady pace is then
// (limit - b)/limit of the limit: b is a thirtieth of the limit (at most
// 10), which keeps 97% of it and still lets a short burst through.
const limiterBurst = 10

// Limiter keeps one account under its per-minute limit, and serves the
// live lane first (package lane). Bulk calls leave part of the bucket's
// burst to live calls (liveReserve tokens, at most all but half a token):
// bulk work still goes at the limit's steady pace, and a live change's
// few calls find their tokens waiting instead of queuing behind the
// upload's. Bulk calls also reserve one at a time: a live call that does
// wait finds at most one bulk reservation ahead of it, however many
// workers carry the bulk work. The account as a whole never sees more
// than its limit: every call takes a token of the one bucket.
type Limiter struct {
	tokens   *rate.Limiter
	bulkTurn chan struct{} // held by the one bulk call that may reserve
}

// NewLimiter returns the limiter of one account: perMinute requests per
// window (one minute unless a test shrinks time); a negative perMinute lifts
// the limit.
func NewLimiter(perMinute int, window time.Duration) *Limiter {
	l := &Limiter{bulkTurn: make(chan struct{}, 1)}
	switch {
	case perMinute < 0:
		l.tokens = rate.NewLimiter(rate.Inf, 0)
	default:
		if window <= 0 {
			window = time.Minute
		}
		burst := min(limiterBurst, max(1, perMinute/30))
		l.tokens = rate.NewLimiter(rate.Limit(float64(max(perMinute-burst, 1))/window.Seconds()), burst)
	}
	return l
}

// liveReserve is how many tokens bulk work leaves to live calls, where
// the burst allows: a live change costs one to three calls.
const liveReserve = 3

// Wait blocks until a call may be made, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	if !lane.IsBulk(ctx) || l.tokens.Limit() == rate.Inf {
		return l.tokens.Wait(ctx)
	}
	select {
	case l.bulkTurn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.bulkTurn }()
	// Bulk leaves liveReserve tokens, and never aims at a full bucket: a
	// bucket at its cap drops what refills it, so bulk work that paused
	// (a sequential connector saving a list's states) must be able to take
	// what came meanwhile, and the sleep below overshoots by a little.
	floor := min(float64(l.tokens.Burst())-0.5, liveReserve+1)
	for {
		missing := floor - l.tokens.Tokens()
		if missing <= 0 {
			break
		}
		wait := time.Duration(missing / float64(l.tokens.Limit()) * float64(time.Second))
		select {
		case <-time.After(max(wait, time.Millisecond)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return l.tokens.Wait(ctx)
}

// PerMinute is a limit of n calls per window as calls per minute.
func PerMinute(n int, window time.Duration) int {
	if n < 0 || window <= 0 || window == time.Minute {
		return n
	}
	return int(float64(n) * float64(time.Minute) / float64(window))
}

// RetryAfter reads a Retry-After header given in seconds.
func RetryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// DefaultRetryFor bounds the attempts of one call inside an event's
// handling. It is short on purpose: while a handler retries, its worker
// holds every event behind it, so a call that keeps failing for one
// customer gives up soon, and the consumer parks that event with a growing
// delay while the others go on (streams/parking.go).
const DefaultRetryFor = 10 * time.Second

// Attempt makes one call. It returns how long the partner asked to wait
// (Retry-After) with its error; an *Error is classified, any other error is
// retried unless wrapped with backoff.Permanent.
type Attempt func(ctx context.Context) (wait time.Duration, err error)

// Retry runs attempt until it succeeds, the partner refuses the request, or
// retryFor has passed. It retries 429s, 5xx answers, timeouts and network
// errors with exponential backoff and jitter, waits at least as long as
// Retry-After says, and retries a 401 once (the attempt drops the rejected
// token, so the retry refreshes it). what names the call in logs and errors.
func Retry(ctx context.Context, log *slog.Logger, what string, retryFor time.Duration, attempt Attempt) error {
	eb := backoff.NewExponentialBackOff()
	eb.InitialInterval = 500 * time.Millisecond
	eb.MaxInterval = 20 * time.Second
	eb.MaxElapsedTime = retryFor
	b := &retryAfter{BackOff: backoff.WithContext(eb, ctx)}
	refreshed := false
	attempts := 0
	op := func() error {
		attempts++
		wait, err := attempt(ctx)
		var apiErr *Error
		switch {
		case err == nil:
			return nil
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized && !refreshed:
			refreshed = true
			return err
		case errors.As(err, &apiErr) && (apiErr.Refused() || apiErr.Status == http.StatusUnauthorized):
			return backoff.Permanent(err)
		}
		b.next = wait
		return err
	}
	notify := func(err error, d time.Duration) {
		log.WarnContext(ctx, "partner call failed; retrying", "call", what, "attempt", attempts, "retry_in", d.Round(time.Millisecond), "err", err)
	}
	if err := backoff.RetryNotify(op, b, notify); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return err
	}
	return nil
}

// retryAfter is a BackOff that honours a server's Retry-After once.
type retryAfter struct {
	backoff.BackOff
	next time.Duration
}

func (r *retryAfter) NextBackOff() time.Duration {
	d := r.BackOff.NextBackOff()
	if d == backoff.Stop {
		return d
	}
	if r.next > d {
		d = r.next
	}
	r.next = 0
	return d
}

// Request is one HTTP call to a partner API.
type Request struct {
	Partner string // names the partner in errors
	Method  string
	URL     string // base URL and path
	Path    string // for errors
	Header  http.Header
	Body    []byte // JSON; nil for none
	Timeout time.Duration
	Calls   *Calls // when set, records the call and whether it succeeded
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 8 << 20

// Send makes one attempt and returns the answer's status, headers and body.
// A request that cannot be built is a permanent error; a network or read
// failure is worth retrying.
func Send(ctx context.Context, hc *http.Client, r Request) (status int, header http.Header, body []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	var rd io.Reader
	if r.Body != nil {
		rd = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		return 0, nil, nil, backoff.Permanent(fmt.Errorf("%s %s %s: %w", r.Partner, r.Method, r.Path, err))
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if r.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// Never follow a redirect: Go's client turns a redirected POST or PUT
	// into a GET, which the partner then answers as another call.
	noFollow := *hc
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// Its message repeats the whole URL, whose path or query may
			// be a credential (a catch hook's token); the path says where.
			err = uerr.Err
		}
		r.Calls.record(0, r.Method+" "+r.Path+": no answer")
		return 0, nil, nil, fmt.Errorf("%s %s %s: %w", r.Partner, r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		r.Calls.record(resp.StatusCode, fmt.Sprintf("%s %s: %s (a redirect: the base URL is wrong)", r.Method, r.Path, resp.Status))
		return 0, nil, nil, backoff.Permanent(&RedirectError{Partner: r.Partner, Method: r.Method, Path: r.Path, Status: resp.StatusCode, Location: resp.Header.Get("Location")})
	}
	r.Calls.record(resp.StatusCode, fmt.Sprintf("%s %s: %s", r.Method, r.Path, resp.Status))
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s %s: read answer: %w", r.Partner, r.Method, r.Path, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// ErrOutcomeUnknown marks a call whose answer was lost after the request
// may have reached the partner (a timeout, a connection dropped mid-answer):
// the partner may have carried it out. A call that is not idempotent is
// not retried on it (see NotSent).
var ErrOutcomeUnknown = errors.New("the partner may have carried the call out: its answer was lost")

// NotSent reports whether a call's transport error proves the request never
// reached the partner: it could not connect, or could not find the host.
func NotSent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns)
}

// RedirectError is a partner API answering a call with a redirect: a
// configuration error (a base URL on http:// or on an old host), never
// followed, since a POST or PUT followed becomes a GET. It is not a
// refusal of the event: the event is parked, not dead-lettered, and flows
// once the URL is fixed.
type RedirectError struct {
	Partner  string
	Method   string
	Path     string
	Status   int
	Location string
}

func (e *RedirectError) Error() string {
	to := ""
	if e.Location != "" {
		u, err := url.Parse(e.Location)
		if err == nil {
			u.User, u.RawQuery = nil, "" // never a credential in a log
			to = " to " + u.String()
		}
	}
	return fmt.Sprintf("%s %s %s: answered %d %s%s: API calls do not follow redirects; set the %s base URL to the address it points to",
		e.Partner, e.Method, e.Path, e.Status, http.StatusText(e.Status), to, e.Partner)
}
