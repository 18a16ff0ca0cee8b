package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
)

// No lost change (invariant 1) across a restore of the Edge database from a
// backup: versions go back, so capture starts a new epoch, re-sends every
// aggregate under new message ids (the old ones would be dropped as
// duplicates), publishes what the restore removed as deleted, and the
// partner ends equal to the restored Edge. A change made after the restore
// reuses a version already published before it and still arrives.
func TestRestoreBehindTheCheckpointReprojectsThePartner(t *testing.T) {
	ctx := context.Background()
	r := newPodiumRig(t)
	var ada, cleo string
	r.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		newCustomer(tx, "001", "Bo", "bo@example.com", "")
		return nil
	})
	r.settle()
	backup := filepath.Join(t.TempDir(), "backup.json")
	require.NoError(t, r.db.Save(backup))

	rename := func(first string) {
		r.edge("", func(tx *edgesim.Tx) error {
			c := tx.Customer(ada)
			c.FirstName = first
			return tx.PutCustomer(c)
		})
	}
	rename("Adelaide")
	r.edge("", func(tx *edgesim.Tx) error { cleo = newCustomer(tx, "001", "Cleo", "cleo@example.com", ""); return nil })
	r.settle()
	require.Equal(t, "Adelaide Test", r.contactByEmail("ada@example.com").Name)

	require.NoError(t, r.db.Restore(backup))
	require.Eventually(t, func() bool {
		for _, e := range schemas.Entities {
			if cp, ok, _ := r.cpt.LoadCheckpoint(ctx, e); !ok || cp.Epoch != 1 {
				return false
			}
		}
		return caughtUp(ctx, r.srv.JS, streams.StreamEdge, podium.Durable)
	}, 30*time.Second, 20*time.Millisecond)
	assert.Equal(t, "Ada Test", r.contactByEmail("ada@example.com").Name, "Podium goes back to the restored name")

	last, err := r.lastEvent(schemas.EntityCustomer, cleo)
	require.NoError(t, err)
	assert.Equal(t, "edge.customer.deleted", last.Type, "the customer the restore removed is published as deleted")
	assert.EqualValues(t, 1, last.Epoch)

	// The first commit after the restore gets the version "Adelaide" had.
	rename("Ada Lovelace")
	r.settle()
	assert.Equal(t, "Ada Lovelace Test", r.contactByEmail("ada@example.com").Name)
	assert.Equal(t, 3, r.emu.ContactCount(), "Podium keeps the contact of a customer deleted in Edge")
}

func (r *podiumRig) contactByEmail(email string) (out struct{ Name string }) {
	r.t.Helper()
	for _, c := range r.emu.Contacts() {
		for _, e := range c.Emails {
			if e == email {
				out.Name = c.Name
				return out
			}
		}
	}
	r.t.Fatalf("no Podium contact with email %s", email)
	return out
}

func (r *podiumRig) lastEvent(e schemas.Entity, key string) (schemas.Envelope, error) {
	subj, err := schemas.EdgeSubjectFor(e, key)
	if err != nil {
		return schemas.Envelope{}, err
	}
	str, err := r.srv.JS.Stream(context.Background(), streams.StreamEdge)
	if err != nil {
		return schemas.Envelope{}, err
	}
	msg, err := str.GetLastMsgForSubject(context.Background(), subj.String())
	if err != nil {
		return schemas.Envelope{}, err
	}
	return schemas.DecodeEnvelope(msg.Data)
}
