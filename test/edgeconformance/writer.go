package edgeconformance

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/writer"
)

// WriterHarness is an Edge database whose writer is under test.
type WriterHarness interface {
	Harness
	Writer() writer.EdgeStore
}

// RunWriter runs the Edge writer cases: commands applied in one
// transaction, once per event id, marked with their origin, never erasing.
func RunWriter(t *testing.T, newHarness func(t *testing.T) WriterHarness) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, f *fixture, w writer.EdgeStore)
	}{
		{"a created customer, linked, with its contact methods", func(t *testing.T, f *fixture, w writer.EdgeStore) {
			applied, err := w.Apply(ctx, "podium", "podium:evt-1", []projectors.Command{
				projectors.CreateCustomer{Store: "001", Customer: schemas.Customer{FirstName: "Grace", LastName: "Hopper", SyncEnabled: true, Acquisition: "Podium",
					ContactMethods: []schemas.ContactMethod{{Method: schemas.MethodEmail, Value: "grace@example.com", Preferred: true, Source: "PODIUM"}}}},
				projectors.Link{Partner: "podium", Entity: "customer", PartnerID: "c-1"},
			})
			require.NoError(t, err)
			require.True(t, applied)
			key, err := w.LinkedKey(ctx, "podium", "customer", "c-1")
			require.NoError(t, err)
			require.NotEmpty(t, key)
			c, err := w.CustomerByKey(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, "Grace", c.FirstName)
			assert.Equal(t, "Podium", c.Acquisition)
			byEmail, err := w.CustomerByEmail(ctx, " GRACE@example.com")
			require.NoError(t, err)
			assert.Equal(t, key, byEmail, "matched by email, trimmed and case-insensitive")

			f.cycle()
			evs := f.events()
			require.Len(t, evs, 1)
			assert.Equal(t, "podium", evs[0].Origin, "the capture of edgesync's write carries the partner's origin")
		}},
		{"an event is applied once", func(t *testing.T, f *fixture, w writer.EdgeStore) {
			key, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			cmds := []projectors.Command{projectors.AddContactMethod{CustomerKey: key, Method: schemas.ContactMethod{Method: schemas.MethodEmail, Value: "ada@podium.example.com", Source: "PODIUM"}}}
			first, err := w.Apply(ctx, "podium", "podium:evt-2", cmds)
			require.NoError(t, err)
			again, err := w.Apply(ctx, "podium", "podium:evt-2", cmds)
			require.NoError(t, err)
			assert.True(t, first)
			assert.False(t, again, "the ledger holds the event")
			c, err := w.CustomerByKey(ctx, key)
			require.NoError(t, err)
			assert.Len(t, c.ContactMethods, 2, "old kept, new added, once")
		}},
		{"a refused command applies nothing of its event", func(t *testing.T, f *fixture, w writer.EdgeStore) {
			key, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			_, err = w.Apply(ctx, "podium", "podium:evt-3", []projectors.Command{
				projectors.AddContactMethod{CustomerKey: key, Method: schemas.ContactMethod{Method: schemas.MethodEmail, Value: "second@example.com"}},
				projectors.SetCustomField{CustomerKey: key, Field: "Key9", Value: "x"},
			})
			require.Error(t, err)
			var p interface{ Permanent() bool }
			assert.ErrorAs(t, err, &p, "a refused write is permanent: it goes to the DLQ")
			c, err := w.CustomerByKey(ctx, key)
			require.NoError(t, err)
			assert.Len(t, c.ContactMethods, 1, "no partial write")
		}},
		{"an update of a row that is not there changes nothing", func(t *testing.T, f *fixture, w writer.EdgeStore) {
			// SQL Server's UPDATE of a missing row affects no row and is
			// no error: the event is applied (and in the ledger) with no
			// effect, never refused or retried for ever.
			applied, err := w.Apply(ctx, "clientbook", "clientbook:evt-missing", []projectors.Command{
				projectors.SetCustomField{CustomerKey: "001-999999", Field: "Key1", Value: "7"},
				projectors.SetSyncEnabled{CustomerKey: "001-999999"},
				projectors.SetNotificationStatus{NotificationKey: "001-999999", Status: "SENT"},
			})
			require.NoError(t, err)
			assert.True(t, applied)
			c, err := w.CustomerByKey(ctx, "001-999999")
			require.NoError(t, err)
			assert.Nil(t, c)
		}},
		{"notes, wishes and custom fields", func(t *testing.T, f *fixture, w writer.EdgeStore) {
			key, err := f.h.NewCustomer(ctx, "001", "Ada", "ada@example.com")
			f.must(err)
			at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
			_, err = w.Apply(ctx, "clientbook", "clientbook:evt-4", []projectors.Command{
				projectors.SetCustomField{CustomerKey: key, Field: "Key1", Value: "6.5"},
				projectors.PutNote{PartnerID: "act-1", Note: schemas.Note{CustomerKey: key, Date: at, Text: "Loves sapphires", Source: "CLIENTBOOK"}},
				projectors.AddWish{CustomerKey: key, PartnerID: "prod-1", Wish: schemas.Wish{Kind: schemas.WishNonStock, Description: "Tennis bracelet", DateEntered: at, Source: "CLIENTBOOK"}},
			})
			require.NoError(t, err)
			c, err := w.CustomerByKey(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, "6.5", c.CustomFields["Key1"])
			noteKey, err := w.LinkedKey(ctx, "clientbook", "note", "act-1")
			require.NoError(t, err)
			n, err := w.NoteByKey(ctx, noteKey)
			require.NoError(t, err)
			require.NotNil(t, n)
			assert.Equal(t, "Loves sapphires", n.Text)
			wishes, err := w.WishLinks(ctx, "clientbook", key)
			require.NoError(t, err)
			require.Contains(t, wishes, "prod-1")
			_, err = w.Apply(ctx, "clientbook", "clientbook:evt-5", []projectors.Command{projectors.RemoveWish{CustomerKey: key, WishID: wishes["prod-1"]}})
			require.NoError(t, err)
			wishes, err = w.WishLinks(ctx, "clientbook", key)
			require.NoError(t, err)
			assert.NotContains(t, wishes, "prod-1")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			f := &fixture{t: t, h: h, srv: natstest.Start(t)}
			f.cap = f.newCapture()
			c.run(t, f, h.Writer())
		})
	}
}
