package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/edgesync/edgesync/internal/durable"
)

// Spool keeps on the gateway's disk the deliveries JetStream could not
// take within a partner's answer time, and hands them on once it can.
// Podium answers a refused delivery by retrying on a schedule of hours and
// pausing the store's webhooks; a NATS failover that outlasts the
// gateway's 4 s is better answered from disk. A spooled delivery is on
// disk (fsynced) before the partner gets its 2xx, and it keeps its
// Nats-Msg-Id, so one that JetStream did store after all is dropped as a
// duplicate when the spool hands it on. While anything waits in the spool,
// new deliveries queue behind it, so the PARTNER stream gets them in the
// order they came.
type Spool struct {
	dir string

	mu      sync.Mutex
	next    uint64   // number of the next file
	waiting []string // file names, oldest first
}

// spooled is a delivery as the spool keeps it.
type spooled struct {
	Subject string      `json:"subject"`
	Header  nats.Header `json:"header"`
	Data    []byte      `json:"data"`
}

const spoolExt = ".delivery"

// OpenSpool opens the spool in dir, making dir if needed, with what an
// earlier run left there.
func OpenSpool(dir string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("webhook spool: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("webhook spool: %w", err)
	}
	s := &Spool{dir: dir}
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), spoolExt)
		if !ok {
			continue // a write a crash interrupted (durable's .tmp): never answered 2xx
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("webhook spool: %s is not a spool file; move it out of %s", e.Name(), dir)
		}
		s.waiting = append(s.waiting, e.Name())
		s.next = max(s.next, n+1)
	}
	slices.Sort(s.waiting) // the names are zero-padded: by number
	return s, nil
}

// Waiting is how many deliveries the spool holds.
func (s *Spool) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// Put keeps m, on disk once it returns.
func (s *Spool) Put(m *nats.Msg) error {
	body, err := json.Marshal(spooled{Subject: m.Subject, Header: m.Header, Data: m.Data})
	if err != nil {
		return fmt.Errorf("webhook spool: %w", err)
	}
	// Files are named in the order of Put, and written under the lock so
	// that order is also the order they are handed on.
	s.mu.Lock()
	defer s.mu.Unlock()
	name := fmt.Sprintf("%020d%s", s.next, spoolExt)
	if err := durable.WriteFile(filepath.Join(s.dir, name), body); err != nil {
		return fmt.Errorf("webhook spool: %w", err)
	}
	s.next++
	s.waiting = append(s.waiting, name)
	return nil
}

// Drain hands the waiting deliveries to publish, oldest first, removing
// each once publish succeeded; it stops at the first failure, which it
// returns, or once the spool is empty.
func (s *Spool) Drain(ctx context.Context, publish func(context.Context, *nats.Msg) error) error {
	for {
		s.mu.Lock()
		if len(s.waiting) == 0 {
			s.mu.Unlock()
			return nil
		}
		name := s.waiting[0]
		s.mu.Unlock()
		path := filepath.Join(s.dir, name)
		body, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("webhook spool: %w", err)
		}
		var d spooled
		if err := json.Unmarshal(body, &d); err != nil {
			return fmt.Errorf("webhook spool: %s: %w", name, err)
		}
		if err := publish(ctx, &nats.Msg{Subject: d.Subject, Header: d.Header, Data: d.Data}); err != nil {
			return err
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("webhook spool: %w", err)
		}
		s.mu.Lock()
		s.waiting = s.waiting[1:]
		s.mu.Unlock()
	}
}
