// Package connconformance is the suite every connector runs, whatever its
// partner: what the kit promises a store, checked through the connector's
// real client against the partner (an emulator, or a receiver) over HTTP
// and a real JetStream. The suite serves the partner itself, behind a
// middleware that counts the partner's writes, refuses them on demand, and
// crashes the connector after the partner carried a call out and before
// the connector heard the answer.
package connconformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// AckWait is the ack wait a connector under test runs with, so that what a
// crashed connector held is delivered again within the test.
const AckWait = time.Second

// Partner is one connector and its partner, new for each test.
type Partner struct {
	// Name is the connector's name: its durable consumer, and the
	// consumer its dead letters name.
	Name string
	// API is the partner: its emulator, or a receiver.
	API http.Handler
	// Run runs one connector process against the partner at url until ctx
	// ends, with AckWait.
	Run func(ctx context.Context, js jetstream.JetStream, url string) error
	// Records is how many records the partner holds that Edge customer
	// key made: 1 once it arrived; more is a duplicate.
	Records func(key string) int
	// Origin is the origin a change Edge took from this partner carries,
	// and Echo an entity whose such change the connector must not send
	// back; empty when nothing is written into Edge from this partner.
	Origin string
	Echo   schemas.Entity
	// Batched, for a partner that takes lists (a streams.Batch consumer),
	// says what goes out in one call; nil for one call per event.
	Batched *Batched
}

// Batched is a list-taking partner's side of the batch test: events of an
// entity of customer key that go out together, and whether the partner
// holds one.
type Batched struct {
	Entity schemas.Entity
	// Event is the aggregate of the event keyed key, of customer, whose
	// body carries mark.
	Event func(key, customer, mark string) any
	Holds func(key string) bool
}

