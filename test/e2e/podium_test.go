package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

func attribute(c podiumemu.Contact, label string) any {
	for _, a := range c.Attributes {
		if a.Label == label || a.Label == "" {
			return a.Value
		}
	}
	return nil
}

func TestPodiumCustomers(t *testing.T) {
	r := newPodiumRig(t)
	var ada, grace, off, elsewhere string
	r.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "(512) 555-0101")
		grace = newCustomer(tx, "001", "Grace", "", "(512) 555-0102")
		off = newCustomer(tx, "001", "Off", "off@example.com", "")
		c := tx.Customer(off)
		c.SyncEnabled = false
		elsewhere = newCustomer(tx, "002", "Elsewhere", "else@example.com", "")
		return tx.PutCustomer(c)
	})
	r.settle()

	assert.Equal(t, 2, r.emu.ContactCount(), "set to synchronize, in a store with a Podium location")
	c, ok := r.emu.ContactByIdentifier("ada@example.com")
	require.True(t, ok)
	assert.Equal(t, "Ada Test", c.Name)
	assert.Equal(t, []string{"+15125550101"}, c.PhoneNumbers)
	assert.Equal(t, "Referral", attribute(c, "Acquisition"), "Acquisition (the first why-in) ... will upload from Edge to Podium")
	_, ok = r.emu.ContactByIdentifier("+15125550102")
	assert.True(t, ok, grace)
	_, ok = r.emu.ContactByIdentifier("off@example.com")
	assert.False(t, ok, off)
	_, ok = r.emu.ContactByIdentifier("else@example.com")
	assert.False(t, ok, elsewhere)

	// "Contact Method changes made in Edge will overwrite (update) the Podium customer data."
	r.edge("", func(tx *edgesim.Tx) error {
		c := tx.Customer(ada)
		c.ContactMethods[0].Value = "ada@new.example.com"
		return tx.PutCustomer(c)
	})
	r.settle()
	c, ok = r.emu.ContactByIdentifier("ada@new.example.com")
	require.True(t, ok)
	assert.Equal(t, []string{"ada@new.example.com"}, c.Emails)
	assert.Equal(t, 2, r.emu.ContactCount())

	// No echo: a change edgesync wrote into Edge for Podium is not sent back.
	updates := r.emu.Counter("contacts.updated")
	r.edge(projectors.PartnerPodium, func(tx *edgesim.Tx) error {
		_, err := tx.AddContactMethod(ada, schemas.ContactMethod{Method: schemas.MethodEmail, Value: "from-podium@example.com", Source: "PODIUM"})
		return err
	})
	r.settle()
	assert.Equal(t, updates, r.emu.Counter("contacts.updated"))

	// A restart re-sends nothing: unchanged customers make no call.
	requests := r.emu.Counter("requests")
	r.edge("", func(tx *edgesim.Tx) error { return tx.PutCustomer(tx.Customer(grace)) })
	r.settle()
	assert.Equal(t, requests, r.emu.Counter("requests"), "an aggregate saved without change makes no API call")
}

func feedBodies[T any](t *testing.T, emu *podiumemu.Emulator, typ string, pick func(podiumapi.FeedEvent) *T) []T {
	var out []T
	for _, fe := range emu.FeedEvents(typ) {
		var ev podiumapi.FeedEvent
		require.NoError(t, json.Unmarshal(fe.Body, &ev))
		out = append(out, *pick(ev))
	}
	return out
}

