package edgesim

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/edgesync/edgesync/schemas"
)

// Churn makes the changes store staff make all day: new customers, edited
// contact methods, sales, appointment and service job status transitions,
// notes and text notifications. Each Step is one transaction.
type Churn struct {
	db     *DB
	r      *rand.Rand
	stores []string // the stores the database holds customers of
}

// NewChurn returns a Churn drawing from seed.
func NewChurn(db *DB, seed uint64) *Churn {
	return &Churn{db: db, r: rand.New(rand.NewPCG(seed, seed+1))}
}

// Step makes one random change and says what it did.
func (c *Churn) Step() (string, error) {
	var what string
	_, err := c.db.Update("", func(tx *Tx) error {
		var err error
		switch p := c.r.IntN(100); {
		case p < 30:
			what, err = c.newCustomer(tx)
		case p < 55:
			what, err = c.editContact(tx)
		case p < 70:
			what, err = c.sale(tx)
		case p < 80:
			what, err = c.appointment(tx)
		case p < 90:
			what, err = c.service(tx)
		case p < 95:
			what, err = c.note(tx)
		default:
			what, err = c.notification(tx)
		}
		return err
	})
	return what, err
}

// store picks one of the database's stores (001 and 002 while it holds
// none); the caller holds the DB lock via tx.
func (c *Churn) store(tx *Tx) string {
	if c.stores == nil {
		seen := map[string]bool{}
		for _, k := range tx.db.customers.keys {
			if s, _, ok := strings.Cut(k, "-"); ok && !seen[s] {
				seen[s] = true
				c.stores = append(c.stores, s)
			}
		}
		if len(c.stores) == 0 {
			c.stores = []string{"001", "002"}
		}
		sort.Strings(c.stores)
	}
	return c.stores[c.r.IntN(len(c.stores))]
}

// randomCustomer picks a live customer; the caller holds the DB lock via tx.
func (c *Churn) randomCustomer(tx *Tx) *schemas.Customer {
	keys := tx.db.customers.keys
	if len(keys) == 0 {
		return nil
	}
	return tx.Customer(keys[c.r.IntN(len(keys))])
}

func (c *Churn) newCustomer(tx *Tx) (string, error) {
	n := len(tx.db.customers.keys) + len(tx.staged[schemas.EntityCustomer]) + 1
	key, err := tx.NewCustomer(c.store(tx), NewCustomerData(c.r, n, tx.Now()))
	return "new customer " + key, err
}

func (c *Churn) editContact(tx *Tx) (string, error) {
	cust := c.randomCustomer(tx)
	if cust == nil {
		return c.newCustomer(tx)
	}
	for i := range cust.ContactMethods {
		m := &cust.ContactMethods[i]
		switch m.Method {
		case schemas.MethodEmail:
			local, _, _ := strings.Cut(m.Value, "@")
			local, _, _ = strings.Cut(local, "+")
			m.Value = fmt.Sprintf("%s+v%d@example.net", local, tx.db.version+1)
			return "edited email of " + cust.Key, tx.PutCustomer(cust)
		case schemas.MethodPhone:
			m.Type = "Work"
			return "edited phone of " + cust.Key, tx.PutCustomer(cust)
		}
	}
	return "no contact method on " + cust.Key, nil
}

func (c *Churn) sale(tx *Tx) (string, error) {
	cust := c.randomCustomer(tx)
	if cust == nil {
		return c.newCustomer(tx)
	}
	key, err := sellItem(tx, c.r, cust.Store, cust.Key, tx.Now())
	return "sale " + key, err
}

var apptNext = map[string]string{"OPEN": "STARTED", "STARTED": "SUCCESS", "SUCCESS": "", "FOLLOWUP": "STARTED"}

func (c *Churn) appointment(tx *Tx) (string, error) {
	cust := c.randomCustomer(tx)
	if cust == nil {
		return c.newCustomer(tx)
	}
	key := fmt.Sprintf("%s-%d", cust.Store, tx.db.seq["appointment"])
	if a := tx.Appointment(key); a != nil && apptNext[a.Status] != "" {
		a.Status = apptNext[a.Status]
		_, err := tx.PutAppointment(*a)
		return fmt.Sprintf("appointment %s %s", key, a.Status), err
	}
	key, err := tx.PutAppointment(schemas.Appointment{
		Store: cust.Store, CustomerKey: cust.Key, AssociateID: 1 + c.r.IntN(12), Type: "SALESOPP",
		Description: "Anniversary gift", Priority: "H", ContactVia: "INPERSON", BeginAt: tx.Now().Add(24 * time.Hour), Status: "OPEN",
	})
	return "new appointment " + key, err
}

var serviceNext = map[string]string{"NOTREADY": "DONE", "INPROCESS": "DONE", "DONE": "PICKEDUP"}

func (c *Churn) service(tx *Tx) (string, error) {
	for _, k := range tx.db.services.keys {
		j := tx.Service(k)
		if j == nil || serviceNext[j.Status] == "" {
			continue
		}
		now := tx.Now()
		next := serviceNext[j.Status]
		j.History = append(j.History, schemas.StatusChange{At: now, From: j.Status, To: next})
		j.Status = next
		if next == "DONE" {
			j.DateDone = &now
		} else {
			j.DatePickedUp = &now
		}
		tx.PutService(*j)
		return fmt.Sprintf("service %s %s", j.Key, next), nil
	}
	cust := c.randomCustomer(tx)
	if cust == nil {
		return c.newCustomer(tx)
	}
	return "repair intake for " + cust.Key, intakeRepair(tx, c.r, cust.Store, cust.Key, tx.Now())
}

func (c *Churn) note(tx *Tx) (string, error) {
	cust := c.randomCustomer(tx)
	if cust == nil {
		return c.newCustomer(tx)
	}
	key, err := tx.PutNote(schemas.Note{CustomerKey: cust.Key, AssociateID: 1 + c.r.IntN(12), Text: "Looking at " + pick(c.r, wishes)})
	return "note " + key, err
}

func (c *Churn) notification(tx *Tx) (string, error) {
	cust := c.randomCustomer(tx)
	if cust == nil {
		return c.newCustomer(tx)
	}
	phone := cust.Preferred(schemas.MethodPhone)
	if phone == nil {
		return "no phone for a text to " + cust.Key, nil
	}
	// Each store picks one SMS provider; store 002 texts through Clientbook.
	provider := "PODIUM"
	if cust.Store == "002" {
		provider = "CLIENTBOOK"
	}
	key := tx.PutNotification(schemas.Notification{
		Store: cust.Store, CustomerKey: cust.Key, Channel: "SMS", Provider: provider, To: phone.Value,
		Reason: "JOBREADY", Body: "Your repair is ready for pickup.", Status: "QUEUED",
	})
	return "notification " + key, nil
}
