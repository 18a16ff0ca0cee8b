package demo_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/demo"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
)

// Each Edge sale of a customer must be a purchase of that customer's
// client, with the sale's total and void mark; the check reads nothing but
// the two records.
func TestClientbookPurchasesAreCheckedAgainstEdgeSales(t *testing.T) {
	ctx := context.Background()
	db := edgesim.New()
	var customer string
	sales := map[string]string{}
	_, err := db.Update("", func(tx *edgesim.Tx) error {
		var err error
		if customer, err = tx.NewCustomer("001", schemas.Customer{FirstName: "Ada", LastName: "Lovelace"}); err != nil {
			return err
		}
		for _, name := range []string{"held", "lost", "stale", "voided"} {
			if sales[name], err = tx.NewSale("001", schemas.Sale{CustomerKey: customer, Total: 1000, Void: name == "voided"}); err != nil {
				return err
			}
		}
		_, err = tx.NewSale("001", schemas.Sale{Total: 500}) // cash: no client, no purchase
		return err
	})
	require.NoError(t, err)

	tests := []struct {
		name      string
		purchases []string // of the sales above, as Clientbook holds them
		lost      int
		stale     int
	}{
		{"every sale a purchase", []string{"held", "lost", "stale", "voided"}, 0, 0},
		{"a sale missing", []string{"held", "stale", "voided"}, 1, 0},
		{"a total not updated", []string{"held", "lost", "stale:999", "voided"}, 0, 1},
		{"a void not marked", []string{"held", "lost", "stale", "voided:1000:open"}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var state struct {
				Clients   []clientbookemu.Client   `json:"clients"`
				Purchases []clientbookemu.Purchase `json:"purchases"`
			}
			state.Clients = []clientbookemu.Client{{ID: "c1", ExternalID: customer}}
			for _, p := range tt.purchases {
				name, total, status := p, int64(1000), ""
				switch p {
				case "stale:999":
					name, total = "stale", 999
				case "voided:1000:open":
					name = "voided"
				case "voided":
					status = "void"
				}
				state.Purchases = append(state.Purchases, clientbookemu.Purchase{ClientID: "c1", ExternalID: sales[name],
					PurchaseBody: clientbookemu.PurchaseBody{Total: total, Status: status}})
			}
			body, err := json.Marshal(state)
			require.NoError(t, err)
			emu := clientbookemu.New()
			require.NoError(t, emu.UnmarshalState(body))

			e, err := demo.ClientbookPurchases(ctx, db, emu)
			require.NoError(t, err)
			assert.Equal(t, tt.lost, e.Lost, "lost")
			assert.Equal(t, tt.stale, e.Stale, "stale")
			assert.Equal(t, tt.lost+tt.stale == 0, e.Clean())
		})
	}
}