// Run runs the suite against the partners newPartner makes.
func Run(t *testing.T, newPartner func(t *testing.T) Partner) {
	t.Run("StaleAndRedeliveredEventsMakeNoCall", func(t *testing.T) {
		r := start(t, newPartner(t))
		r.run()
		r.publish(customer(1, "Ann", 2))
		r.settle()
		require.Equal(t, 1, r.p.Records(key(1)))
		writes := r.writes()
		r.publish(customer(1, "Older", 1))
		again := customer(1, "Ann", 2)
		again.msgID = "redelivered" // the same state, past JetStream's duplicate window
		r.publish(again)
		r.settle()
		assert.Equal(t, writes, r.writes(), "an older state and a redelivered one make no partner call")
		assert.Equal(t, 1, r.p.Records(key(1)))
	})
	t.Run("ACrashBetweenTheCallAndTheSaveMakesNoSecondEffect", func(t *testing.T) {
		r := start(t, newPartner(t))
		r.run()
		r.crashAfter(1)
		r.publish(customer(2, "Bea", 1))
		r.waitCrash()
		r.run()
		r.settle()
		assert.Equal(t, 1, r.p.Records(key(2)), "the partner carried the first call out; the redelivery made no second record")
	})
	t.Run("AnEchoIsSkipped", func(t *testing.T) {
		p := newPartner(t)
		if p.Echo == "" {
			t.Skip("nothing is written into Edge from this partner: no event is its echo")
		}
		r := start(t, p)
		r.run()
		writes := r.writes()
		r.publish(edgeEvent{entity: p.Echo, key: key(3), version: 1, origin: p.Origin, data: map[string]any{"key": key(3), "customerKey": key(3)}})
		r.settle()
		assert.Equal(t, writes, r.writes(), "a change that came from the partner is not sent back to it")
		assert.Empty(t, r.deadLetters())
	})
	t.Run("APermanentErrorDeadLettersWithItsReason", func(t *testing.T) {
		r := start(t, newPartner(t))
		r.run()
		r.refuse(true)
		r.publish(customer(4, "Cleo", 1))
		r.settle()
		dead := r.deadLetters()
		require.Len(t, dead, 1)
		assert.Equal(t, "edge.customer.001.000004", dead[0].Subject)
		assert.Contains(t, dead[0].Reason, "422", "the reason is the partner's answer")
		assert.Zero(t, r.p.Records(key(4)))
		r.refuse(false)
		r.publish(customer(4, "Cleo", 2))
		r.settle()
		assert.Equal(t, 1, r.p.Records(key(4)), "the refused event held nothing behind it")
	})
	t.Run("ABatchSettlesEachEventByItsOwnOutcome", func(t *testing.T) {
		p := newPartner(t)
		if p.Batched == nil {
			t.Skip("one call per event: no list to settle")
		}
		r := start(t, p)
		r.run()
		r.publish(customer(5, "Eve", 1))
		r.settle()
		const poison = "REFUSED-BY-CONFORMANCE"
		r.refuseBodiesWith(poison)
		var keys []string
		for i := 1; i <= 5; i++ {
			k := fmt.Sprintf("001-%06d", 500+i)
			mark := "fine"
			if i == 3 {
				mark = poison
			}
			keys = append(keys, k)
			r.publish(edgeEvent{entity: p.Batched.Entity, key: k, version: 1, data: p.Batched.Event(k, key(5), mark)})
		}
		r.settle()
		dead := r.deadLetters()
		require.Len(t, dead, 1, "only the refused event is dead-lettered")
		subj, err := schemas.EdgeSubjectFor(p.Batched.Entity, keys[2])
		require.NoError(t, err)
		assert.Equal(t, subj.String(), dead[0].Subject)
		for i, k := range keys {
			assert.Equal(t, i != 2, p.Batched.Holds(k), "event %s", k)
		}
	})
	t.Run("TheFirstDeliveryGuardHolds", func(t *testing.T) {
		r := start(t, newPartner(t))
		const n = 20
		for i := 10; i < 10+n; i++ {
			r.publish(customer(i, "Dee", 1))
		}
		r.crashAfter(5)
		r.run()
		r.waitCrash()
		r.run()
		r.settle()
		for i := 10; i < 10+n; i++ {
			assert.Equal(t, 1, r.p.Records(key(i)), "customer %s, after a crash during the connector's first delivery", key(i))
		}
	})
}

// rig is one test's JetStream, partner and connector process.
type rig struct {
	t   *testing.T
	p   Partner
	js  jetstream.JetStream
	url string

	mu        sync.Mutex
	nWrites   int
	refusing  bool
	poison    string // a write whose body holds it is refused
	crashIn   int    // the crashIn-th write from now crashes the connector; 0: none
	stop      context.CancelFunc
	crashed   chan struct{}
	processes sync.WaitGroup
}

func start(t *testing.T, p Partner) *rig {
	srv := natstest.Start(t)
	r := &rig{t: t, p: p, js: srv.JS}
	hs := httptest.NewServer(r)
	t.Cleanup(hs.Close)
	r.url = hs.URL
	t.Cleanup(func() {
		r.mu.Lock()
		if r.stop != nil {
			r.stop()
		}
		r.mu.Unlock()
		r.processes.Wait()
	})
	return r
}

// run starts a connector process.
func (r *rig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.stop = cancel
	r.mu.Unlock()
	r.processes.Add(1)
	go func() {
		defer r.processes.Done()
		if err := r.p.Run(ctx, r.js, r.url); err != nil && ctx.Err() == nil {
			r.t.Errorf("connector %s: %v", r.p.Name, err)
		}
	}()
}

