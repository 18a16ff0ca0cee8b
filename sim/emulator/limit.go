package emulator

import (
	"sync"
	"time"
)

// Limiter is a sliding-window request limit per account: at most n requests
// in any window. It is how a partner gateway answers "300 requests per
// minute", and deliberately not the client's token bucket, so the client's
// limiter is tested against an independent implementation.
type Limiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	now    func() time.Time
	hits   map[string][]time.Time
}

// NewLimiter allows n requests per window per account; n = 0 allows all.
func NewLimiter(n int, window time.Duration, now func() time.Time) *Limiter {
	return &Limiter{n: n, window: window, now: now, hits: make(map[string][]time.Time)}
}

// SetRate changes n.
func (l *Limiter) SetRate(n int) {
	l.mu.Lock()
	l.n = n
	l.mu.Unlock()
}

// SetWindow changes the window; tests shrink it to exercise a per-minute
// limit in seconds.
func (l *Limiter) SetWindow(d time.Duration) {
	l.mu.Lock()
	l.window = d
	l.mu.Unlock()
}

// Allow records a request, or says how long until one would be allowed.
func (l *Limiter) Allow(account string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n <= 0 {
		return true, 0
	}
	now := l.now()
	h := l.hits[account]
	i := 0
	for i < len(h) && now.Sub(h[i]) >= l.window {
		i++
	}
	h = h[i:]
	if len(h) >= l.n {
		l.hits[account] = h
		return false, l.window - now.Sub(h[0])
	}
	l.hits[account] = append(h, now)
	return true, 0
}
