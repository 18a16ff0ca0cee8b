package streams_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// seen records what a handler handled, by subject.
type seen struct {
	mu sync.Mutex
	ok map[string]int
}

func (s *seen) add(subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ok[subject]++
}

func (s *seen) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ok)
}

// One message whose handling keeps failing (a partner answering 500 for
// one customer) is parked: the others are handled meanwhile, the
// connector's report shows it with its error, and once it has been
// delivered GiveUpAfter times while others went through it is
// dead-lettered with the reason.
func TestAMessageThatKeepsFailingIsParkedWhileTheOthersFlow(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, err := streams.NewPublisher(srv.JS, 10).Publish(ctx, testMsgs(20, 0))
	require.NoError(t, err)
	const poison = "edge.customer.001.000001" // the first in the stream
	handled := &seen{ok: map[string]int{}}
	h := func(_ context.Context, msg jetstream.Msg) error {
		if msg.Subject() == poison {
			return errors.New("podium POST /v4/contacts: 500 internal_server_error")
		}
		handled.add(msg.Subject())
		return nil
	}
	t.Cleanup(streams.SetReportEvery(50 * time.Millisecond))
	stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "parking", Stream: streams.StreamEdge, Filters: []string{"edge.>"},
		Retry: []time.Duration{500 * time.Millisecond}, GiveUpAfter: 6,
		Report: func() streams.ConnectorReport { return streams.ConnectorReport{Connector: "parking"} }}, h)
	defer stop()
	require.Eventually(t, func() bool { return handled.count() == 19 }, 10*time.Second, 10*time.Millisecond, "the others flow")
	require.Eventually(t, func() bool {
		reps, err := streams.Reports(ctx, srv.JS)
		r := reps["parking"]
		return err == nil && r.Parked == 1 && len(r.ParkedSample) == 1 && r.ParkedSample[0].Subject == poison &&
			r.ParkedSample[0].Attempts >= 1 && r.ParkedSample[0].Error != ""
	}, 10*time.Second, 50*time.Millisecond, "the status page is told what is parked and why")
	require.Eventually(t, func() bool {
		dead, err := streams.DeadLetters(ctx, srv.JS, 0)
		return err == nil && len(dead) == 1
	}, 15*time.Second, 50*time.Millisecond)
	dead, err := streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	assert.Equal(t, poison, dead[0].Subject)
	assert.Contains(t, dead[0].Reason, "gave up after 6 deliveries")
	assert.Contains(t, dead[0].Reason, "500 internal_server_error")
	waitDrained(t, srv.JS, "parking")
}

// While the partner is down nothing is to blame: every failing event stays
// parked and none is dead-lettered however often it was delivered, and all
// flow once the partner is back. Events that need no partner call
// (unchanged, echoes, stale) go through meanwhile: they are no witness that
// the partner works; with PartnerOK, only a call the partner took is.
func TestAPartnerDownDeadLettersNothing(t *testing.T) {
	for _, tt := range []struct {
		name      string
		noCall    func(subject string) bool
		partnerOK func() time.Time
	}{
		{"every event fails", func(string) bool { return false }, nil},
		{"events that need no call go through", func(s string) bool { return strings.HasSuffix(s, "1") || strings.HasSuffix(s, "2") },
			func() time.Time { return time.Now().Add(-time.Hour) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			srv := natstest.Start(t)
			_, err := streams.NewPublisher(srv.JS, 10).Publish(ctx, testMsgs(6, 0))
			require.NoError(t, err)
			var mu sync.Mutex
			down, failures := true, 0
			handled := &seen{ok: map[string]int{}}
			h := func(_ context.Context, msg jetstream.Msg) error {
				mu.Lock()
				defer mu.Unlock()
				if down && !tt.noCall(msg.Subject()) {
					failures++
					return errors.New("podium: 503")
				}
				handled.add(msg.Subject())
				return nil
			}
			stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "down", Stream: streams.StreamEdge, Filters: []string{"edge.>"},
				Retry: []time.Duration{20 * time.Millisecond}, GiveUpAfter: 3, PartnerOK: tt.partnerOK}, h)
			defer stop()
			require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return failures >= 4*6 }, 10*time.Second, 10*time.Millisecond,
				"the failing events delivered twice their GiveUpAfter")
			mu.Lock()
			down = false
			mu.Unlock()
			waitDrained(t, srv.JS, "down")
			assert.Equal(t, 6, handled.count())
			dead, err := streams.DeadLetters(ctx, srv.JS, 0)
			require.NoError(t, err)
			assert.Empty(t, dead)
		})
	}
}
