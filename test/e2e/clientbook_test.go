package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/streams"
)

func values(cs []clientbookemu.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Value)
	}
	return out
}

func TestClientbookClientsFromEdge(t *testing.T) {
	r := newClientbookRig(t)
	var ada, bob string
	r.edge(func(tx *edgesim.Tx) error {
		var err error
		ada, err = tx.NewCustomer("001", schemas.Customer{FirstName: "Ada", LastName: "Lovelace", Acquisition: "Referral", AssociateID: 7,
			CustomFields: map[string]string{"Key1": "6", "Key2": "Platinum", "Key3": "not mapped"},
			ContactMethods: []schemas.ContactMethod{
				{Method: schemas.MethodEmail, Type: "Home", Value: "ada@example.com", Preferred: true},
				{Method: schemas.MethodPhone, Type: "Cell", Value: "(512) 555-0101", Preferred: true, CanText: true},
				{Method: schemas.MethodAddress, Type: "Home", Address: &schemas.Address{Line1: "1 Main St", City: "Austin", State: "TX", PostalCode: "78701"}},
			}})
		if err != nil {
			return err
		}
		bob = newCustomer(tx, "001", "Bob", "bob@example.com", "")
		c := tx.Customer(bob)
		c.AssociateID = 99 // no Clientbook user
		return tx.PutCustomer(c)
	})
	r.settle()

	c := r.client(ada)
	assert.Equal(t, "Ada", c.FirstName)
	assert.Equal(t, cbStore, c.StoreID)
	assert.Equal(t, []string{"ada@example.com"}, values(c.Emails), "Edge Customer Contact Methods upload to Clientbook")
	assert.Equal(t, []string{"+15125550101"}, values(c.Phones))
	require.Len(t, c.Addresses, 1)
	assert.Equal(t, "Austin", c.Addresses[0].City)
	assert.Equal(t, map[string]string{"Ring Size": "6", "Metal": "Platinum", "Acquisition": "Referral"}, c.Preferences,
		"custom fields go to their mapped preferences; acquisition will upload from Edge to Clientbook; Key3 is not mapped")
	assert.Equal(t, "us_maria", c.AssociateID)
	assert.Empty(t, r.client(bob).AssociateID, "an unmapped associate syncs the record without an associate")
	assert.Contains(t, r.logs.String(), "Edge associate has no Clientbook user")
	assert.Contains(t, r.logs.String(), "associate=99")

	// "Contact Method changes made in Edge will overwrite (update) the
	// Clientbook customer data."
	r.edge(func(tx *edgesim.Tx) error {
		c := tx.Customer(ada)
		c.ContactMethods[0].Value = "ada@lovelace.example.com"
		c.CustomFields["Key1"] = "6.5"
		return tx.PutCustomer(c)
	})
	r.settle()
	c2 := r.client(ada)
	assert.Equal(t, c.ID, c2.ID, "the same client is updated")
	assert.Equal(t, []string{"ada@lovelace.example.com"}, values(c2.Emails))
	assert.Equal(t, "6.5", c2.Preferences["Ring Size"])
	assert.Len(t, r.emu.Clients(), 2)

	// An unchanged re-capture makes no call.
	updates := r.emu.Counter("clients.updated")
	r.edge(func(tx *edgesim.Tx) error { return tx.PutCustomer(tx.Customer(ada)) })
	r.settle()
	assert.Equal(t, updates, r.emu.Counter("clients.updated"))
}

