package partnerapi

import (
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Calls keeps what the status page shows of a partner client: how many
// calls it made in the last minute, and when the last one succeeded or
// failed. A Client shares one with every request it sends; the zero value
// is an empty record.
type Calls struct {
	// Partner and Log, when set, say in the log when the partner answers
	// again after failing every call: the end of an outage is news too.
	Partner string
	Log     *slog.Logger
	Metrics *CallMetrics // when set, counts the calls by answer

	mu       sync.Mutex
	recent   []time.Time // calls of the last minute, oldest first
	lastOK   time.Time
	lastFail time.Time
	failure  string
	// since is the first failure of the streak the last call belongs to.
	since time.Time
}

// CallStats is a moment's reading of Calls.
type CallStats struct {
	LastMinute  int       `json:"lastMinute"`
	LastOK      time.Time `json:"lastOk,omitzero"`
	LastFailure time.Time `json:"lastFailure,omitzero"`
	Failure     string    `json:"failure,omitempty"` // the last failure: status and path, never a body or a token
	// FailingSince is when the calls began to fail: the first failure
	// since the last success; zero when the last call succeeded.
	FailingSince time.Time `json:"failingSince,omitzero"`
}

// record notes one call's answer: its HTTP status, 0 for none. A refusal
// of one record (400, 404, 409, 422) is the partner answering: it is shown
// as the last failure but neither starts nor ends a failing streak, which
// only what fails every call (no answer, a redirect, 401, 403, 429, 5xx)
// starts.
func (c *Calls) record(status int, failure string) {
	if c == nil {
		return
	}
	c.Metrics.observe(c.Partner, status)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.recent = append(c.trim(now), now)
	switch {
	case status >= 200 && status < 300:
		if !c.since.IsZero() && c.Log != nil {
			c.Log.Info("partner answers again", "partner", c.Partner, "failed_for", now.Sub(c.since).Round(time.Second), "last_failure", c.failure)
		}
		c.lastOK, c.since = now, time.Time{}
		return
	case partnerWide(status) && c.since.IsZero():
		c.since = now
	}
	c.lastFail, c.failure = now, failure
}

// partnerWide reports whether an answer fails every call alike, not one
// record.
func partnerWide(status int) bool {
	switch {
	case status == 0, status >= 300 && status < 400, status >= 500:
		return true
	}
	return status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests
}

// trim drops the calls older than a minute; the caller holds mu.
func (c *Calls) trim(now time.Time) []time.Time {
	i := 0
	for i < len(c.recent) && now.Sub(c.recent[i]) >= time.Minute {
		i++
	}
	return c.recent[i:]
}

// Stats reads the record.
func (c *Calls) Stats() CallStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent = c.trim(time.Now())
	return CallStats{LastMinute: len(c.recent), LastOK: c.lastOK, LastFailure: c.lastFail, Failure: c.failure, FailingSince: c.since}
}
