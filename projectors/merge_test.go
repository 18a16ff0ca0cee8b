package projectors_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
)

var mergeOpts = projectors.MergeOptions{
	Partner: "podium", Download: true, Stores: map[string]string{"loc-1": "001"},
	Preferences: map[string]string{"Ring size": "Key1", "Metal": "Key2", "How we met": "Key8"}, AcquisitionPreference: "How we met",
}

func edgeCustomer() *schemas.Customer {
	return &schemas.Customer{Key: "001-000042", Store: "001", FirstName: "Ada", LastName: "Lovelace", SyncEnabled: true, Acquisition: "Referral",
		CustomFields: map[string]string{"Key1": "6", "Key2": "Platinum"},
		ContactMethods: []schemas.ContactMethod{
			{ID: 1, Method: schemas.MethodEmail, Value: "Ada@Example.com ", Preferred: true},
			{ID: 2, Method: schemas.MethodPhone, Value: "(512) 555-0142", Preferred: true},
		}}
}

func TestMergePerson(t *testing.T) {
	person := projectors.PartnerPerson{PartnerID: "p-1", Name: "Ada Lovelace", Emails: []string{"ada@example.com"}, Phones: []string{"+15125550142"}, Location: "loc-1"}
	tests := []struct {
		seed   string
		p      projectors.PartnerPerson
		match  projectors.EdgeMatch
		opts   func(*projectors.MergeOptions)
		want   []projectors.Command
		errHas string
	}{
		{
			seed: "In Podium, newly added customers are automatically downloaded to Edge ... automatically set to synchronize; new customers ... will have that acquisition for the first time",
			p:    func() projectors.PartnerPerson { p := person; p.Acquisition = "Instagram"; return p }(),
			want: []projectors.Command{
				projectors.CreateCustomer{Store: "001", Customer: schemas.Customer{FirstName: "Ada", LastName: "Lovelace", SyncEnabled: true, Acquisition: "Instagram",
					ContactMethods: []schemas.ContactMethod{
						{Method: schemas.MethodEmail, Type: "Home", Value: "ada@example.com", Preferred: true, Source: "PODIUM"},
						{Method: schemas.MethodPhone, Type: "Cell", Value: "+15125550142", Preferred: true, CanText: true, Source: "PODIUM"},
					}}},
				projectors.Link{Partner: "podium", Entity: "customer", PartnerID: "p-1"},
			},
		},
		{
			seed:  "ECon attempts to match to an existing Edge customer based on email to prevent duplicate entries (trimmed, case-insensitive)",
			p:     person,
			match: projectors.EdgeMatch{Customer: edgeCustomer()},
			want:  []projectors.Command{projectors.Link{Partner: "podium", Entity: "customer", PartnerID: "p-1", EdgeKey: "001-000042"}},
		},
		{
			seed:  "Customers originating from Podium in this manner are automatically set to synchronize",
			p:     person,
			match: projectors.EdgeMatch{Customer: func() *schemas.Customer { c := edgeCustomer(); c.SyncEnabled = false; return c }()},
			want: []projectors.Command{
				projectors.Link{Partner: "podium", Entity: "customer", PartnerID: "p-1", EdgeKey: "001-000042"},
				projectors.SetSyncEnabled{CustomerKey: "001-000042"},
			},
		},
		{
			seed:  "if you change a customer email address on Podium, we will import that change to Edge as a new contact method instead of updating the original value",
			p:     func() projectors.PartnerPerson { p := person; p.Emails = []string{"ada@new.example.com"}; return p }(),
			match: projectors.EdgeMatch{Customer: edgeCustomer(), Linked: true},
			want: []projectors.Command{projectors.AddContactMethod{CustomerKey: "001-000042",
				Method: schemas.ContactMethod{Method: schemas.MethodEmail, Type: "Home", Value: "ada@new.example.com", Source: "PODIUM"}}},
		},
		{
			seed:  "(no echo) a partner record equal to what Edge holds writes nothing",
			p:     person,
			match: projectors.EdgeMatch{Customer: edgeCustomer(), Linked: true},
		},
		{
			seed:  "changes made in Podium will not overwrite your original Acquisition in Edge",
			p:     func() projectors.PartnerPerson { p := person; p.Acquisition = "Walk-in"; return p }(),
			match: projectors.EdgeMatch{Customer: edgeCustomer(), Linked: true},
		},
		{
			seed: "Upload ALL Customers to Podium without downloading Customers back into Edge [unidirectional]",
			p:    person,
			opts: func(o *projectors.MergeOptions) { o.Download = false },
		},
		{
			seed: "Edge Customer Custom fields can be mapped to Clientbook Customer Preferences; changes made in Edge upload to Clientbook and vice-versa",
			p: func() projectors.PartnerPerson {
				p := person
				p.Preferences = map[string]string{"Ring size": "6.5", "Metal": "Platinum", "How we met": "Event", "Unmapped": "x"}
				return p
			}(),
			match: projectors.EdgeMatch{Customer: edgeCustomer(), Linked: true},
			want:  []projectors.Command{projectors.SetCustomField{CustomerKey: "001-000042", Field: "Key1", Value: "6.5"}},
		},
		{
			seed: "(conflict rule) a partner value equal to what edgesync last pushed is an echo: Edge's newer value stands",
			p: func() projectors.PartnerPerson {
				p := person
				p.Preferences = map[string]string{"Ring size": "6"}
				return p
			}(),
			match: projectors.EdgeMatch{Customer: func() *schemas.Customer { c := edgeCustomer(); c.CustomFields["Key1"] = "7"; return c }(),
				Linked: true, Pushed: map[string]string{"Key1": "6"}},
		},
		{
			seed:   "a partner location with no Edge store is refused with a reason",
			p:      func() projectors.PartnerPerson { p := person; p.Location = "loc-unknown"; return p }(),
			errHas: "not mapped to an Edge store",
		},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			o := mergeOpts
			if tt.opts != nil {
				tt.opts(&o)
			}
			got, err := projectors.MergePerson(tt.p, tt.match, o)
			if tt.errHas != "" {
				assert.ErrorContains(t, err, tt.errHas)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			for _, c := range got {
				if add, ok := c.(projectors.AddContactMethod); ok {
					assert.NotZero(t, add.Method.Value, "only additions: never an update or an erase")
				}
			}
		})
	}
}