func TestClientbookWishListsBecomeTheEdgeCollectionAndProducts(t *testing.T) {
	r := newClientbookRig(t)
	var ada, bracelet string
	var stock, nonStock int
	r.edge(func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		bracelet = tx.PutItem(schemas.Item{Store: "001", CategoryID: 100, Category: "Bracelets", StockType: "STOCK", Status: "I", Description: "Tennis bracelet", CurrentPrice: 249900})
		var err error
		if stock, err = tx.AddWish(ada, schemas.Wish{Kind: schemas.WishStock, ItemKey: bracelet, Description: "Tennis bracelet"}); err != nil {
			return err
		}
		nonStock, err = tx.AddWish(ada, schemas.Wish{Kind: schemas.WishNonStock, VendorID: "STULLER", VendStyleCode: "R-2210", Description: "Sapphire halo ring", BuyFor: "Anniversary"})
		return err
	})
	r.settle()

	cl := r.client(ada)
	col, ok := r.emu.Collection(cl.ID, "Edge")
	require.True(t, ok, "Edge Wish Lists upload to a Clientbook Collection named Edge")
	require.Len(t, col.Items, 2, "supports both stock and non-stock wishes")
	assert.Equal(t, bracelet, col.Items[0].SKU, "a stock wish names its item")
	assert.Equal(t, "Sapphire halo ring", col.Items[1].Name)
	assert.Equal(t, "R-2210", col.Items[1].StyleCode)
	for _, id := range []int{stock, nonStock} {
		p, ok := r.emu.Product(projectors.WishProductID(ada, id))
		require.True(t, ok, "Edge wish list items will also appear as Clientbook Products")
		assert.Equal(t, projectors.ProductActive, p.Status)
		assert.Equal(t, projectors.ProductWish, p.Kind)
	}

	r.edge(func(tx *edgesim.Tx) error { tx.RemoveWish(ada, stock); return nil })
	r.settle()
	col, _ = r.emu.Collection(cl.ID, "Edge")
	require.Len(t, col.Items, 1, "changes made to Edge wish lists upload to Clientbook")
	assert.Equal(t, "Sapphire halo ring", col.Items[0].Name)
	p, _ := r.emu.Product(projectors.WishProductID(ada, stock))
	assert.Equal(t, projectors.ProductArchived, p.Status, "the removed wish's product is archived")
}

