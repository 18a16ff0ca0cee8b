package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
)

// Change Tracking keeps the context of a row's last change only. An Edge
// user renames a customer, and before capture's next read the Edge writer
// adds the email an associate changed in Podium: capture sees one change,
// with Podium's origin. The Podium connector used to skip such an event
// whole, and the rename never reached Podium. Now it sends the user's edit
// and only it: the email Podium changed is not put back.
func TestAUserEditBeforeAPodiumWriteStillReachesPodium(t *testing.T) {
	ctx := context.Background()
	r := newPodiumRig(t, func(s *rigSetup) { s.capture.PollInterval = time.Hour }) // the test cycles capture itself
	// The capture loop's first cycle runs at start; two cycles at once
	// could store an older checkpoint after a newer one.
	r.settle()
	var ada string
	r.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		return nil
	})
	require.NoError(t, r.cpt.Cycle(ctx))
	r.settle()
	require.Len(t, r.emu.Contacts(), 1)
	contact := r.emu.Contacts()[0]

	// The associate's change in Podium, and its import into Edge by the
	// writer, right after the counter's rename.
	require.True(t, r.emu.EditContact(contact.Conversations[0].UID, func(c *podiumemu.Contact) { c.Emails = []string{"ada@podium.example.com"} }))
	r.edge("", func(tx *edgesim.Tx) error {
		c := tx.Customer(ada)
		c.LastName = "King"
		return tx.PutCustomer(c)
	})
	r.edge(projectors.PartnerPodium, func(tx *edgesim.Tx) error {
		_, err := tx.AddContactMethod(ada, schemas.ContactMethod{Method: schemas.MethodEmail, Value: "ada@podium.example.com", Source: "PODIUM"})
		return err
	})
	require.NoError(t, r.cpt.Cycle(ctx))
	r.settle()

	got, ok := r.emu.ContactByIdentifier(contact.Conversations[0].UID)
	require.True(t, ok)
	assert.Equal(t, "Ada King", got.Name, "the counter's rename reached Podium")
	assert.Equal(t, []string{"ada@podium.example.com"}, got.Emails, "Podium's own change is not overwritten by its echo")
}

// The same for Clientbook: an event that came from Clientbook but holds an
// Edge user's rename (Change Tracking's last context is Clientbook's)
// sends the rename; Clientbook's own addition is not what makes it send.
func TestAUserEditBeforeAClientbookWriteStillReachesClientbook(t *testing.T) {
	r := newClientbookRig(t)
	var ada string
	r.edge(func(tx *edgesim.Tx) error {
		var err error
		ada, err = tx.NewCustomer("001", schemas.Customer{FirstName: "Ada", LastName: "Lovelace",
			ContactMethods: []schemas.ContactMethod{{Method: schemas.MethodEmail, Value: "ada@example.com", Preferred: true}}})
		return err
	})
	r.settle()
	updates := r.emu.Counter("clients.updated")

	// Clientbook's write alone is its echo: no call.
	_, err := r.db.Update(projectors.PartnerClientbook, func(tx *edgesim.Tx) error {
		_, err := tx.AddContactMethod(ada, schemas.ContactMethod{Method: schemas.MethodEmail, Value: "ada@cb.example.com", Source: "CLIENTBOOK"})
		return err
	})
	require.NoError(t, err)
	r.settle()
	assert.Equal(t, updates, r.emu.Counter("clients.updated"), "Clientbook's own change is not sent back")

	// The counter's rename, then Clientbook's write, read as one change
	// with Clientbook's origin.
	_, err = r.db.Update(projectors.PartnerClientbook, func(tx *edgesim.Tx) error {
		c := tx.Customer(ada)
		c.LastName = "King"
		if err := tx.PutCustomer(c); err != nil {
			return err
		}
		_, err := tx.AddContactMethod(ada, schemas.ContactMethod{Method: schemas.MethodPhone, Value: "+15125550199", Source: "CLIENTBOOK"})
		return err
	})
	require.NoError(t, err)
	r.settle()
	got, ok := r.emu.ClientByExternal(ada)
	require.True(t, ok)
	assert.Equal(t, "King", got.LastName, "the counter's rename reached Clientbook")
}
