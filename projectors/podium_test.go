package projectors_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
)

func customer(edit func(*schemas.Customer)) *schemas.Customer {
	c := &schemas.Customer{
		Key: "001-000042", Store: "001", FirstName: "Ada", LastName: "Lovelace", SyncEnabled: true, Acquisition: "Referral",
		ContactMethods: []schemas.ContactMethod{
			{ID: 1, Method: schemas.MethodPhone, Value: "(512) 555-0142", Preferred: true},
			{ID: 2, Method: schemas.MethodEmail, Value: "ada@example.com", Preferred: true},
			{ID: 3, Method: schemas.MethodEmail, Value: "old@example.com"},
			{ID: 4, Method: schemas.MethodAddress, Preferred: true, Address: &schemas.Address{Line1: "1 Main St", City: "Austin", State: "TX"}},
		},
	}
	if edit != nil {
		edit(c)
	}
	return c
}

var opts = projectors.PodiumOptions{
	Locations: map[string]string{"001": "loc-1"}, AcquisitionAttribute: "attr-acq", Tier: projectors.TierClientelingPlus,
	ExcludeCategories: []int{150}, ExcludeVendors: []string{"RLX"}, ExcludeStockTypes: []string{"MEMO", "CONSIGNMENT"},
	ReviewCooldown: 30 * 24 * time.Hour, ReviewWindow: 48 * time.Hour,
}

func kinds(ops []projectors.PodiumOp) []projectors.PodiumOpKind {
	var out []projectors.PodiumOpKind
	for _, op := range ops {
		out = append(out, op.Kind)
	}
	return out
}

