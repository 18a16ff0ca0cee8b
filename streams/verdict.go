package streams

// What a handler says of a message: done (nil), never (Permanent), not
// yet (NotYet, Needs), later (ErrLater), or try again (any other error).

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// Handler processes one message. It returns nil when the message's effects
// are done, an error wrapped by Permanent when the message can never succeed
// (it goes to the DLQ with the reason), and any other error to have it
// redelivered later.
type Handler func(ctx context.Context, msg jetstream.Msg) error

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that no retry can fix: bad input, a rejected
// mapping. The consumer dead-letters the message and moves on.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// ErrLater is what a handler returns when it has gathered the message's
// work for a Batch's Flush instead of doing it: the message is settled
// when the flush reports its outcome.
var ErrLater = errors.New("deferred to the next flush")

// IsPermanent reports whether no retry can fix err: it was marked by
// Permanent, or an error in its chain says so of itself with a
// Permanent() bool method (a partner's refusal of the request, partnerapi;
// an Edge database's refusal of a write, edgesql). This is the one way to
// say "do not retry".
func IsPermanent(err error) bool {
	var p permanentError
	if errors.As(err, &p) {
		return true
	}
	var self interface{ Permanent() bool }
	return errors.As(err, &self) && self.Permanent()
}

type notYetError struct{ err error }

func (e notYetError) Error() string { return e.err.Error() }
func (e notYetError) Unwrap() error { return e.err }

// NotYet marks err as a wait for another event that comes first in the
// normal order of things (a sale for its customer's first upload): the
// message is delivered again later, without a warning, without being
// parked as a failing call.
func NotYet(err error) error {
	if err == nil {
		return nil
	}
	return notYetError{err}
}

// IsNotYet reports whether err was marked by NotYet.
func IsNotYet(err error) bool {
	var e notYetError
	return errors.As(err, &e)
}

type needsError struct {
	subject string
	err     error
}

func (e needsError) Error() string { return e.err.Error() }
func (e needsError) Unwrap() error { return notYetError{e.err} }

// Needs marks err as a wait for the aggregate on subject (a sale's
// customer not uploaded yet): the consumer handles that aggregate's latest
// state at once, from the stream, and then the message again. A sale made
// at the counter for a customer still in the bulk lane's queue goes out in
// seconds, its customer first. Needs is NotYet: when the subject holds
// nothing, the message is delivered again later.
func Needs(subject string, err error) error {
	if err == nil {
		return nil
	}
	return needsError{subject, err}
}

// needed is the subject err says must be handled first.
func needed(err error) (string, bool) {
	var n needsError
	if errors.As(err, &n) {
		return n.subject, true
	}
	return "", false
}