// ServeHTTP serves the partner, counting its writes (a token request is
// not one), refusing them when told, and crashing the connector as told.
func (r *rig) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodGet || strings.Contains(req.URL.Path, "/oauth/") {
		r.p.API.ServeHTTP(w, req)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.nWrites++
	refusing := r.refusing || r.poison != "" && bytes.Contains(body, []byte(r.poison))
	crash := false
	if r.crashIn > 0 {
		r.crashIn--
		crash = r.crashIn == 0
	}
	r.mu.Unlock()
	switch {
	case refusing:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"code":"conformance","message":"refused by the conformance suite"}`)
	case crash:
		// The partner carries the call out; the connector dies before it
		// hears the answer, and the connection drops.
		r.p.API.ServeHTTP(httptest.NewRecorder(), req)
		r.mu.Lock()
		r.stop()
		close(r.crashed)
		r.mu.Unlock()
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
	default:
		r.p.API.ServeHTTP(w, req)
	}
}

func (r *rig) writes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nWrites
}

// refuseBodiesWith refuses every write whose body holds s: a list that
// holds it is refused whole, as a partner refuses a list for one bad event.
func (r *rig) refuseBodiesWith(s string) {
	r.mu.Lock()
	r.poison = s
	r.mu.Unlock()
}

func (r *rig) refuse(on bool) {
	r.mu.Lock()
	r.refusing = on
	r.mu.Unlock()
}

// crashAfter crashes the connector process at the partner's n-th write
// from now.
func (r *rig) crashAfter(n int) {
	r.mu.Lock()
	r.crashIn, r.crashed = n, make(chan struct{})
	r.mu.Unlock()
}

// waitCrash waits for the crash and for the crashed process to end.
func (r *rig) waitCrash() {
	select {
	case <-r.crashed:
	case <-time.After(time.Minute):
		r.t.Fatal("the connector never made the call it was to crash at")
	}
	r.processes.Wait()
}

// settle waits until the connector has settled every event (applied,
// skipped or dead-lettered), its bulk lanes included.
func (r *rig) settle() {
	r.t.Helper()
	ctx := context.Background()
	var last error
	ok := assert.Eventually(r.t, func() bool {
		n, err := streams.Pending(ctx, r.js, streams.StreamEdge, r.p.Name)
		if err != nil {
			last = err
			return false
		}
		last = fmt.Errorf("%d event(s) pending", n)
		return n == 0
	}, time.Minute, 50*time.Millisecond)
	if !ok {
		r.t.Fatalf("connector %s did not settle: %v", r.p.Name, last)
	}
}

func (r *rig) deadLetters() []streams.DeadMsg {
	r.t.Helper()
	dead, err := streams.DeadLetters(context.Background(), r.js, 0)
	require.NoError(r.t, err)
	return dead
}

// edgeEvent is one Edge event as capture publishes it.
type edgeEvent struct {
	entity  schemas.Entity
	key     string
	version int64
	origin  string
	data    any
	msgID   string // overrides the event's Nats-Msg-Id
}

func (r *rig) publish(e edgeEvent) {
	r.t.Helper()
	m, err := schemas.EdgeEvent{Source: "edgesync/capture/conformance", Entity: e.entity, Key: e.key, Version: e.version, Origin: e.origin,
		Time: time.Now(), Data: e.data}.Msg()
	require.NoError(r.t, err)
	if e.msgID != "" {
		m.Header.Set(nats.MsgIdHdr, e.msgID)
	}
	_, err = streams.PublishMsg(context.Background(), r.js, m)
	require.NoError(r.t, err)
}

func key(i int) string { return fmt.Sprintf("001-%06d", i) }

// Email is the email of customer key's events, for Records.
func Email(key string) string { return "c" + strings.ReplaceAll(key, "-", "") + "@example.com" }

// customer is a state of customer i of store 001 that every partner takes.
func customer(i int, last string, version int64) edgeEvent {
	k := key(i)
	return edgeEvent{entity: schemas.EntityCustomer, key: k, version: version, data: &schemas.Customer{
		Key: k, Store: "001", FirstName: "Conformance", LastName: last, AccountKey: k, SyncEnabled: true,
		DateEntered: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC),
		ContactMethods: []schemas.ContactMethod{
			{ID: 1, Method: "EMAIL", Type: "Home", Value: Email(k), Preferred: true},
		},
	}}
}