func TestPodiumCustomer(t *testing.T) {
	first := projectors.PodiumCustomer("", customer(nil), projectors.PodiumPrior{}, opts)
	pushed := projectors.PodiumPrior{Identifier: "conv-1", Hash: first.Hash, Acquisition: "Referral", Seen: first.Seen}

	tests := []struct {
		seed   string // the sentence the row implements
		origin string
		cust   *schemas.Customer
		prior  projectors.PodiumPrior
		kinds  []projectors.PodiumOpKind
		check  func(t *testing.T, ops []projectors.PodiumOp)
	}{
		{
			seed: "Upload ALL Customers to Podium: Edge Customer Contact Methods upload to Podium.",
			cust: customer(nil), kinds: []projectors.PodiumOpKind{projectors.PodiumCreate},
			check: func(t *testing.T, ops []projectors.PodiumOp) {
				assert.Equal(t, podiumapi.Contact{
					Name: "Ada Lovelace", Locations: []string{"loc-1"}, PhoneNumber: "+15125550142", Email: "ada@example.com",
					Address:    &podiumapi.Address{AddressLine1: "1 Main St", City: "Austin", State: "TX"},
					Attributes: []podiumapi.Attribute{{UID: "attr-acq", Value: "Referral"}},
				}, ops[0].Contact)
			},
		},
		{
			seed:  "Contact Method changes made in Edge will overwrite (update) the Podium customer data.",
			cust:  customer(func(c *schemas.Customer) { c.ContactMethods[1].Value = "ada@new.example.com" }),
			prior: pushed, kinds: []projectors.PodiumOpKind{projectors.PodiumUpdate},
			check: func(t *testing.T, ops []projectors.PodiumOp) {
				assert.Equal(t, "conv-1", ops[0].Identifier)
				assert.Equal(t, "ada@new.example.com", ops[0].Contact.Email)
			},
		},
		{
			seed:  "Acquisition (the first why-in) ... will upload from Edge to Podium",
			cust:  customer(func(c *schemas.Customer) { c.Acquisition = "Bridal Event" }),
			prior: pushed, kinds: []projectors.PodiumOpKind{projectors.PodiumSetAttribute},
			check: func(t *testing.T, ops []projectors.PodiumOp) {
				assert.Equal(t, podiumapi.Attribute{UID: "attr-acq", Value: "Bridal Event"}, ops[0].Attribute)
			},
		},
		{seed: "(idempotence) an unchanged customer makes no API call", cust: customer(nil), prior: pushed, kinds: []projectors.PodiumOpKind{projectors.PodiumSkip}},
		{seed: "(no echo) a change edgesync wrote on behalf of Podium is not sent back to Podium", origin: projectors.PartnerPodium, cust: customer(nil), kinds: []projectors.PodiumOpKind{projectors.PodiumSkip}},
		{
			seed:   "(no echo) Contact Method changes made in Podium will import as new Edge contact methods: that import is not sent back",
			origin: projectors.PartnerPodium, prior: pushed, kinds: []projectors.PodiumOpKind{projectors.PodiumSkip},
			cust: customer(func(c *schemas.Customer) {
				c.ContactMethods = append(c.ContactMethods, schemas.ContactMethod{ID: 9, Method: schemas.MethodEmail, Value: "ada@podium.example.com", Source: "PODIUM"})
			}),
		},
		{
			// SYS_CHANGE_CONTEXT keeps the last change's context only.
			seed:   "Changes made in Edge upload to Podium, also when Podium's change to the same customer arrives in the same event",
			origin: projectors.PartnerPodium, prior: pushed, kinds: []projectors.PodiumOpKind{projectors.PodiumUpdate},
			cust: customer(func(c *schemas.Customer) {
				c.LastName = "King"
				c.ContactMethods = append(c.ContactMethods, schemas.ContactMethod{ID: 9, Method: schemas.MethodEmail, Value: "ada@podium.example.com", Source: "PODIUM"})
			}),
			check: func(t *testing.T, ops []projectors.PodiumOp) {
				assert.Equal(t, podiumapi.Contact{Name: "Ada King"}, ops[0].Contact,
					"only the Edge user's edit: Podium's own change is not overwritten")
			},
		},
		{seed: "Customers that are set to synchronize will transmit ...: others do not", cust: customer(func(c *schemas.Customer) { c.SyncEnabled = false }), kinds: []projectors.PodiumOpKind{projectors.PodiumSkip}},
		{seed: "(inactive customers are functionally deleted in Edge)", cust: customer(func(c *schemas.Customer) { c.Inactive = true }), kinds: []projectors.PodiumOpKind{projectors.PodiumSkip}},
		{seed: "(multi-store) each store has its own Podium location; a store without one is skipped", cust: customer(func(c *schemas.Customer) { c.Store = "002"; c.Key = "002-000001" }), kinds: []projectors.PodiumOpKind{projectors.PodiumSkip}},
		{seed: "(Podium identifies contacts by phone or email) a customer with neither is not sendable, never silently skipped", cust: customer(func(c *schemas.Customer) { c.ContactMethods = c.ContactMethods[3:] }), kinds: []projectors.PodiumOpKind{projectors.PodiumNotSendable}},
		{
			seed: "(preferred contact method) the preferred one is sent, others stay in Edge",
			cust: customer(func(c *schemas.Customer) { c.ContactMethods[1].Inactive = true }), kinds: []projectors.PodiumOpKind{projectors.PodiumCreate},
			check: func(t *testing.T, ops []projectors.PodiumOp) {
				assert.Equal(t, "old@example.com", ops[0].Contact.Email)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			res := projectors.PodiumCustomer(tt.origin, tt.cust, tt.prior, opts)
			assert.Equal(t, tt.kinds, kinds(res.Ops), res.Ops[0].Reason)
			if tt.kinds[0] == projectors.PodiumSkip {
				assert.NotEmpty(t, res.Ops[0].Reason)
			}
			if tt.check != nil {
				tt.check(t, res.Ops)
			}
		})
	}
}

var (
	now    = time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	ev     = projectors.EventMeta{ID: "x:001-1:7", Time: now}
	person = projectors.PodiumPerson{Known: true, Identifier: "conv-1", Name: "Ada Lovelace", Phone: "+15125550142", Email: "ada@example.com"}
)

func sale(lineType string) *schemas.Sale {
	return &schemas.Sale{Key: "001-000100", Store: "001", SaleNo: 100, Date: now, CustomerKey: "001-000042", Subtotal: 100000, Tax: 8000, Total: 108000,
		Lines: []schemas.SaleLine{{LineNo: 1, Type: lineType, ItemKey: "001-100-00001", Qty: 1, Amount: 100000, Description: "Bridal 14K"}}}
}

