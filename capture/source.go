// Package capture turns every change in the Edge database into a
// state-carrying event in JetStream, with a deterministic Nats-Msg-Id and a
// checkpoint that advances only after JetStream acknowledged the events.
package capture

import (
	"context"

	"github.com/edgesync/edgesync/schemas"
)

// Row is one aggregate at one change version, as a change source returns it.
type Row struct {
	Entity  schemas.Entity
	Key     string // Edge key, "001-000652"
	Version int64  // change version of the aggregate's latest change
	Origin  string // partner whose write made this change; empty for Edge users
	Deleted bool
	Data    any // the aggregate (*schemas.Customer, ...); nil when Deleted
}

// ChangeSource is what capture needs from the Edge database. SQL Server
// Change Tracking and the Edge simulator implement it with the same
// semantics, checked by one conformance suite.
type ChangeSource interface {
	// CurrentVersion is the version of the last committed change.
	CurrentVersion(ctx context.Context) (int64, error)
	// MinValidVersion is the oldest checkpoint from which Changes can still
	// answer for entity; an older checkpoint needs a new snapshot.
	MinValidVersion(ctx context.Context, entity schemas.Entity) (int64, error)
	// Snapshot calls fn for every live aggregate of entity, consistent at one
	// version, which it returns.
	Snapshot(ctx context.Context, entity schemas.Entity, fn func(Row) error) (at int64, err error)
	// Changes calls fn once for every aggregate of entity changed in
	// (since, until], with its state as of until. A change to a child row
	// (a contact method, a sale line) reports the parent aggregate.
	Changes(ctx context.Context, entity schemas.Entity, since, until int64, fn func(Row) error) error
}