func TestClientbookSalesServiceJobsAndInventory(t *testing.T) {
	r := newClientbookRig(t)
	var ada, ring, onHand, memo, sale, repair, appraisal, special string
	r.edge(func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		ring = tx.PutItem(schemas.Item{Store: "001", CategoryID: 120, Category: "Rings", StockType: "STOCK", Status: "I", Description: "Solitaire ring", CurrentPrice: 120000})
		onHand = tx.PutItem(schemas.Item{Store: "001", CategoryID: 100, Category: "Bracelets", StockType: "STOCK", Status: "I", Description: "Bangle", CurrentPrice: 45000, VendorID: "STULLER"})
		memo = tx.PutItem(schemas.Item{Store: "001", CategoryID: 100, StockType: "MEMO", Status: "M", Description: "Memo bracelet"})
		var err error
		sale, err = tx.NewSale("001", schemas.Sale{Date: time.Now(), CustomerKey: ada, AssociateIDs: []int{7}, Subtotal: 120000, Total: 129900,
			Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", ItemKey: ring, Qty: 1, Amount: 120000, Description: "Solitaire ring"}}})
		if err != nil {
			return err
		}
		it := tx.Item(ring)
		it.Status, it.SoldToCustomerKey, it.SaleKey = "S", ada, sale
		tx.PutItem(*it)
		promised := time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)
		for _, j := range []schemas.ServiceJob{
			{Store: "001", SaleNo: 900, JobNo: 1, JobType: "REPAIR", CustomerKey: ada, EnvelopeNo: "E-1", ItemDescription: "Gold chain", Summary: "Solder clasp", Status: "NOTREADY", DateEntered: time.Now(), PromisedDate: &promised, EstimatedPrice: 4500},
			{Store: "001", SaleNo: 900, JobNo: 2, JobType: "APPRAISAL", CustomerKey: ada, ItemDescription: "Estate brooch", Status: "DONE", DateEntered: time.Now()},
			{Store: "001", SaleNo: 900, JobNo: 3, JobType: "SPECORDER", CustomerKey: ada, ItemDescription: "Pendant", Status: "NOTREADY", DateEntered: time.Now()},
		} {
			tx.PutService(j)
		}
		repair, appraisal, special = "001-000900-001", "001-000900-002", "001-000900-003"
		return nil
	})
	r.settle()

	cl := r.client(ada)
	pu, ok := r.emu.Purchase(cl.ID, sale)
	require.True(t, ok, "Edge Sales History uploads to Clientbook Client Purchases")
	assert.EqualValues(t, 129900, pu.Total)
	assert.Equal(t, "us_maria", pu.AssociateID)
	require.Len(t, pu.Items, 1)
	assert.Equal(t, projectors.ItemProductID(ring), pu.Items[0].ProductExternalID)

	sold, ok := r.emu.Product(projectors.ItemProductID(ring))
	require.True(t, ok)
	assert.Equal(t, projectors.ProductArchived, sold.Status, "Sold Edge items are uploaded as archived Clientbook Products")
	assert.Equal(t, cl.ID, sold.ClientID)
	assert.EqualValues(t, 120000, sold.Price)

	for _, key := range []string{repair, appraisal} {
		p, ok := r.emu.Product(projectors.ServiceProductID(key))
		require.True(t, ok, "Edge Service Jobs will also have 'dummy' archived Product records")
		assert.Equal(t, projectors.ProductArchived, p.Status)
		assert.Equal(t, projectors.ProductService, p.Kind)
		assert.Equal(t, cl.ID, p.ClientID)
	}
	p, _ := r.emu.Product(projectors.ServiceProductID(repair))
	assert.Contains(t, p.Description, "Work: Solder clasp", "created with the details of the job")
	assert.Contains(t, p.Description, "Promised: 2026-12-10")
	assert.Contains(t, p.Description, "Status: NOTREADY")
	_, ok = r.emu.Product(projectors.ServiceProductID(special))
	assert.False(t, ok, "special orders are not service work")

	bangle, ok := r.emu.Product(projectors.ItemProductID(onHand))
	require.True(t, ok, "On hand Edge inventory is uploaded as Clientbook Products")
	assert.Equal(t, projectors.ProductActive, bangle.Status)
	assert.Equal(t, onHand, bangle.SKU, "searchable by the Edge item number")
	m, _ := r.emu.Product(projectors.ItemProductID(memo))
	assert.Equal(t, projectors.ProductArchived, m.Status, "an item not on hand is never offered")

	// The job moves on: its product follows.
	r.edge(func(tx *edgesim.Tx) error {
		j := tx.Service(repair)
		j.Status = "DONE"
		tx.PutService(*j)
		return nil
	})
	r.settle()
	p, _ = r.emu.Product(projectors.ServiceProductID(repair))
	assert.Contains(t, p.Description, "Status: DONE")
}

