package edgesim_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/test/edgeconformance"
	"github.com/edgesync/edgesync/writer"
)

type harness struct{ db *edgesim.DB }

func (h harness) Source() capture.ChangeSource { return h.db }

func (h harness) NewCustomer(_ context.Context, store, first, email string) (string, error) {
	var key string
	_, err := h.db.Update("", func(tx *edgesim.Tx) error {
		var err error
		key, err = tx.NewCustomer(store, schemas.Customer{FirstName: first, SyncEnabled: true,
			ContactMethods: []schemas.ContactMethod{{Method: schemas.MethodEmail, Value: email, Preferred: true}}})
		return err
	})
	return key, err
}

func (h harness) AddEmail(_ context.Context, key, email, origin string) error {
	_, err := h.db.Update(origin, func(tx *edgesim.Tx) error {
		_, err := tx.AddContactMethod(key, schemas.ContactMethod{Method: schemas.MethodEmail, Value: email})
		return err
	})
	return err
}

func (h harness) edit(key string, fn func(*schemas.Customer)) error {
	_, err := h.db.Update("", func(tx *edgesim.Tx) error {
		c := tx.Customer(key)
		if c == nil {
			return fmt.Errorf("customer %s not found", key)
		}
		fn(c)
		return tx.PutCustomer(c)
	})
	return err
}

func (h harness) Rename(_ context.Context, key, first string) error {
	return h.edit(key, func(c *schemas.Customer) { c.FirstName = first })
}

func (h harness) Inactivate(_ context.Context, key string) error {
	return h.edit(key, func(c *schemas.Customer) { c.Inactive = true })
}

func (h harness) AddNote(_ context.Context, customerKey, text, origin string) (string, error) {
	var key string
	_, err := h.db.Update(origin, func(tx *edgesim.Tx) error {
		var err error
		key, err = tx.PutNote(schemas.Note{CustomerKey: customerKey, Text: text})
		return err
	})
	return key, err
}

func (h harness) NewSale(_ context.Context, customerKey string, lines int) (string, error) {
	var key string
	_, err := h.db.Update("", func(tx *edgesim.Tx) error {
		s := schemas.Sale{CustomerKey: customerKey}
		for i := range lines {
			s.Lines = append(s.Lines, schemas.SaleLine{LineNo: i + 1, Type: "MERCH", Qty: 1, Amount: 10000})
			s.Subtotal += 10000
		}
		s.Total = s.Subtotal
		var err error
		key, err = tx.NewSale(customerKey[:3], s)
		return err
	})
	return key, err
}

func (h harness) AddSaleLine(_ context.Context, saleKey string) error {
	_, err := h.db.Update("", func(tx *edgesim.Tx) error {
		s := tx.Sale(saleKey)
		if s == nil {
			return fmt.Errorf("sale %s not found", saleKey)
		}
		s.Lines = append(s.Lines, schemas.SaleLine{LineNo: len(s.Lines) + 1, Type: "MERCH", Qty: 1, Amount: 10000})
		return tx.PutSale(s)
	})
	return err
}

func (h harness) update(fn func(tx *edgesim.Tx) error) error {
	_, err := h.db.Update("", fn)
	return err
}

func (h harness) NewAppointment(_ context.Context, customerKey string) (key string, err error) {
	err = h.update(func(tx *edgesim.Tx) error {
		key, err = tx.PutAppointment(schemas.Appointment{Store: "001", CustomerKey: customerKey, Type: "FOLLOWUP", Status: "OPEN", BeginAt: tx.Now().Add(24 * time.Hour)})
		return err
	})
	return key, err
}

func (h harness) NewServiceJob(_ context.Context, customerKey string) (string, error) {
	j := schemas.ServiceJob{Store: "001", SaleNo: 900, JobNo: 1, JobType: "REPAIR", CustomerKey: customerKey, Status: "NOTREADY"}
	err := h.update(func(tx *edgesim.Tx) error {
		j.DateEntered = tx.Now()
		tx.PutService(j)
		return nil
	})
	return "001-000900-001", err
}

