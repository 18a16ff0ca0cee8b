package streams

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// One aggregate that the partner keeps refusing with a transient error (a
// 500 for that one customer, a call that hangs) must not hold the others.
// A failed message is parked: nacked with the growing delay of
// ConsumerConfig.Retry, while the consumer goes on with the rest. Once it
// has been delivered GiveUpAfter times and the partner took other calls
// since it first failed (ConsumerConfig.PartnerOK; without it, other
// messages went through), it is the message, not the partner, and it is
// dead-lettered with its last error (redrivable). When the partner takes
// nothing, it is down: every message stays parked, none is dead-lettered,
// and they flow again once it is back.

// defaultGiveUpAfter is ConsumerConfig.GiveUpAfter when zero: with the
// default delays (1 s, 5 s, 30 s, then every 2 minutes) about 20 minutes.
const defaultGiveUpAfter = 12

// ParkedMsg is a message whose handling keeps failing, as the status page
// shows it.
type ParkedMsg struct {
	Subject  string    `json:"subject"`
	Attempts int       `json:"attempts"`
	Since    time.Time `json:"since"` // its first failure this process saw
	Error    string    `json:"error"`
}

// maxParkedShown bounds the parked messages a report carries.
const maxParkedShown = 10

// parking tracks the parked messages of one consumer, and when the last
// message went through.
type parking struct {
	mu     sync.Mutex
	lastOK time.Time
	parked map[string]*ParkedMsg // by subject
	now    func() time.Time
	// settled counts the messages finished (acknowledged or
	// dead-lettered), for the status page's rate and ETA.
	settled int64
}

func newParking() *parking {
	return &parking{parked: map[string]*ParkedMsg{}, now: time.Now}
}

// done records a message that went through (or was dead-lettered).
func (p *parking) done(subject string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.lastOK = p.now()
	}
	p.settled++
	delete(p.parked, subject)
}

// failed records a transient failure of a message delivered attempts
// times, and reports whether to give up on it: it failed at least
// giveUpAfter times and the partner took another call since it first did
// (partnerOK, when the consumer knows it), or else another message went
// through. Messages that need no call go through while a partner is down;
// the partner's own last success is the better witness.
func (p *parking) failed(subject string, attempts, giveUpAfter int, partnerOK func() time.Time, err error) (giveUp bool, since time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pm := p.parked[subject]
	if pm == nil {
		pm = &ParkedMsg{Subject: subject, Since: p.now()}
		p.parked[subject] = pm
	}
	pm.Attempts = attempts
	pm.Error = err.Error()
	if len(pm.Error) > 300 {
		pm.Error = pm.Error[:300] + "..."
	}
	lastOK := p.lastOK
	if partnerOK != nil {
		lastOK = partnerOK()
	}
	giveUp = giveUpAfter > 0 && attempts >= giveUpAfter && lastOK.After(pm.Since)
	return giveUp, pm.Since
}

// report is how many messages are parked and the longest parked of them.
func (p *parking) finished() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settled
}

func (p *parking) report() (int, []ParkedMsg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ParkedMsg, 0, len(p.parked))
	for _, pm := range p.parked {
		out = append(out, *pm)
	}
	slices.SortFunc(out, func(a, b ParkedMsg) int { return a.Since.Compare(b.Since) })
	return len(out), out[:min(len(out), maxParkedShown)]
}

// gaveUp is the reason a parked message is dead-lettered.
func gaveUp(attempts int, since time.Duration, err error) error {
	return fmt.Errorf("gave up after %d deliveries over %s while the partner took other calls (redrive once the cause is fixed): %w",
		attempts, since.Round(time.Second), err)
}