func TestClientbookNotesBothWays(t *testing.T) {
	r := newClientbookRig(t)
	var ada, edgeNote string
	r.edge(func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		var err error
		edgeNote, err = tx.PutNote(schemas.Note{CustomerKey: ada, Date: time.Now(), Text: "Prefers white gold", AssociateID: 7})
		return err
	})
	r.settle()
	cl := r.client(ada)
	acts := r.emu.Activities(cl.ID)
	require.Len(t, acts, 1, "Edge Customer Notes upload to Clientbook Recent Activity")
	assert.Equal(t, "Prefers white gold", acts[0].Text)
	assert.Equal(t, "us_maria", acts[0].AssociateID)

	// Edited in Edge: the same entry changes.
	r.edge(func(tx *edgesim.Tx) error {
		n := tx.Note(edgeNote)
		n.Text = "Prefers white gold; size 6"
		_, err := tx.PutNote(*n)
		return err
	})
	r.settle()
	acts = r.emu.Activities(cl.ID)
	require.Len(t, acts, 1)
	assert.Equal(t, "Prefers white gold; size 6", acts[0].Text, "Changes made to existing notes in Edge upload to Clientbook")

	// Edited in Clientbook: the Edge note changes.
	writes := r.emu.Counter("activities.written")
	require.True(t, r.emu.EditActivityInApp(acts[0].ID, "Prefers white gold; size 6.5"))
	r.settle()
	r.read(func(tx *edgesim.Tx) {
		assert.Equal(t, "Prefers white gold; size 6.5", tx.Note(edgeNote).Text, "and vice-versa")
	})

	// Written in Clientbook: a new Edge note.
	cbAct, ok := r.emu.AddActivityInApp(cl.ID, "Anniversary is in June")
	require.True(t, ok)
	r.settle()
	key, err := r.db.LinkedKey(context.Background(), projectors.PartnerClientbook, "note", cbAct.ID)
	require.NoError(t, err)
	var downloaded *schemas.Note
	r.read(func(tx *edgesim.Tx) { downloaded = tx.Note(key) })
	require.NotNil(t, downloaded, "Clientbook Recent Activity downloads as Edge Notes")
	assert.Equal(t, "CLIENTBOOK", downloaded.Source)
	assert.Equal(t, ada, downloaded.CustomerKey)
	assert.Equal(t, writes, r.emu.Counter("activities.written"), "a Clientbook-originated change is not echoed back to Clientbook")

	// Edited in Clientbook again, then in Edge: each lands on the other side, in place.
	require.True(t, r.emu.EditActivityInApp(cbAct.ID, "Anniversary is June 12"))
	r.settle()
	r.read(func(tx *edgesim.Tx) { assert.Equal(t, "Anniversary is June 12", tx.Note(key).Text) })
	r.edge(func(tx *edgesim.Tx) error {
		n := tx.Note(key)
		n.Text = "Anniversary is June 12 (20th)"
		_, err := tx.PutNote(*n)
		return err
	})
	r.settle()
	acts = r.emu.Activities(cl.ID)
	require.Len(t, acts, 2, "the downloaded note is edited in place, not duplicated")
	assert.Equal(t, "Anniversary is June 12 (20th)", acts[1].Text)
}

func TestClientbookNewClientsDownloadToEdge(t *testing.T) {
	r := newClientbookRig(t)
	var ada string
	r.edge(func(tx *edgesim.Tx) error {
		c := schemas.Customer{FirstName: "Ada", LastName: "Lovelace", Acquisition: "Walk-in",
			ContactMethods: []schemas.ContactMethod{{Method: schemas.MethodEmail, Value: "ada@example.com", Preferred: true}}}
		var err error
		ada, err = tx.NewCustomer("001", c)
		return err
	})
	r.settle()
	before := len(r.db.CustomerKeys())
	creates := r.emu.Counter("clients.created")

	// A duplicate of Ada typed in Clientbook, and a new client.
	dup := r.emu.CreateClientInApp(clientbookemu.Client{FirstName: "Ada", LastName: "L.", StoreID: cbStore,
		Emails: []clientbookemu.Contact{{Value: " ADA@example.com "}}})
	grace := r.emu.CreateClientInApp(clientbookemu.Client{FirstName: "Grace", LastName: "Hopper", StoreID: cbStore,
		Emails:      []clientbookemu.Contact{{Value: "grace@example.com"}},
		Phones:      []clientbookemu.Contact{{Value: "+15125550199"}},
		Preferences: map[string]string{"Ring Size": "7", "Acquisition": "Instagram", "Favourite colour": "green"}})
	r.settle()

	keys := r.db.CustomerKeys()
	require.Len(t, keys, before+1, "ECon attempts to match to an existing Edge customer based on email to prevent duplicate entries")
	g := r.db.Customer(keys[len(keys)-1])
	assert.Equal(t, "Grace", g.FirstName)
	assert.True(t, g.SyncEnabled, "Customers originating from Clientbook in this manner are automatically set to synchronize")
	assert.Equal(t, "Instagram", g.Acquisition, "will download from Clientbook for new customers")
	assert.Equal(t, map[string]string{"Key1": "7"}, g.CustomFields)
	assert.Equal(t, []string{"grace@example.com/CLIENTBOOK"}, methods(g, schemas.MethodEmail))
	assert.Equal(t, []string{"+15125550199/CLIENTBOOK"}, methods(g, schemas.MethodPhone))
	assert.Equal(t, "Walk-in", r.db.Customer(ada).Acquisition)
	assert.Equal(t, creates, r.emu.Counter("clients.created"), "no echo: the downloaded client is not uploaded again")

	// Later Edge edits update the clients Clientbook made, never a copy.
	r.edge(func(tx *edgesim.Tx) error {
		c := tx.Customer(g.Key)
		c.LastName = "Hopper-Murray"
		return tx.PutCustomer(c)
	})
	r.settle()
	got, ok := r.emu.ClientByID(grace.ID)
	require.True(t, ok)
	assert.Equal(t, "Hopper-Murray", got.LastName)
	assert.Equal(t, g.Key, got.ExternalID, "the client now carries its Edge key")
	assert.Equal(t, creates, r.emu.Counter("clients.created"))
	_, ok = r.emu.ClientByID(dup.ID)
	assert.True(t, ok)
}