func (h harness) SetJobStatus(_ context.Context, jobKey, status string) error {
	return h.update(func(tx *edgesim.Tx) error {
		j := tx.Service(jobKey)
		if j == nil {
			return fmt.Errorf("job %s not found", jobKey)
		}
		j.History = append(j.History, schemas.StatusChange{At: tx.Now(), From: j.Status, To: status})
		j.Status = status
		tx.PutService(*j)
		return nil
	})
}

func (h harness) NewItem(context.Context) (key string, err error) {
	err = h.update(func(tx *edgesim.Tx) error {
		key = tx.PutItem(schemas.Item{Store: "001", CategoryID: 100, StockType: "STOCK", Status: "I", Description: "Pearl studs", RetailPrice: 45000, CurrentPrice: 45000})
		return nil
	})
	return key, err
}

func (h harness) NewNotification(_ context.Context, customerKey string) (key string, err error) {
	err = h.update(func(tx *edgesim.Tx) error {
		key = tx.PutNotification(schemas.Notification{Store: "001", CustomerKey: customerKey, Channel: "SMS", Provider: "PODIUM", To: "+15125550101",
			Body: "Your repair is ready", Status: "QUEUED"})
		return nil
	})
	return key, err
}

func (h harness) AddWish(_ context.Context, customerKey, description string) error {
	return h.update(func(tx *edgesim.Tx) error {
		_, err := tx.AddWish(customerKey, schemas.Wish{Kind: schemas.WishNonStock, Description: description})
		return err
	})
}

func (h harness) DeleteNote(_ context.Context, key string) error {
	_, err := h.db.Update("", func(tx *edgesim.Tx) error { tx.Delete(schemas.EntityNote, key); return nil })
	return err
}

func (h harness) ExpireChanges(ctx context.Context) error {
	v, err := h.db.CurrentVersion(ctx)
	h.db.ExpireChanges(v)
	return err
}

func TestConformance(t *testing.T) {
	edgeconformance.Run(t, func(*testing.T) edgeconformance.Harness { return harness{db: edgesim.New()} })
}

func (h harness) Writer() writer.EdgeStore { return h.db }

func TestWriterConformance(t *testing.T) {
	edgeconformance.RunWriter(t, func(*testing.T) edgeconformance.WriterHarness { return harness{db: edgesim.New()} })
}

// remoteHarness runs the same suites through the simulator served over
// HTTP, as capture and the writer use it from their own processes.
type remoteHarness struct {
	harness
	remote *edgesim.Remote
}

func (h remoteHarness) Source() capture.ChangeSource { return h.remote }
func (h remoteHarness) Writer() writer.EdgeStore     { return h.remote }

func served(t *testing.T) remoteHarness {
	db := edgesim.New()
	srv := httptest.NewServer(edgesim.NewServer(db, slog.New(slog.DiscardHandler)).Handler())
	t.Cleanup(srv.Close)
	return remoteHarness{harness: harness{db: db}, remote: edgesim.Dial(srv.URL)}
}

func TestConformanceOverHTTP(t *testing.T) {
	edgeconformance.Run(t, func(t *testing.T) edgeconformance.Harness { return served(t) })
}

func TestWriterConformanceOverHTTP(t *testing.T) {
	edgeconformance.RunWriter(t, func(t *testing.T) edgeconformance.WriterHarness { return served(t) })
}

func TestACutSnapshotIsAnErrorNeverAShortTable(t *testing.T) {
	ctx := context.Background()
	h := served(t)
	for i := range 10 {
		_, err := h.NewCustomer(ctx, "001", fmt.Sprint("C", i), fmt.Sprintf("c%d@example.com", i))
		require.NoError(t, err)
	}
	require.NoError(t, h.remote.SetFaults(ctx, edgesim.ServeFaults{CutSnapshotAfter: 3}))
	rows := 0
	_, err := h.remote.Snapshot(ctx, schemas.EntityCustomer, func(capture.Row) error { rows++; return nil })
	require.Error(t, err, "a cut stream must not look like a table of %d rows", rows)

	rows = 0
	at, err := h.remote.Snapshot(ctx, schemas.EntityCustomer, func(capture.Row) error { rows++; return nil })
	require.NoError(t, err, "the fault is for one snapshot only")
	assert.Equal(t, 10, rows)
	cur, err := h.remote.CurrentVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, cur, at)
}
