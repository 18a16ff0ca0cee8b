package projectors_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
)

var cbOpts = projectors.ClientbookOptions{
	Stores:      map[string]string{"001": "st_1"},
	Preferences: map[string]string{"Key1": "Ring Size"},
	Associates:  map[int]string{7: "us_maria"},
	SMS:         true,
}

func TestClientbookClientFor(t *testing.T) {
	c := &schemas.Customer{Key: "001-000042", Store: "001", FirstName: "Ada", LastName: "Lovelace", Acquisition: "Referral", AssociateID: 9,
		CustomFields: map[string]string{"Key1": "6", "Key2": "unmapped"},
		ContactMethods: []schemas.ContactMethod{
			{Method: schemas.MethodEmail, Type: "Home", Value: " ada@example.com ", Preferred: true},
			{Method: schemas.MethodEmail, Value: "old@example.com", Inactive: true},
			{Method: schemas.MethodPhone, Type: "Cell", Value: "(512) 555-0101", CanText: true, OptedOut: true},
			{Method: schemas.MethodPhone, Value: "not a phone"},
		}}
	got, unmapped := projectors.ClientbookClientFor(c, cbOpts)
	assert.Equal(t, clientbookapi.Client{
		ExternalID: "001-000042", StoreID: "st_1", FirstName: "Ada", LastName: "Lovelace",
		Emails:      []clientbookapi.Contact{{Value: "ada@example.com", Type: "home", Preferred: true}},
		Phones:      []clientbookapi.Contact{{Value: "+15125550101", Type: "cell"}},
		Addresses:   []schemas.Address{},
		Preferences: map[string]string{"Ring Size": "6", "Acquisition": "Referral"},
	}, got, "Edge Customer Contact Methods upload to Clientbook; an opted-out phone is not textable; inactive methods stay behind")
	assert.Equal(t, 9, unmapped, "an unmapped associate is reported and left out")
}

func TestClientbookWishes(t *testing.T) {
	wl := &schemas.WishList{CustomerKey: "001-000042", Wishes: []schemas.Wish{
		{ID: 3, Kind: schemas.WishStock, ItemKey: "001-100-00001", Description: "Tennis bracelet"},
		{ID: 4, Kind: schemas.WishNonStock, VendorID: "STULLER", VendStyleCode: "R-1"},
	}}
	items, products := projectors.ClientbookWishes(wl, []int{2, 3})
	require.Len(t, items, 2)
	assert.Equal(t, "wish:001-000042:3", items[0].ExternalID)
	assert.Equal(t, "001-100-00001", items[0].SKU)
	assert.Equal(t, "STULLER R-1", items[1].Name, "a wish without a description is named by vendor and style")
	require.Len(t, products, 3)
	assert.Equal(t, "stock wish", products[0].Description)
	assert.Equal(t, clientbookapi.Product{ExternalID: "wish:001-000042:2", Status: projectors.ProductArchived, Kind: projectors.ProductWish}, products[2],
		"a wish removed in Edge archives its product")

	key, id, ok := projectors.ParseWishProductID("wish:001-000042:3")
	assert.True(t, ok)
	assert.Equal(t, "001-000042", key)
	assert.Equal(t, 3, id)
	for _, bad := range []string{"item:001-100-1", "wish:", "wish:001-000042:x", ""} {
		_, _, ok := projectors.ParseWishProductID(bad)
		assert.False(t, ok, bad)
	}
}

func TestClientbookSale(t *testing.T) {
	at := time.Date(2026, 11, 1, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		sale     schemas.Sale
		sold     []string // product external ids named by lines
		status   string
		unmapped int
	}{
		{"a sale names the products of the items it sold", schemas.Sale{Key: "001-000100", Store: "001", Date: at, Total: 1000, AssociateIDs: []int{7},
			Lines: []schemas.SaleLine{{Type: "MERCH", ItemKey: "001-100-00001", Qty: 1, Amount: 1000, Description: "Ring"}, {Type: "REPAIR", JobKey: "001-000100-001", Amount: 50}}},
			[]string{"item:001-100-00001", ""}, "", 0},
		{"a return sells nothing", schemas.Sale{Key: "001-000101", Store: "001", Date: at, AssociateIDs: []int{8},
			Lines: []schemas.SaleLine{{Type: "RETURN", ItemKey: "001-100-00001", Qty: -1, Amount: -1000}}}, []string{""}, "", 8},
		{"a void sale is sent void", schemas.Sale{Key: "001-000102", Store: "001", Date: at, Void: true,
			Lines: []schemas.SaleLine{{Type: "MERCH", ItemKey: "001-100-00002", Qty: 1}}}, []string{"item:001-100-00002"}, "void", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, unmapped := projectors.ClientbookSale(&tt.sale, cbOpts)
			assert.Equal(t, tt.status, p.Status)
			assert.Equal(t, tt.unmapped, unmapped)
			var sold []string
			for _, it := range p.Items {
				sold = append(sold, it.ProductExternalID)
			}
			assert.Equal(t, tt.sold, sold, "Sold Edge items are uploaded as archived Clientbook Products")
			assert.Equal(t, "st_1", p.StoreID)
		})
	}
}