func TestClientbookChangesMergeIntoEdgeWithoutLossOrEcho(t *testing.T) {
	r := newClientbookRig(t)
	var ada string
	r.edge(func(tx *edgesim.Tx) error {
		var err error
		ada, err = tx.NewCustomer("001", schemas.Customer{FirstName: "Ada", Acquisition: "Referral", CustomFields: map[string]string{"Key1": "6"},
			ContactMethods: []schemas.ContactMethod{{Method: schemas.MethodEmail, Value: "ada@example.com", Preferred: true}}})
		return err
	})
	r.settle()
	cl := r.client(ada)
	updates := r.emu.Counter("clients.updated")

	require.True(t, r.emu.EditClientInApp(cl.ID, func(c *clientbookemu.Client) {
		c.Emails = []clientbookemu.Contact{{Value: "ada@new.example.com"}}
		c.Preferences["Ring Size"] = "6.5"
		c.Preferences["Acquisition"] = "Instagram"
	}))
	r.settle()
	c := r.db.Customer(ada)
	assert.Equal(t, []string{"ada@example.com/", "ada@new.example.com/CLIENTBOOK"}, methods(c, schemas.MethodEmail),
		"if you change a customer email address on Clientbook, we will import that change to Edge as a new contact method instead of updating the original value")
	assert.Equal(t, "6.5", c.CustomFields["Key1"], "Edge Customer Custom fields = Clientbook Customer Preferences: changes made in Clientbook download")
	assert.Equal(t, "Referral", c.Acquisition, "changes made in Clientbook will not overwrite your original Acquisition in Edge")
	assert.Equal(t, updates, r.emu.Counter("clients.updated"), "a Clientbook-originated change is not echoed back to Clientbook")
}

