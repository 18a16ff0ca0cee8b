package streams

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/internal/lane"
)

// Middleware wraps a Handler with what a message gets around its
// handling, whatever the consumer. Consume owns the rest of a message's
// life around the chain: its context, its verdict, acks, parking and dead
// letters (settle.go).
type Middleware func(Handler) Handler

// Chain wraps h in mws, the first outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Heartbeat tells JetStream every interval that a message is still being
// handled, so a slow partner call is not taken for a crash: the ack wait
// bounds how long a crashed consumer's messages wait, not a call.
func Heartbeat(interval time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, msg jetstream.Msg) error {
			stop := inProgress(interval, msg)
			defer stop()
			return next(ctx, msg)
		}
	}
}

// BulkLane marks a bulk lane's message in the context (package lane), so
// the partner's rate limiter serves live changes first.
func BulkLane(next Handler) Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		if isBulkWork(msg) {
			ctx = lane.WithBulk(ctx)
		}
		return next(ctx, msg)
	}
}