func TestPodiumSale(t *testing.T) {
	tests := []struct {
		seed   string
		sale   *schemas.Sale
		person projectors.PodiumPerson
		prior  projectors.PodiumActivityPrior
		kinds  []projectors.PodiumOpKind
		wait   bool
	}{
		{seed: "Edge Sales History uploads to Podium Client Purchases; a sale ... revenue realized ... we send the customer details to Podium (review invitation)",
			sale: sale("MERCH"), person: person, kinds: []projectors.PodiumOpKind{projectors.PodiumFeed, projectors.PodiumInvite}},
		{seed: "a pickup inventory item is marked Taken: review invitation", sale: sale("PICKUP"), person: person, kinds: []projectors.PodiumOpKind{projectors.PodiumFeed, projectors.PodiumInvite}},
		{seed: "a repair intake is history, not a finalised sale: no invitation", sale: sale("REPAIR"), person: person, kinds: []projectors.PodiumOpKind{projectors.PodiumFeed}},
		{seed: "(backfill) years of sales history upload without inviting every customer", sale: func() *schemas.Sale { s := sale("MERCH"); s.Date = now.AddDate(-2, 0, 0); return s }(),
			person: person, kinds: []projectors.PodiumOpKind{projectors.PodiumFeed}},
		{seed: "(cool-down) at most one invitation per customer per cool-down", sale: sale("MERCH"),
			person: func() projectors.PodiumPerson { p := person; p.LastInvite = now.Add(-48 * time.Hour); return p }(),
			kinds:  []projectors.PodiumOpKind{projectors.PodiumFeed}},
		{seed: "(cash sale) no customer, nothing to attach the purchase to", sale: func() *schemas.Sale { s := sale("MERCH"); s.CustomerKey = ""; return s }(), person: person, kinds: []projectors.PodiumOpKind{projectors.PodiumSkip}},
		{seed: "(ordering) a sale whose customer is not processed yet waits", sale: sale("MERCH"), person: projectors.PodiumPerson{}, wait: true},
		{seed: "a customer not in Podium gets no purchases", sale: sale("MERCH"), person: projectors.PodiumPerson{Known: true}, kinds: []projectors.PodiumOpKind{projectors.PodiumSkip}},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			res, ready := projectors.PodiumSale(ev, tt.sale, tt.person, tt.prior, opts)
			require.Equal(t, !tt.wait, ready)
			if tt.wait {
				return
			}
			assert.Equal(t, tt.kinds, kinds(res.Ops))
		})
	}
	res, _ := projectors.PodiumSale(ev, sale("MERCH"), person, projectors.PodiumActivityPrior{}, opts)
	assert.Equal(t, "1080.00", res.Ops[0].Feed.Purchase.Total)
	assert.Equal(t, "conv-1", res.Ops[0].Feed.Contact.Identifier)
	again, _ := projectors.PodiumSale(ev, sale("MERCH"), person, projectors.PodiumActivityPrior{Hash: res.Hash}, opts)
	assert.Equal(t, []projectors.PodiumOpKind{projectors.PodiumSkip}, kinds(again.Ops), "an unchanged sale sends nothing")
}

func appointment(status string) *schemas.Appointment {
	return &schemas.Appointment{ID: 9, Store: "001", CustomerKey: "001-000042", Type: "SALESOPP", BeginAt: now, Status: status, DateCreated: now}
}

func TestPodiumAppointment(t *testing.T) {
	created, _ := projectors.PodiumAppointment(ev, appointment("OPEN"), person, projectors.PodiumActivityPrior{}, opts)
	require.Equal(t, []projectors.PodiumOpKind{projectors.PodiumFeed}, kinds(created.Ops))
	assert.Equal(t, "created", created.Ops[0].Feed.Appointment.StatusName, "Appointments ... created, updated, and completed")

	started, _ := projectors.PodiumAppointment(ev, appointment("STARTED"), person, projectors.PodiumActivityPrior{Hash: created.Hash, Status: created.Status}, opts)
	assert.Equal(t, []projectors.PodiumOpKind{projectors.PodiumFeed, projectors.PodiumInvite}, kinds(started.Ops), "When an appointment is Started ... review")
	assert.Equal(t, "updated", started.Ops[0].Feed.Appointment.StatusName)

	done, _ := projectors.PodiumAppointment(ev, appointment("SUCCESS"), person, projectors.PodiumActivityPrior{Hash: started.Hash, Status: started.Status}, opts)
	assert.Equal(t, []projectors.PodiumOpKind{projectors.PodiumFeed}, kinds(done.Ops), "one invitation for started then completed")
	assert.Equal(t, "completed", done.Ops[0].Feed.Appointment.StatusName)

	same, _ := projectors.PodiumAppointment(ev, appointment("SUCCESS"), person, projectors.PodiumActivityPrior{Hash: done.Hash, Status: done.Status}, opts)
	assert.Equal(t, []projectors.PodiumOpKind{projectors.PodiumSkip}, kinds(same.Ops))
}

