package emulator

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/edgesync/edgesync/internal/durable"
)

// Store keeps an emulator's state in a file the way the partner's database
// does: a change is on disk before the partner acknowledges it, so a demo
// killed with SIGKILL restarts with everything its connectors were told
// had succeeded. Saves are group commits: requests that arrive while one
// save runs share the next, so a busy emulator writes once per round, not
// once per request.
type Store struct {
	path    string
	marshal func() ([]byte, error)

	mu     sync.Mutex
	done   *sync.Cond
	asked  uint64 // Sync calls so far
	saved  uint64 // Sync calls covered by the last successful save
	saving bool
}

// NewStore returns a store that writes marshal's output to path.
func NewStore(path string, marshal func() ([]byte, error)) *Store {
	s := &Store{path: path, marshal: marshal}
	s.done = sync.NewCond(&s.mu)
	return s
}

// Sync returns once a save that started after the call has finished, so
// every change made before the call is on disk.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked++
	mine := s.asked
	for s.saved < mine {
		if s.saving {
			s.done.Wait()
			continue
		}
		s.saving = true
		covers := s.asked
		s.mu.Unlock()
		err := s.save()
		s.mu.Lock()
		s.saving = false
		if err == nil {
			s.saved = covers
		}
		s.done.Broadcast()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) save() error {
	body, err := s.marshal()
	if err != nil {
		return fmt.Errorf("save %s: %w", filepath.Base(s.path), err)
	}
	if err := durable.WriteFile(s.path, body); err != nil {
		return fmt.Errorf("save %s: %w", filepath.Base(s.path), err)
	}
	return nil
}

// PersistTo keeps the emulator's state (marshal's output) at path: every
// state-changing API call is on disk before it is answered, and every
// webhook delivery waits until the change it reports is.
func (c *Core) PersistTo(path string, marshal func() ([]byte, error), hooks *Webhooks) *Store {
	s := NewStore(path, marshal)
	c.mu.Lock()
	c.store = s
	c.mu.Unlock()
	hooks.SetGate(s.Sync)
	return s
}

func (c *Core) durable() *Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.store
}

// bufferedResponse holds an answer until the change it acknowledges is
// durable.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// commitThen runs next with its answer held back, saves the store, and only
// then answers; a failed save is answered 503 so the client retries.
func (c *Core) commitThen(w http.ResponseWriter, r *http.Request, next func(w http.ResponseWriter)) {
	s := c.durable()
	if s == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		next(w)
		return
	}
	buf := &bufferedResponse{header: http.Header{}}
	next(buf)
	if err := s.Sync(); err != nil {
		c.Error(w, http.StatusServiceUnavailable, "internal_server_error", "storage unavailable: "+err.Error())
		return
	}
	buf.replay(w, buf.body.Bytes())
}

// replay writes the held answer to w, with body (all of it, or the part a
// dropped connection lets through).
func (b *bufferedResponse) replay(w http.ResponseWriter, body []byte) {
	for k, vs := range b.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(cmp.Or(b.status, http.StatusOK))
	_, _ = w.Write(body)
}