func TestOnlyTheEdgeCollectionSyncs(t *testing.T) {
	r := newClientbookRig(t)
	var ada, pendant string
	var pushed int
	r.edge(func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "")
		pendant = tx.PutItem(schemas.Item{Store: "001", CategoryID: 130, StockType: "STOCK", Status: "I", Description: "Pearl pendant"})
		var err error
		pushed, err = tx.AddWish(ada, schemas.Wish{Kind: schemas.WishNonStock, Description: "Emerald studs"})
		return err
	})
	r.settle()
	cl := r.client(ada)
	writes := r.emu.Counter("collections.written")
	wishes := func() []schemas.Wish {
		var out []schemas.Wish
		r.read(func(tx *edgesim.Tx) {
			if wl := tx.WishList(ada); wl != nil {
				out = append(out, wl.Wishes...)
			}
		})
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return out
	}

	require.True(t, r.emu.EditCollectionInApp(cl.ID, "Anniversary ideas", func(items []clientbookemu.CollectionItem) []clientbookemu.CollectionItem {
		return append(items, clientbookemu.CollectionItem{Name: "Ruby bracelet"})
	}))
	r.settle()
	assert.Len(t, wishes(), 1, "Only changes to the Collection named Edge on the Clientbook customer synchronize. Other Collections are ignored.")

	require.True(t, r.emu.EditCollectionInApp(cl.ID, "Edge", func(items []clientbookemu.CollectionItem) []clientbookemu.CollectionItem {
		return append(items,
			clientbookemu.CollectionItem{Name: "Pearl pendant", SKU: pendant},
			clientbookemu.CollectionItem{Name: "Opal ring", Vendor: "STULLER", StyleCode: "R-88"})
	}))
	r.settle()
	got := wishes()
	require.Len(t, got, 3, "Changes made to Clientbook's Edge collection download to the wish list")
	assert.Equal(t, schemas.WishStock, got[1].Kind, "supports stock wishes")
	assert.Equal(t, pendant, got[1].ItemKey)
	assert.Equal(t, schemas.WishNonStock, got[2].Kind, "and non-stock wishes")
	assert.Equal(t, "R-88", got[2].VendStyleCode)
	assert.Equal(t, "CLIENTBOOK", got[2].Source)

	// Removing the wish Edge pushed, in Clientbook, removes it from Edge.
	require.True(t, r.emu.EditCollectionInApp(cl.ID, "Edge", func(items []clientbookemu.CollectionItem) []clientbookemu.CollectionItem {
		var keep []clientbookemu.CollectionItem
		for _, it := range items {
			if it.ExternalID != projectors.WishProductID(ada, pushed) {
				keep = append(keep, it)
			}
		}
		return keep
	}))
	r.settle()
	got = wishes()
	require.Len(t, got, 2)
	assert.Equal(t, "Pearl pendant", got[0].Description)
	assert.Equal(t, writes, r.emu.Counter("collections.written"), "a Clientbook-originated change is not echoed back to Clientbook")

	// An Edge edit afterwards rewrites the collection from Edge, keeping
	// the wishes Clientbook added, and a later removal in Clientbook of
	// one of those is still understood.
	r.edge(func(tx *edgesim.Tx) error {
		_, err := tx.AddWish(ada, schemas.Wish{Kind: schemas.WishNonStock, Description: "Diamond hoops"})
		return err
	})
	r.settle()
	col, _ := r.emu.Collection(cl.ID, "Edge")
	require.Len(t, col.Items, 3)
	require.True(t, r.emu.EditCollectionInApp(cl.ID, "Edge", func(items []clientbookemu.CollectionItem) []clientbookemu.CollectionItem {
		return items[1:] // drop the pendant
	}))
	r.settle()
	got = wishes()
	require.Len(t, got, 2)
	assert.Equal(t, "Opal ring", got[0].Description)
	assert.Equal(t, "Diamond hoops", got[1].Description)
}

func TestClientbookMessagesBecomeEdgeActivity(t *testing.T) {
	r := newClientbookRig(t)
	var ada string
	r.edge(func(tx *edgesim.Tx) error {
		ada = newCustomer(tx, "001", "Ada", "ada@example.com", "(512) 555-0101")
		return nil
	})
	r.settle()
	cl := r.client(ada)
	require.True(t, r.emu.SendMessageInApp(cl.ID, "sms", "", "Your ring is ready!"))
	require.True(t, r.emu.SendMessageInApp(cl.ID, "email", "Thank you", "Thanks for visiting us."))
	r.settle()
	acts := r.db.Activities(ada)
	require.Len(t, acts, 2, "Messages (emails or texts) sent through Clientbook download to Edge and appear on the Edge Customer's Activity tab")
	assert.Equal(t, "SMS", acts[0].Channel)
	assert.Equal(t, "Your ring is ready!", acts[0].Body)
	assert.Equal(t, "EMAIL", acts[1].Channel)
	assert.Equal(t, "Thank you\nThanks for visiting us.", acts[1].Body)
	assert.Equal(t, "CLIENTBOOK", acts[1].Source)
}

