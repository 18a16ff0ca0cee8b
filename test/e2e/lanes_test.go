package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
)

// A store's first upload runs at a tight rate limit. A customer made at the
// counter meanwhile, and a sale of the customer the upload will reach last,
// are in Podium while the upload is still under way: the live lane goes
// first, and the sale brings its customer with it. Nothing is sent twice:
// when the upload reaches that customer, it finds her sent.
func TestLiveChangesGoFirstDuringAnInitialUpload(t *testing.T) {
	r := newPodiumRig(t, func(s *rigSetup) {
		require.NoError(t, edgesim.Generate(s.db, edgesim.Spec{Seed: 11, Stores: 1, CustomersPerStore: 300, ItemsPerStore: 5}))
		s.client.RatePerMinute, s.client.RateWindow = 30, time.Second // 30 calls a second: the upload takes 10 s and more
	})
	synced := r.db.SyncedCustomers()
	require.Eventually(t, func() bool { return r.emu.ContactCount() > 10 }, time.Minute, 10*time.Millisecond, "the upload is under way")

	keys := r.db.CustomerKeys()
	slices.Sort(keys)
	var late string
	for _, k := range slices.Backward(keys) {
		if c := r.db.Customer(k); c != nil && c.SyncEnabled && email(c) != "" {
			late = k
			break
		}
	}
	require.NotEmpty(t, late)
	var sale string
	r.edge("", func(tx *edgesim.Tx) error {
		newCustomer(tx, "001", "Walk", "walk.in@example.com", "(512) 555-0199")
		var err error
		sale, err = tx.NewSale("001", schemas.Sale{CustomerKey: late, Total: 4321, Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", Qty: 1, Amount: 4321}}})
		return err
	})

	purchased := func() bool {
		for _, p := range feedBodies(t, r.emu, projectors.FeedPurchase, func(e podiumapi.FeedEvent) *podiumapi.Purchase { return e.Purchase }) {
			if p.SaleNumber == sale {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool { return hasEmail(r, "walk.in@example.com") && purchased() }, time.Minute, 10*time.Millisecond)
	assert.Less(t, r.emu.ContactCount(), synced, "the live changes arrived while the upload was under way")
	assert.True(t, hasEmail(r, email(r.db.Customer(late))), "the sale brought its customer")

	r.settle()
	assert.Equal(t, synced+1, r.emu.ContactCount())
	e := demo.PodiumEffects(r.db, r.emu)
	assert.True(t, e.Clean(), e.String())
}

func email(c *schemas.Customer) string {
	for _, m := range c.ContactMethods {
		if m.Method == schemas.MethodEmail {
			return m.Value
		}
	}
	return ""
}

func hasEmail(r *podiumRig, addr string) bool {
	for _, c := range r.emu.Contacts() {
		if slices.Contains(c.Emails, addr) {
			return true
		}
	}
	return false
}