func TestPodiumHistoryAndTimeline(t *testing.T) {
	r := newPodiumRig(t)
	var ada, saleKey string
	r.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "(512) 555-0101")
		it := tx.PutItem(schemas.Item{Store: "001", CategoryID: 100, StockType: "STOCK", Status: "S", Description: "Bridal 14K", RetailPrice: 150000, CurrentPrice: 120000})
		var err error
		saleKey, err = tx.NewSale("001", schemas.Sale{CustomerKey: ada, Subtotal: 120000, Tax: 9600, Total: 129600,
			Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", ItemKey: it, Qty: 1, Amount: 120000, Description: "Bridal 14K"}}})
		return err
	})
	r.settle()
	// "Edge Sales History uploads to Podium Client Purchases."
	purchases := feedBodies(t, r.emu, projectors.FeedPurchase, func(e podiumapi.FeedEvent) *podiumapi.Purchase { return e.Purchase })
	require.Len(t, purchases, 1)
	assert.Equal(t, saleKey, purchases[0].SaleNumber)
	assert.Equal(t, "1296.00", purchases[0].Total)

	// "Appointments created for Customers in Edge ... created, updated, and completed."
	var appt string
	for _, status := range []string{"OPEN", "STARTED", "SUCCESS"} {
		r.edge("", func(tx *edgesim.Tx) error {
			a := schemas.Appointment{Store: "001", CustomerKey: ada, Type: "SALESOPP", BeginAt: time.Now(), Status: status}
			if appt != "" {
				a = *tx.Appointment(appt)
				a.Status = status
			}
			var err error
			appt, err = tx.PutAppointment(a)
			return err
		})
		r.settle()
	}
	entries := feedBodies(t, r.emu, projectors.FeedAppointment, func(e podiumapi.FeedEvent) *podiumapi.AppointmentEntry { return e.Appointment })
	var names []string
	for _, e := range entries {
		names = append(names, e.StatusName)
	}
	assert.Equal(t, []string{"created", "updated", "completed"}, names)

	// "Service Job updates are sent to Podium with Not Ready, Done, and Picked Up statuses."
	entered := time.Now().Add(-time.Hour)
	for _, status := range []string{"NOTREADY", "INPROCESS", "DONE", "PICKEDUP"} {
		r.edge("", func(tx *edgesim.Tx) error {
			now := time.Now()
			j := schemas.ServiceJob{Store: "001", SaleNo: 900, JobNo: 1, JobType: "REPAIR", CustomerKey: ada, DateEntered: entered, Status: status, Summary: "Size ring"}
			if status == "PICKEDUP" {
				j.DatePickedUp = &now
			}
			tx.PutService(j)
			return nil
		})
		r.settle()
	}
	jobs := feedBodies(t, r.emu, projectors.FeedServiceJob, func(e podiumapi.FeedEvent) *podiumapi.ServiceEntry { return e.ServiceJob })
	var statuses []string
	for _, j := range jobs {
		statuses = append(statuses, j.Status)
	}
	assert.Equal(t, []string{"Not Ready", "Done", "Picked Up"}, statuses)
	for _, fe := range r.emu.FeedEvents("") {
		var ev podiumapi.FeedEvent
		require.NoError(t, json.Unmarshal(fe.Body, &ev))
		if ev.Contact != nil {
			assert.Equal(t, "ada@example.com", ev.Contact.Email, "timeline entries land on the customer's contact")
		}
	}
}

func TestPodiumItemsByTier(t *testing.T) {
	items := func(tx *edgesim.Tx) error {
		tx.PutItem(schemas.Item{Store: "001", CategoryID: 100, VendorID: "TAC", StockType: "STOCK", Status: "I", Description: "On hand", CurrentPrice: 5000})
		tx.PutItem(schemas.Item{Store: "001", CategoryID: 150, VendorID: "TAC", StockType: "STOCK", Status: "I", Description: "Estate (excluded category)", CurrentPrice: 5000})
		tx.PutItem(schemas.Item{Store: "001", CategoryID: 100, VendorID: "TAC", StockType: "MEMO", Status: "I", Description: "Memo (excluded type)", CurrentPrice: 5000})
		tx.PutItem(schemas.Item{Store: "001", CategoryID: 120, VendorID: "GAB", StockType: "STOCK", Status: "S", Description: "Sold", CurrentPrice: 5000})
		return nil
	}
	tests := []struct {
		tier string
		want map[string]bool // description -> archived
	}{
		{projectors.TierClienteling, map[string]bool{}},
		{projectors.TierClientelingPlus, map[string]bool{"On hand": false, "Sold": true}},
	}
	for _, tt := range tests {
		t.Run(tt.tier, func(t *testing.T) {
			r := newPodiumRig(t, func(s *rigSetup) { s.podium.Tier = tt.tier })
			r.edge("", items)
			r.settle()
			got := map[string]bool{}
			for _, p := range feedBodies(t, r.emu, projectors.FeedProduct, func(e podiumapi.FeedEvent) *podiumapi.Product { return e.Product }) {
				got[p.Name] = p.Archived
			}
			assert.Equal(t, tt.want, got, "a Clienteling account never receives items; excluded categories and types never arrive")
		})
	}
}

