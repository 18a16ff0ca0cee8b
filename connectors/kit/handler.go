package kit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// A Destination is what a partner implements: it applies one Edge event.
// Apply makes the partner hold what ev says, moves ev.Next to what the
// partner then holds, and says whether it called the partner. It may set
// ev.Outcome (a notification's) for the Edge writer. Its errors follow
// streams' classes: streams.Permanent dead-letters the event with its
// reason, streams.NotYet and kit.NeedsCustomer wait, streams.ErrLater
// defers it to the consumer's flush (which then saves its state); any
// other error is retried.
type Destination[S any] interface {
	Apply(ctx context.Context, ev *Event[S]) (called bool, err error)
}

// DestinationFunc adapts a function to a Destination.
type DestinationFunc[S any] func(ctx context.Context, ev *Event[S]) (bool, error)

// Apply calls f.
func (f DestinationFunc[S]) Apply(ctx context.Context, ev *Event[S]) (bool, error) { return f(ctx, ev) }

// PendingOutcome is a notification's outcome saved with its state before
// it is published: the text went out once and must not go out again, and
// the outcome must still reach the Edge writer when publishing it fails.
type PendingOutcome struct {
	EventID string                      `json:"eventId"`
	Outcome schemas.NotificationOutcome `json:"outcome"`
}

// Handler is the per-event state machine of a connector around its
// Destination: decode, load the aggregate's state, skip what is stale or
// an echo, apply, publish an outcome after saving it, save, count. Its
// Handle is a streams.Handler; streams.Consume owns acks, retries,
// parking and dead letters.
type Handler[S any, P interface {
	*S
	State
}] struct {
	States *States[S, P]
	Dest   Destination[S]
	// Partner is the origin an echo carries: an event Edge took from this
	// partner (the writer's) is not sent back to it.
	Partner string
	// Echoes are the entities whose echoes Dest still sees, to merge what
	// the partner gave with what Edge added (a customer's contact methods).
	Echoes []schemas.Entity
	// JS publishes notification outcomes (partner.<Partner>.notification.*).
	JS  jetstream.JetStream
	Log *slog.Logger
}

// Handle applies one Edge event.
func (h *Handler[S, P]) Handle(ctx context.Context, msg jetstream.Msg) error {
	ev, fresh, err := h.States.Begin(ctx, msg)
	if err != nil {
		return err
	}
	if prior := P(&ev.Prior).position(); prior.Outcome != nil {
		// A text went out and its outcome was not published: publish it
		// now, before this event (often that very one, redelivered) is
		// judged.
		if err := h.publish(ctx, ev.Key, ev.Prior); err != nil {
			return err
		}
		prior.Outcome = nil
	}
	if !fresh {
		return nil
	}
	if P(&ev.Prior).position().Resend {
		// A repair found the partner holding something else: Edge's state
		// goes out as Edge's own, whatever the state says was sent.
		ev.Env.Origin = ""
	}
	if ev.Env.Origin == h.Partner && !slices.Contains(h.Echoes, ev.Subject.Entity) {
		h.Log.DebugContext(ctx, "not echoing a change that came from the partner", "partner", h.Partner, "subject", msg.Subject())
		return h.States.Done(ctx, ev.Key, ev.Next, false)
	}
	called, err := h.Dest.Apply(ctx, ev)
	if err != nil {
		return err
	}
	if ev.Outcome != nil {
		// Saved with the outcome before it is published: a failed publish
		// never makes the partner call again, and the redelivery publishes it.
		P(&ev.Next).position().Outcome = &PendingOutcome{EventID: ev.Env.ID, Outcome: *ev.Outcome}
		if err := h.States.Save(ctx, ev.Key, ev.Next); err != nil {
			return err
		}
		if err := h.publish(ctx, ev.Key, ev.Next); err != nil {
			return err
		}
		P(&ev.Next).position().Outcome = nil
	}
	return h.States.Done(ctx, ev.Key, ev.Next, called)
}

// publish publishes s's pending outcome (once: its message id is the
// event's) and saves s without it.
func (h *Handler[S, P]) publish(ctx context.Context, key string, s S) error {
	pos := P(&s).position()
	if h.JS == nil {
		return streams.Permanent(errors.New("a notification outcome to publish, and no JetStream to publish it"))
	}
	if err := streams.PublishOutcome(ctx, h.JS, h.Partner, pos.Outcome.EventID, pos.Outcome.Outcome); err != nil {
		return fmt.Errorf("%s: %w", h.Partner, err)
	}
	pos.Outcome = nil
	return h.States.Save(ctx, key, s)
}