func TestClientbookServiceJobAndItem(t *testing.T) {
	j := &schemas.ServiceJob{Key: "001-000900-001", JobType: "CUSTOM", Status: "INPROCESS", ItemDescription: "Ring", Summary: "Reset stone", DateEntered: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), EstimatedPrice: 12500}
	p, skip := projectors.ClientbookServiceJob(j, "cl_1")
	assert.Empty(t, skip)
	assert.Equal(t, "Custom job 001-000900-001: Ring", p.Name)
	assert.Equal(t, "Status: INPROCESS\nItem: Ring\nWork: Reset stone\nReceived: 2026-11-02\nEstimate: 125.00", p.Description,
		"Edge Service Jobs will also have 'dummy' archived Product records created with the details of the job")
	_, skip = projectors.ClientbookServiceJob(&schemas.ServiceJob{Key: "k", JobType: "SPECORDER"}, "")
	assert.NotEmpty(t, skip)

	tests := []struct {
		status, want, kind string
	}{
		{"I", projectors.ProductActive, projectors.ProductInventory},
		{"S", projectors.ProductArchived, projectors.ProductSold},
		{"M", projectors.ProductArchived, projectors.ProductInventory},
	}
	for _, tt := range tests {
		p := projectors.ClientbookItem("001-100-00001", &schemas.Item{Key: "001-100-00001", Status: tt.status})
		assert.Equal(t, tt.want, p.Status, tt.status)
		assert.Equal(t, tt.kind, p.Kind, tt.status)
	}
	assert.Equal(t, projectors.ProductArchived, projectors.ClientbookItem("001-100-00001", nil).Status, "a deleted item is archived")
}

func TestClientbookNotification(t *testing.T) {
	queued := &schemas.Notification{Store: "001", Channel: "SMS", Provider: "CLIENTBOOK", To: "(512) 555-0101", Body: "Ready", Status: "QUEUED"}
	tests := []struct {
		name         string
		n            *schemas.Notification
		sent         bool
		opts         projectors.ClientbookOptions
		send         bool
		skip, failed bool
	}{
		{"sent", queued, false, cbOpts, true, false, false},
		{"not the provider", queued, false, projectors.ClientbookOptions{}, false, true, false},
		{"another provider", &schemas.Notification{Channel: "SMS", Provider: "PODIUM", Status: "QUEUED"}, false, cbOpts, false, true, false},
		{"already sent", queued, true, cbOpts, false, true, false},
		{"not queued", &schemas.Notification{Channel: "SMS", Provider: "CLIENTBOOK", Status: "SENT"}, false, cbOpts, false, true, false},
		{"bad number", &schemas.Notification{Channel: "SMS", Provider: "CLIENTBOOK", Status: "QUEUED", To: "n/a"}, false, cbOpts, false, false, true},
		{"deleted", nil, false, cbOpts, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, skip, failed := projectors.ClientbookNotification("001-5", tt.n, tt.sent, tt.opts)
			assert.Equal(t, tt.send, m != nil)
			assert.Equal(t, tt.skip, skip != "")
			assert.Equal(t, tt.failed, failed != "")
			if m != nil {
				assert.Equal(t, clientbookapi.SMS{StoreID: "st_1", Phone: "+15125550101", Body: "Ready", ExternalID: "001-5"}, *m)
			}
		})
	}
}

func TestClientbookOptionsCheck(t *testing.T) {
	assert.NoError(t, cbOpts.Check())
	assert.ErrorContains(t, projectors.ClientbookOptions{Preferences: map[string]string{"Key9": "x"}}.Check(), "Key1..Key8")
	assert.ErrorContains(t, projectors.ClientbookOptions{Preferences: map[string]string{"Key1": "Acquisition"}}.Check(), "acquisition")
}