func TestMergeCollection(t *testing.T) {
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	items := []projectors.CollectionItem{
		{PartnerID: "cb-1", Description: "Tennis bracelet", ItemKey: "001-100-00001"},
		{PartnerID: "cb-2", Description: "1/2 ct studs"},
	}
	got := projectors.MergeCollection("001-000042", "Edge", items, map[string]int{"cb-2": 7, "cb-3": 8}, "CLIENTBOOK", at)
	assert.Equal(t, []projectors.Command{
		projectors.AddWish{CustomerKey: "001-000042", PartnerID: "cb-1", Wish: schemas.Wish{Kind: schemas.WishStock, ItemKey: "001-100-00001", Description: "Tennis bracelet", DateEntered: at, Source: "CLIENTBOOK"}},
		projectors.RemoveWish{CustomerKey: "001-000042", WishID: 8},
	}, got, "Changes made to Edge wish lists upload to Clientbook and vice-versa; supports both stock and non-stock wishes")
	assert.Nil(t, projectors.MergeCollection("001-000042", "Anniversary ideas", items, nil, "CLIENTBOOK", at),
		"Only changes to the Collection named Edge on the Clientbook customer synchronize. Other Collections are ignored.")
}

func TestMergeActivityNoteAndMessage(t *testing.T) {
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	n := projectors.MergeActivityNote("001-000042", "act-1", "Loves sapphires", at, nil, "CLIENTBOOK")
	assert.Equal(t, []projectors.Command{projectors.PutNote{PartnerID: "act-1", Note: schemas.Note{CustomerKey: "001-000042", Date: at, Text: "Loves sapphires", Source: "CLIENTBOOK"}}}, n,
		"Clientbook Recent Activity downloads as Edge Notes")
	existing := &schemas.Note{ID: 5, CustomerKey: "001-000042", Text: "Loves sapphires"}
	assert.Nil(t, projectors.MergeActivityNote("001-000042", "act-1", "Loves sapphires", at, existing, "CLIENTBOOK"))
	edited := projectors.MergeActivityNote("001-000042", "act-1", "Loves sapphires and opals", at, existing, "CLIENTBOOK")
	assert.Equal(t, 5, edited[0].(projectors.PutNote).Note.ID, "Changes made to existing notes ... vice-versa")

	msg := projectors.MergeMessage("001-000042", projectors.Activity{At: at, Kind: "MESSAGE", Channel: "SMS", Direction: "OUTBOUND", Body: "See you Saturday"})
	assert.Len(t, msg, 1, "Messages (emails or texts) sent through Clientbook download to Edge and appear on the Edge Customer's Activity tab")
}

func TestParsePodiumContact(t *testing.T) {
	data := json.RawMessage(`{"before":null,"after":{"uid":"c-1","name":"Ada Lovelace","emails":["ada@example.com"],"phoneNumbers":["+15125550142"],
		"address":{"addressLine1":"1 Main St","city":"Austin","state":"TX","postalCode":null,"addressLine2":null,"country":null},
		"attributes":[{"uid":"a-1","label":"Acquisition","value":"Instagram"}],"locations":[{"uid":"loc-1"}],"conversations":[{"uid":"conv-1"}]}}`)
	ev, err := projectors.ParsePodiumContact(data, "Acquisition")
	require.NoError(t, err)
	assert.Equal(t, "c-1", ev.Person.PartnerID)
	assert.Equal(t, "Instagram", ev.Person.Acquisition)
	assert.Equal(t, "loc-1", ev.Person.Location)
	assert.Equal(t, "Austin", ev.Person.Address.City)
	assert.Equal(t, []string{"conv-1", "+15125550142", "ada@example.com"}, ev.Identifiers)

	for _, bad := range []string{`{}`, `{"after":{}}`, `[`, `{"after":"x"}`} {
		_, err := projectors.ParsePodiumContact(json.RawMessage(bad), "Acquisition")
		assert.Error(t, err, bad)
	}
}

func FuzzMergePerson(f *testing.F) {
	f.Add("Ada Lovelace", "ada@example.com", "+15125550142", "loc-1", "Ring size", "7")
	f.Add("", "", "", "", "", "")
	f.Add("  ", "ADA@EXAMPLE.COM ", "555", "loc-1", "How we met", "x")
	f.Fuzz(func(t *testing.T, name, email, phone, loc, pref, val string) {
		p := projectors.PartnerPerson{PartnerID: "p", Name: name, Emails: []string{email}, Phones: []string{phone}, Location: loc,
			Preferences: map[string]string{pref: val}}
		for _, m := range []projectors.EdgeMatch{{}, {Customer: edgeCustomer(), Linked: true}} {
			cmds, err := projectors.MergePerson(p, m, mergeOpts)
			if err != nil {
				continue
			}
			for _, c := range cmds {
				switch c := c.(type) {
				case projectors.CreateCustomer:
					if c.Customer.FirstName == "" {
						t.Fatal("a created customer always has a first name")
					}
				case projectors.SetCustomField:
					if c.Field == "Key8" {
						t.Fatal("the acquisition preference never overwrites Edge")
					}
				}
			}
		}
	})
}