func job(status string) *schemas.ServiceJob {
	return &schemas.ServiceJob{Key: "001-000100-001", Store: "001", SaleNo: 100, JobNo: 1, JobType: "REPAIR", CustomerKey: "001-000042", DateEntered: now, Status: status}
}

func TestPodiumService(t *testing.T) {
	var prior projectors.PodiumActivityPrior
	for _, step := range []struct {
		status, shown string
		kinds         []projectors.PodiumOpKind
	}{
		{"NOTREADY", "Not Ready", []projectors.PodiumOpKind{projectors.PodiumFeed}},
		{"INPROCESS", "Not Ready", []projectors.PodiumOpKind{projectors.PodiumSkip}},
		{"DONE", "Done", []projectors.PodiumOpKind{projectors.PodiumFeed}},
		{"PICKEDUP", "Picked Up", []projectors.PodiumOpKind{projectors.PodiumFeed, projectors.PodiumInvite}},
	} {
		res, ready := projectors.PodiumService(ev, job(step.status), person, prior, opts)
		require.True(t, ready)
		assert.Equal(t, step.kinds, kinds(res.Ops), "Service Job updates are sent to Podium with Not Ready, Done, and Picked Up statuses (%s)", step.status)
		if res.Ops[0].Kind == projectors.PodiumFeed {
			assert.Equal(t, step.shown, res.Ops[0].Feed.ServiceJob.Status)
		}
		prior = projectors.PodiumActivityPrior{Hash: res.Hash, Status: res.Status}
	}
	old := job("PICKEDUP")
	picked := now.AddDate(-1, 0, 0)
	old.DatePickedUp = &picked
	backfill, _ := projectors.PodiumService(ev, old, person, projectors.PodiumActivityPrior{}, opts)
	assert.Equal(t, []projectors.PodiumOpKind{projectors.PodiumFeed}, kinds(backfill.Ops), "a job picked up last year, first seen in a backfill, invites nobody")

	cancelled, _ := projectors.PodiumService(ev, job("CANCELLED"), person, projectors.PodiumActivityPrior{}, opts)
	assert.Equal(t, []projectors.PodiumOpKind{projectors.PodiumSkip}, kinds(cancelled.Ops))
}

func item(edit func(*schemas.Item)) *schemas.Item {
	it := &schemas.Item{Key: "001-100-00001", Store: "001", CategoryID: 100, StockNo: 1, VendorID: "TAC", StockType: "STOCK", Status: "I",
		Description: "Bridal 14K", RetailPrice: 100000, CurrentPrice: 90000, DateStatusChanged: now}
	if edit != nil {
		edit(it)
	}
	return it
}

