package streams

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Execution is how a consumer handles its messages (ConsumerConfig): one
// at a time when nil, in Parallel workers, or gathered in a Batch. A batch
// is gathered by one loop, so the two cannot be combined; the type says so.
type Execution interface{ execution() }

// Parallel handles Workers messages at once; the handler must then be
// safe for concurrent use. Messages with the same Partition key are
// handled one after the other in the order they came, and so are one
// subject's whatever their keys. Partition is the subject when nil; a key
// shared by dependent aggregates (an Edge customer's, for its sales and
// notes: schemas.CustomerOf) keeps them in order with each other too.
type Parallel struct {
	Workers   int
	Partition func(jetstream.Msg) string
}

// Batch lets many messages share one partner call: Flush does the work
// that handlers deferred with ErrLater and returns one outcome per
// deferred message, in the order they were deferred. The consumer flushes
// when Every messages wait (100 by default), when no message has come for
// Idle (5ms by default), when the first of them has waited MaxWait (1s by
// default), and before it stops. Idle is short because a list needs no
// waiting to fill: a capture cycle's events arrive together and a backlog
// keeps the pull buffer full. MaxWait bounds the wait under a trickle
// faster than Idle, where the idle timer alone would never fire.
type Batch struct {
	Flush   func(ctx context.Context) []error
	Every   int
	Idle    time.Duration
	MaxWait time.Duration
}

func (Parallel) execution() {}
func (Batch) execution()    {}

func (b Batch) withDefaults() Batch {
	if b.Every <= 0 {
		b.Every = 100
	}
	if b.Idle <= 0 {
		b.Idle = 5 * time.Millisecond
	}
	if b.MaxWait <= 0 {
		b.MaxWait = time.Second
	}
	return b
}
