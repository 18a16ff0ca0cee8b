package projectors_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
)

func customer(edit func(*schemas.Customer)) *schemas.Customer {
	c := &schemas.Customer{
		Key: "001-000042", Store: "001", FirstName: "Ada", LastName: "Lovelace", SyncEnabled: true,
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

func TestPodiumCustomer(t *testing.T) {
	opts := projectors.PodiumOptions{Locations: map[string]string{"001": "loc-1"}}
	first := projectors.PodiumCustomer("", customer(nil), projectors.PodiumPrior{}, opts)

	tests := []struct {
		seed   string // the sentence the row implements
		origin string
		cust   *schemas.Customer
		prior  projectors.PodiumPrior
		kind   projectors.PodiumOpKind
		check  func(t *testing.T, op projectors.PodiumOp)
	}{
		{
			seed: "Upload ALL Customers to Podium: Edge Customer Contact Methods upload to Podium.",
			cust: customer(nil), kind: projectors.PodiumCreate,
			check: func(t *testing.T, op projectors.PodiumOp) {
				assert.Equal(t, projectors.PodiumContact{
					Name: "Ada Lovelace", Locations: []string{"loc-1"}, PhoneNumber: "+15125550142", Email: "ada@example.com",
					Address: &projectors.PodiumAddress{AddressLine1: "1 Main St", City: "Austin", State: "TX"},
				}, op.Contact)
			},
		},
		{
			seed:  "Contact Method changes made in Edge will overwrite (update) the Podium customer data.",
			cust:  customer(func(c *schemas.Customer) { c.ContactMethods[1].Value = "ada@new.example.com" }),
			prior: projectors.PodiumPrior{Identifier: "conv-1", Hash: first.Hash}, kind: projectors.PodiumUpdate,
			check: func(t *testing.T, op projectors.PodiumOp) {
				assert.Equal(t, "conv-1", op.Identifier)
				assert.Equal(t, "ada@new.example.com", op.Contact.Email)
			},
		},
		{
			seed:  "(idempotence) an unchanged customer makes no API call",
			cust:  customer(nil),
			prior: projectors.PodiumPrior{Identifier: "conv-1", Hash: first.Hash}, kind: projectors.PodiumSkip,
		},
		{
			seed:   "(no echo) a change edgesync wrote on behalf of Podium is not sent back to Podium",
			origin: projectors.PartnerPodium, cust: customer(nil), kind: projectors.PodiumSkip,
		},
		{
			seed: "Customers that are set to synchronize will transmit ...: others do not",
			cust: customer(func(c *schemas.Customer) { c.SyncEnabled = false }), kind: projectors.PodiumSkip,
		},
		{
			seed: "(inactive customers are functionally deleted in Edge)",
			cust: customer(func(c *schemas.Customer) { c.Inactive = true }), kind: projectors.PodiumSkip,
		},
		{
			seed: "(multi-store) each store has its own Podium location; a store without one is skipped",
			cust: customer(func(c *schemas.Customer) { c.Store = "002"; c.Key = "002-000001" }), kind: projectors.PodiumSkip,
		},
		{
			seed: "(Podium identifies contacts by phone or email) a customer with neither is skipped",
			cust: customer(func(c *schemas.Customer) { c.ContactMethods = c.ContactMethods[3:] }), kind: projectors.PodiumSkip,
		},
		{
			seed: "(preferred contact method) the preferred one is sent, others stay in Edge",
			cust: customer(func(c *schemas.Customer) { c.ContactMethods[1].Inactive = true }), kind: projectors.PodiumCreate,
			check: func(t *testing.T, op projectors.PodiumOp) { assert.Equal(t, "old@example.com", op.Contact.Email) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			op := projectors.PodiumCustomer(tt.origin, tt.cust, tt.prior, opts)
			assert.Equal(t, tt.kind, op.Kind, op.Reason)
			if tt.kind == projectors.PodiumSkip {
				assert.NotEmpty(t, op.Reason)
			}
			if tt.check != nil {
				tt.check(t, op)
			}
		})
	}
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