func TestPodiumReviewInvitations(t *testing.T) {
	r := newPodiumRig(t, func(s *rigSetup) {
		s.podium.ReviewCooldown = 30 * 24 * time.Hour
	})
	var ada, elsewhere string
	sell := func(customer, store string) func(tx *edgesim.Tx) error {
		return func(tx *edgesim.Tx) error {
			_, err := tx.NewSale(store, schemas.Sale{CustomerKey: customer, Total: 1000, Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", Qty: 1, Amount: 1000}}})
			return err
		}
	}
	r.edge("", func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "(512) 555-0101")
		elsewhere = newCustomer(tx, "002", "Elsewhere", "else@example.com", "")
		return nil
	})
	r.edge("", sell(ada, "001"))
	r.settle()
	invites := r.emu.ReviewInvites()
	require.Len(t, invites, 1, "a finalised sale invites a review")
	assert.Equal(t, r.loc, invites[0].Location.UID, "for the store's own Podium location")
	assert.Equal(t, "+15125550101", invites[0].Channel.Identifier)

	r.edge("", sell(ada, "001"))
	r.edge("", sell(elsewhere, "002"))
	r.settle()
	assert.Len(t, r.emu.ReviewInvites(), 1, "at most once per customer per cool-down; a store without a location is skipped")
}

func TestPodiumTextsAndOutcomes(t *testing.T) {
	r := newPodiumRig(t)
	var ok, failing, other string
	r.edge("", func(tx *edgesim.Tx) error {
		ok = tx.PutNotification(schemas.Notification{Store: "001", Channel: "SMS", Provider: "PODIUM", To: "(512) 555-0101", Reason: "JOBREADY", Body: "Your repair is ready", Status: "QUEUED"})
		failing = tx.PutNotification(schemas.Notification{Store: "001", Channel: "SMS", Provider: "PODIUM", To: "+1 555 000 1234", Body: "Your repair is ready", Status: "QUEUED"})
		other = tx.PutNotification(schemas.Notification{Store: "001", Channel: "SMS", Provider: "CLIENTBOOK", To: "(512) 555-0101", Body: "not ours", Status: "QUEUED"})
		return nil
	})
	r.settle()
	msgs := r.emu.Messages()
	require.Len(t, msgs, 2, "Podium sends the Edge's texts when it is the SMS provider, and only those")
	assert.Equal(t, "Your repair is ready", msgs[0].Body)
	assert.Equal(t, r.loc, msgs[0].Location.UID)

	outcomes := map[string]schemas.NotificationOutcome{}
	for _, m := range natstest.Messages(t, r.srv.JS, streams.StreamPartner) {
		require.NoError(t, schemas.ValidatePartner(m.Data))
		pe, err := schemas.DecodePartnerEnvelope(m.Data)
		require.NoError(t, err)
		var o schemas.NotificationOutcome
		require.NoError(t, json.Unmarshal(pe.Data, &o))
		outcomes[o.NotificationKey] = o
	}
	assert.Equal(t, "SENT", outcomes[ok].Status)
	assert.Equal(t, "FAILED", outcomes[failing].Status)
	assert.NotEmpty(t, outcomes[failing].Reason)
	assert.NotContains(t, outcomes, other)
}