func TestParseClientbookEvents(t *testing.T) {
	ev, err := projectors.ParseClientbookClient(json.RawMessage(`{"id":"cl_1","externalId":"001-000042","storeId":"st_1","firstName":" Grace ",
		"emails":[{"value":"grace@example.com"}],"phones":[{"value":"+15125550199"}],"addresses":[{"line1":"1 Main St"}],
		"preferences":{"Acquisition":"Instagram","Ring Size":"7"}}`), "Acquisition")
	require.NoError(t, err)
	assert.Equal(t, "001-000042", ev.ExternalID)
	assert.Equal(t, projectors.PartnerPerson{PartnerID: "cl_1", FirstName: "Grace", Emails: []string{"grace@example.com"}, Phones: []string{"+15125550199"},
		Address: &schemas.Address{Line1: "1 Main St"}, Acquisition: "Instagram", Location: "st_1",
		Preferences: map[string]string{"Acquisition": "Instagram", "Ring Size": "7"}}, ev.Person)

	for name, tt := range map[string]struct {
		parse func(json.RawMessage) error
		data  string
		want  string
	}{
		"client without id":       {func(d json.RawMessage) error { _, err := projectors.ParseClientbookClient(d, "A"); return err }, `{"firstName":"x"}`, "no id"},
		"collection item no id":   {func(d json.RawMessage) error { _, err := projectors.ParseClientbookCollection(d); return err }, `{"clientId":"c","name":"Edge","items":[{"name":"x"}]}`, "item 0 has no id"},
		"activity without client": {func(d json.RawMessage) error { _, err := projectors.ParseClientbookActivity(d); return err }, `{"id":"a"}`, "clientId"},
		"message on a fax":        {func(d json.RawMessage) error { _, err := projectors.ParseClientbookMessage(d); return err }, `{"id":"m","clientId":"c","channel":"fax"}`, "want sms or email"},
		"not json":                {func(d json.RawMessage) error { _, err := projectors.ParseClientbookMessage(d); return err }, `[`, "clientbook message event"},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorContains(t, tt.parse(json.RawMessage(tt.data)), tt.want)
		})
	}
}

// FuzzClientbookInbound feeds webhook data to every Clientbook parser and
// the merge rules behind them: bad input is an error, never a panic.
func FuzzClientbookInbound(f *testing.F) {
	f.Add([]byte(`{"id":"cl_1","firstName":"Ada","emails":[{"value":"ada@example.com"}],"preferences":{"Ring Size":"6"}}`))
	f.Add([]byte(`{"id":"co_1","clientId":"cl_1","name":"Edge","items":[{"id":"ci_1","name":"Ring","sku":"001-100-00001","externalId":"wish:001-000042:3"}]}`))
	f.Add([]byte(`{"id":"ac_1","clientId":"cl_1","type":"note","text":"Loves opals","occurredAt":"2026-11-01T10:00:00Z"}`))
	f.Add([]byte(`{"id":"ms_1","clientId":"cl_1","channel":"sms","direction":"outbound","body":"Hi"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if ev, err := projectors.ParseClientbookClient(data, "Acquisition"); err == nil {
			_, _ = projectors.MergePerson(ev.Person, projectors.EdgeMatch{}, projectors.MergeOptions{Partner: "clientbook", Download: true,
				Stores: map[string]string{"": "001"}, Preferences: map[string]string{"Ring Size": "Key1"}, AcquisitionPreference: "Acquisition"})
		}
		if ev, err := projectors.ParseClientbookCollection(data); err == nil {
			for _, it := range ev.Items {
				_, _, _ = projectors.WishOwner(it)
			}
			projectors.MergeCollection("001-000042", ev.Name, ev.CollectionItems(), map[string]int{"ci_9": 1}, "CLIENTBOOK", time.Unix(0, 0))
		}
		if ev, err := projectors.ParseClientbookActivity(data); err == nil {
			projectors.MergeActivityNote("001-000042", ev.ID, ev.Text, ev.OccurredAt, nil, "CLIENTBOOK")
		}
		if ev, err := projectors.ParseClientbookMessage(data); err == nil {
			projectors.MergeMessage("001-000042", ev.Activity())
		}
	})
}