func TestClientbookIsTheEdgeSMSProvider(t *testing.T) {
	r := newClientbookRig(t)
	var ok, failing, podium string
	r.edge(func(tx *edgesim.Tx) error {
		ok = tx.PutNotification(schemas.Notification{Store: "001", Channel: "SMS", Provider: "CLIENTBOOK", To: "(512) 555-0101", Reason: "JOBREADY", Body: "Your repair is ready", Status: "QUEUED"})
		failing = tx.PutNotification(schemas.Notification{Store: "001", Channel: "SMS", Provider: "CLIENTBOOK", To: clientbookemu.FailingPhone, Body: "Your repair is ready", Status: "QUEUED"})
		podium = tx.PutNotification(schemas.Notification{Store: "001", Channel: "SMS", Provider: "PODIUM", To: "(512) 555-0101", Body: "not ours", Status: "QUEUED"})
		return nil
	})
	r.settle()
	msgs := r.emu.Messages()
	require.Len(t, msgs, 2, "all text message notifications sent directly from the Edge would utilize the Clientbook backend to send")
	assert.Equal(t, "+15125550101", msgs[0].Phone)
	assert.Equal(t, cbStore, msgs[0].StoreID)
	r.read(func(tx *edgesim.Tx) {
		assert.Equal(t, "SENT", tx.Notification(ok).Status)
		assert.Equal(t, "FAILED", tx.Notification(failing).Status)
		assert.Equal(t, "QUEUED", tx.Notification(podium).Status)
	})
}

func TestClientbookFaultsDelayButLoseNothing(t *testing.T) {
	tests := []struct {
		name   string
		faults emulator.Faults
	}{
		{"a 5xx burst", emulator.Faults{Burst500: 4}},
		{"a 429 burst", emulator.Faults{Burst429: 3, RetryAfter: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newClientbookRig(t)
			r.emu.SetFaults(tt.faults)
			r.edge(func(tx *edgesim.Tx) error {
				for i := range 15 {
					key := newCustomer(tx, "001", fmt.Sprintf("C%d", i), fmt.Sprintf("c%d@example.com", i), "")
					if _, err := tx.PutNote(schemas.Note{CustomerKey: key, Date: time.Now(), Text: "hello"}); err != nil {
						return err
					}
				}
				return nil
			})
			r.settle()
			assert.Len(t, r.emu.Clients(), 15)
			assert.Equal(t, 15, r.emu.Counter("clients.created"), "each client created exactly once")
			assert.Equal(t, 15, r.emu.Counter("activities.written"))
		})
	}
}

// A customer Clientbook refuses (an email typed without its @) is
// dead-lettered with Clientbook's reason, and the rest keep flowing; fixing
// the Edge row sends it.
func TestClientbookRefusalIsDeadLetteredWithTheReason(t *testing.T) {
	r := newClientbookRig(t)
	var typo string
	r.edge(func(tx *edgesim.Tx) error {
		typo = newCustomer(tx, "001", "Bob", "bob at example.com", "")
		newCustomer(tx, "001", "Ada", "ada@example.com", "")
		return nil
	})
	r.settle()
	assert.Len(t, r.emu.Clients(), 1)
	dead, err := streams.DeadLetters(context.Background(), r.srv.JS, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "edge.customer.001."+typo[4:], dead[0].Subject)
	assert.Contains(t, dead[0].Reason, `email "bob at example.com" is not an email address`)
	assert.Equal(t, clientbook.Durable, dead[0].Consumer)

	r.edge(func(tx *edgesim.Tx) error {
		c := tx.Customer(typo)
		c.ContactMethods[0].Value = "bob@example.com"
		return tx.PutCustomer(c)
	})
	r.settle()
	assert.Len(t, r.emu.Clients(), 2)
}