// Steady load at the account's limit never draws a 429: the client stays
// under the emulator's sliding window. The window is shrunk to two seconds
// so the test runs in seconds; the arithmetic is the per-minute one.
func TestPodiumSteadyLoadNeverDraws429(t *testing.T) {
	r := newPodiumRig(t, func(s *rigSetup) {
		s.emu.SetLimitWindow(30, 2*time.Second)
		s.client.RatePerMinute, s.client.RateWindow = 30, 2*time.Second
	})
	r.edge("", func(tx *edgesim.Tx) error {
		for i := range 60 {
			newCustomer(tx, "001", fmt.Sprintf("C%d", i), fmt.Sprintf("c%d@example.com", i), "")
		}
		return nil
	})
	r.settle()
	assert.Equal(t, 60, r.emu.ContactCount())
	assert.Zero(t, r.emu.Counter("rate_limited"))
	assert.Zero(t, r.emu.Counter("status.429"))
}

func TestPodiumFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults emulator.Faults
	}{
		{"a token that expires mid-run is refreshed without losing or repeating a call", emulator.Faults{ExpireAll: true}},
		{"a 5xx burst delays but loses nothing", emulator.Faults{Burst500: 4}},
		{"429 bursts are waited out", emulator.Faults{Burst429: 3, RetryAfter: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPodiumRig(t)
			batch := func(from int) func(tx *edgesim.Tx) error {
				return func(tx *edgesim.Tx) error {
					for i := from; i < from+20; i++ {
						newCustomer(tx, "001", fmt.Sprintf("C%d", i), fmt.Sprintf("c%d@example.com", i), "")
					}
					return nil
				}
			}
			r.edge("", batch(0))
			r.settle()
			r.emu.SetFaults(tt.faults)
			r.edge("", batch(20))
			r.settle()
			assert.Equal(t, 40, r.emu.ContactCount())
			assert.Equal(t, 40, r.emu.Counter("contacts.created"), "each contact created exactly once")
			assert.Zero(t, r.emu.Counter("contacts.upserted"), "no call repeated")
		})
	}
}

// A text Podium sent whose outcome cannot be published at once (the
// PARTNER stream away) is neither sent again nor left without an outcome:
// the outcome is saved with the connector's state before it is published,
// and the redelivery publishes it, so the Edge writer records SENT.
func TestAPodiumTextsOutcomeSurvivesAFailedPublish(t *testing.T) {
	ctx := context.Background()
	r := newPodiumRig(t, func(s *rigSetup) { s.conn.Retry = []time.Duration{200 * time.Millisecond} })
	require.NoError(t, r.srv.JS.DeleteStream(ctx, streams.StreamPartner))
	var key string
	r.edge("", func(tx *edgesim.Tx) error {
		key = tx.PutNotification(schemas.Notification{Store: "001", Channel: "SMS", Provider: "PODIUM", To: "(512) 555-0101", Body: "Your repair is ready", Status: "QUEUED"})
		return nil
	})
	require.Eventually(t, func() bool { return len(r.emu.Messages()) == 1 }, 20*time.Second, 20*time.Millisecond, "the text goes out")
	time.Sleep(12 * time.Second) // past PublishMsg's 10 s of tries: the first publish fails
	require.NoError(t, streams.Provision(ctx, r.srv.JS, streams.DefaultConfig()))
	var outcome schemas.NotificationOutcome
	require.Eventually(t, func() bool {
		str, err := r.srv.JS.Stream(ctx, streams.StreamPartner)
		if err != nil {
			return false
		}
		m, err := str.GetLastMsgForSubject(ctx, "partner.podium.notification.>")
		if err != nil {
			return false
		}
		pe, err := schemas.DecodePartnerEnvelope(m.Data)
		return err == nil && json.Unmarshal(pe.Data, &outcome) == nil
	}, 20*time.Second, 50*time.Millisecond, "the outcome reaches PARTNER once it is back")
	assert.Equal(t, key, outcome.NotificationKey)
	assert.Equal(t, "SENT", outcome.Status)
	r.settle()
	assert.Len(t, r.emu.Messages(), 1, "the text was not sent again")
}
