package streams_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// Workers handle messages at once, yet one key's messages in the order
// they came, and one subject's never two at a time nor out of order, even
// when its key changes between two of them (a sale moved to another
// customer) while the first is still being handled.
func TestWorkersKeepEachKeysOrder(t *testing.T) {
	tests := []struct {
		name  string
		moved bool // every other message is the one before's subject under a key of its own
	}{
		{"keys follow the subject", false},
		{"keys change under the subject", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			srv := natstest.Start(t)
			const subjects, customers, total = 40, 10, 600 // 15 a subject: fewer than the stream keeps

			var (
				mu        sync.Mutex
				busy      = map[string]bool{}
				lastBySub = map[string]int{}
				lastByKey = map[string]int{}
				inFlight  int
				most      int
				problems  []string
				handled   int
			)
			h := func(_ context.Context, msg jetstream.Msg) error {
				n, _ := strconv.Atoi(string(msg.Data()))
				subj, key := msg.Subject(), msg.Headers().Get("Customer")
				mu.Lock()
				if busy[subj] {
					problems = append(problems, fmt.Sprintf("%s handled twice at once (message %d)", subj, n))
				}
				if last, ok := lastBySub[subj]; ok && last > n {
					problems = append(problems, fmt.Sprintf("%s: message %d after %d", subj, n, last))
				}
				if last, ok := lastByKey[key]; ok && last > n && !tt.moved {
					problems = append(problems, fmt.Sprintf("key %s: message %d after %d", key, n, last))
				}
				busy[subj], lastBySub[subj], lastByKey[key] = true, n, n
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()

				time.Sleep(time.Millisecond) // a partner call

				mu.Lock()
				busy[subj] = false
				inFlight--
				handled++
				mu.Unlock()
				return nil
			}
			stop := startConsumer(srv.JS, streams.ConsumerConfig{Durable: "workers", Stream: streams.StreamEdge, Filters: []string{"edge.>"},
				Execution: streams.Parallel{Workers: 4, Partition: func(m jetstream.Msg) string { return m.Headers().Get("Customer") }}}, h)
			defer stop()
			require.Eventually(t, func() bool { // a consumer made after the messages would start at the last of each subject
				_, err := srv.JS.Consumer(ctx, streams.StreamEdge, "workers")
				return err == nil
			}, 5*time.Second, 10*time.Millisecond)

			msgs := make([]*nats.Msg, 0, total)
			for i := range total {
				s := i % subjects
				if tt.moved {
					s = i / 2 % subjects
				}
				key := fmt.Sprintf("001-%06d", s%customers)
				if tt.moved && i%2 == 1 {
					key = "moved-" + strconv.Itoa(i)
				}
				m := nats.NewMsg(fmt.Sprintf("edge.sale.001.%06d", s))
				m.Data = []byte(strconv.Itoa(i))
				m.Header.Set("Customer", key)
				m.Header.Set(nats.MsgIdHdr, "sale:"+strconv.Itoa(i))
				msgs = append(msgs, m)
			}
			_, err := streams.NewPublisher(srv.JS, 50).Publish(ctx, msgs)
			require.NoError(t, err)
			waitDrained(t, srv.JS, "workers")

			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, total, handled)
			assert.Empty(t, problems)
			assert.Greater(t, most, 1, "messages of different keys were handled at once")
		})
	}
}
