package partnerapi

import (
	"sync"
	"time"
)

// Calls keeps what the status page shows of a partner client: how many
// calls it made in the last minute, and when the last one succeeded or
// failed. A Client shares one with every request it sends; the zero value
// is an empty record.
type Calls struct {
	mu       sync.Mutex
	recent   []time.Time // calls of the last minute, oldest first
	lastOK   time.Time
	lastFail time.Time
	failure  string
}

// CallStats is a moment's reading of Calls.
type CallStats struct {
	LastMinute  int       `json:"lastMinute"`
	LastOK      time.Time `json:"lastOk,omitzero"`
	LastFailure time.Time `json:"lastFailure,omitzero"`
	Failure     string    `json:"failure,omitempty"` // the last failure: status and path, never a body or a token
}

func (c *Calls) record(ok bool, failure string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.recent = append(c.trim(now), now)
	if ok {
		c.lastOK = now
	} else {
		c.lastFail, c.failure = now, failure
	}
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
	return CallStats{LastMinute: len(c.recent), LastOK: c.lastOK, LastFailure: c.lastFail, Failure: c.failure}
}