func TestPodiumItem(t *testing.T) {
	onHand := projectors.PodiumItem(ev, item(nil), projectors.PodiumActivityPrior{}, opts)
	tests := []struct {
		seed  string
		item  *schemas.Item
		prior projectors.PodiumActivityPrior
		opts  func(*projectors.PodiumOptions)
		kind  projectors.PodiumOpKind
		check func(t *testing.T, p *podiumapi.Product)
	}{
		{seed: "On hand Edge inventory is uploaded as Podium Products (searchable by Edge Item Number)", item: item(nil), kind: projectors.PodiumFeed,
			check: func(t *testing.T, p *podiumapi.Product) {
				assert.Equal(t, "001-100-00001", p.XID)
				assert.False(t, p.Archived)
				assert.Equal(t, "900.00", p.Price)
			}},
		{seed: "Items (Exclusive to Clientele+ Tier ONLY)", item: item(nil), opts: func(o *projectors.PodiumOptions) { o.Tier = projectors.TierClienteling }, kind: projectors.PodiumSkip},
		{seed: "filters available to exclude specific categories", item: item(func(i *schemas.Item) { i.CategoryID = 150 }), kind: projectors.PodiumSkip},
		{seed: "filters available to exclude ... vendors", item: item(func(i *schemas.Item) { i.VendorID = "RLX" }), kind: projectors.PodiumSkip},
		{seed: "filters available to exclude ... inventory types (memo, consignment, trade, etc)", item: item(func(i *schemas.Item) { i.StockType = "MEMO" }), kind: projectors.PodiumSkip},
		{seed: "any related sold items are uploaded to Podium Archived Products", item: item(func(i *schemas.Item) { i.Status = "S" }), kind: projectors.PodiumFeed,
			check: func(t *testing.T, p *podiumapi.Product) { assert.True(t, p.Archived) }},
		{seed: "an uploaded item that leaves the store (memo out) is archived", item: item(func(i *schemas.Item) { i.Status = "M" }), prior: projectors.PodiumActivityPrior{Hash: onHand.Hash}, kind: projectors.PodiumFeed,
			check: func(t *testing.T, p *podiumapi.Product) { assert.True(t, p.Archived) }},
		{seed: "an item never uploaded and not on hand is not sent", item: item(func(i *schemas.Item) { i.Status = "M" }), kind: projectors.PodiumSkip},
		{seed: "(idempotence) an unchanged item sends nothing", item: item(nil), prior: projectors.PodiumActivityPrior{Hash: onHand.Hash}, kind: projectors.PodiumSkip},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			o := opts
			if tt.opts != nil {
				tt.opts(&o)
			}
			res := projectors.PodiumItem(ev, tt.item, tt.prior, o)
			require.Len(t, res.Ops, 1)
			assert.Equal(t, tt.kind, res.Ops[0].Kind, res.Ops[0].Reason)
			if tt.check != nil {
				tt.check(t, res.Ops[0].Feed.Product)
			}
		})
	}
}

func TestPodiumNotification(t *testing.T) {
	n := &schemas.Notification{ID: 1, Store: "001", Channel: "SMS", Provider: "PODIUM", To: "(512) 555-0142", Body: "Your repair is ready", Status: "QUEUED"}
	res, failed := projectors.PodiumNotification(n, projectors.PodiumActivityPrior{}, opts)
	require.Empty(t, failed)
	require.Equal(t, projectors.PodiumMessage, res.Ops[0].Kind, "all text message notifications sent directly from the Edge would utilize the Podium backend")
	assert.Equal(t, podiumapi.SMS{LocationUID: "loc-1", Body: "Your repair is ready", Phone: "+15125550142"}, *res.Ops[0].Message)

	again, _ := projectors.PodiumNotification(n, projectors.PodiumActivityPrior{Hash: res.Hash}, opts)
	assert.Equal(t, projectors.PodiumSkip, again.Ops[0].Kind, "a notification is sent once")

	other := *n
	other.Provider = "CLIENTBOOK"
	skipped, _ := projectors.PodiumNotification(&other, projectors.PodiumActivityPrior{}, opts)
	assert.Equal(t, projectors.PodiumSkip, skipped.Ops[0].Kind)

	bad := *n
	bad.To = "not a number"
	_, failed = projectors.PodiumNotification(&bad, projectors.PodiumActivityPrior{}, opts)
	assert.Contains(t, failed, "not a phone number")
}

func TestE164(t *testing.T) {
	for in, want := range map[string]string{
		"(512) 555-0142":  "+15125550142",
		"1-512-555-0142":  "+15125550142",
		"+61 2 9999 0000": "+61299990000",
		"555-0142":        "",
		"":                "",
		"+0123456789":     "",
	} {
		assert.Equal(t, want, projectors.E164(in), in)
	}
}

func TestMoney(t *testing.T) {
	assert.Equal(t, "0.05", projectors.Money(5))
	assert.Equal(t, "-12.30", projectors.Money(-1230))
}
