package edgesim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/edgesync/edgesync/schemas"
)

// Spec sizes a generated store chain. The same Spec always yields the same
// data, version for version.
type Spec struct {
	Seed   uint64
	Stores int // "001", "002", ...
	// StoreCodes, when set, are the stores instead ("003" for a chain's
	// third store, with an Edge of its own).
	StoreCodes        []string
	CustomersPerStore int
	// Per customer, on average: sales, appointments, service jobs, wishes,
	// notes. Items: ItemsPerStore on hand plus one per sold line.
	SalesPerCustomer float64
	ItemsPerStore    int
	// SyncDisabledEvery leaves one customer in N not set to synchronize (0: all synchronize).
	SyncDisabledEvery int
}

func (s Spec) codes() []string {
	if len(s.StoreCodes) > 0 {
		return s.StoreCodes
	}
	out := make([]string, s.Stores)
	for i := range out {
		out[i] = fmt.Sprintf("%03d", i+1)
	}
	return out
}

// DemoSpec is the realistic two-store chain of `edgesync demo`.
func DemoSpec() Spec {
	return Spec{Seed: 42, Stores: 2, CustomersPerStore: 300, SalesPerCustomer: 1.5, ItemsPerStore: 200, SyncDisabledEvery: 25}
}

// Base is the generator's fixed clock: generated data never depends on when
// it was generated.
var Base = time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)

var (
	firstNames = []string{"Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
		"Mia", "Mason", "Amelia", "Ethan", "Harper", "Logan", "Evelyn", "Aiden", "Abigail", "Jackson", "Grace", "Henry"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
		"Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee"}
	acquisitions = []string{"Referral", "Walk-in", "Web", "Bridal Event", "Radio", "Instagram"}
	categories   = []struct {
		id   int
		name string
	}{{100, "Bridal"}, {110, "Diamond Studs"}, {120, "Pendants"}, {130, "Watches"}, {140, "Bands"}, {150, "Estate"}}
	vendors    = []string{"TAC", "GAB", "SIM", "VER", "RLX"}
	stockTypes = []string{"STOCK", "STOCK", "STOCK", "STOCK", "MEMO", "CONSIGNMENT", "TRADE"}
	cities     = []string{"Austin", "Dallas", "Denver", "Boise", "Tulsa"}
	repairs    = []string{"Size ring down 1", "Replace watch battery", "Re-tip prongs", "Solder chain", "Rhodium plate"}
	wishes     = []string{"1/2 ct diamond studs", "Tennis bracelet", "Sapphire pendant", "Gold hoops", "Anniversary band"}
)

// Generate fills db with a deterministic chain of stores, customer by customer
// in transactions of up to 500 customers with their sales, jobs, wishes,
// notes and appointments.
func Generate(db *DB, spec Spec) error {
	r := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	n := 0
	for _, store := range spec.codes() {
		if _, err := db.Update("", func(tx *Tx) error {
			for i := 0; i < spec.ItemsPerStore; i++ {
				tx.PutItem(genItem(r, store, Base.Add(-time.Duration(r.IntN(400))*24*time.Hour)))
			}
			return nil
		}); err != nil {
			return fmt.Errorf("generate items of %s: %w", store, err)
		}
		for done := 0; done < spec.CustomersPerStore; {
			batch := min(500, spec.CustomersPerStore-done)
			if _, err := db.Update("", func(tx *Tx) error {
				for i := 0; i < batch; i++ {
					n++
					if err := genCustomer(tx, r, store, n, spec); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return fmt.Errorf("generate customers of %s: %w", store, err)
			}
			done += batch
		}
	}
	return nil
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// NewCustomerData returns a realistic customer with a unique email and phone
// derived from n.
func NewCustomerData(r *rand.Rand, n int, at time.Time) schemas.Customer {
	first, last := pick(r, firstNames), pick(r, lastNames)
	c := schemas.Customer{
		FirstName:   first,
		LastName:    last,
		Gender:      pick(r, []string{"M", "F", "U"}),
		Acquisition: pick(r, acquisitions),
		AssociateID: 1 + r.IntN(12),
		SyncEnabled: true,
		DateEntered: at,
		CustomFields: map[string]string{
			"Key1": pick(r, []string{"6", "6.5", "7", "7.5"}), // ring size
			"Key2": pick(r, []string{"Yellow gold", "White gold", "Platinum", "Rose gold"}),
		},
	}
	email := fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first), strings.ToLower(last), n)
	phone := fmt.Sprintf("+1512%07d", n)
	switch r.IntN(10) {
	case 0: // phone only
		c.ContactMethods = []schemas.ContactMethod{{Method: schemas.MethodPhone, Type: "Cell", Value: phone, Preferred: true, CanText: true, Source: "EDGE"}}
	case 1: // email only
		c.ContactMethods = []schemas.ContactMethod{{Method: schemas.MethodEmail, Type: "Home", Value: email, Preferred: true, Source: "EDGE"}}
	default:
		c.ContactMethods = []schemas.ContactMethod{
			{Method: schemas.MethodPhone, Type: "Cell", Value: phone, Preferred: true, CanText: true, Source: "EDGE"},
			{Method: schemas.MethodEmail, Type: "Home", Value: email, Preferred: true, Source: "EDGE"},
		}
	}
	if r.IntN(2) == 0 {
		c.ContactMethods = append(c.ContactMethods, schemas.ContactMethod{
			Method: schemas.MethodAddress, Type: "Home", Preferred: true, Source: "EDGE",
			Address: &schemas.Address{Line1: fmt.Sprintf("%d Main St", 100+r.IntN(9000)), City: pick(r, cities), State: "TX", PostalCode: fmt.Sprintf("7%04d", r.IntN(10000)), Country: "US"},
		})
	}
	return c
}

func genItem(r *rand.Rand, store string, at time.Time) schemas.Item {
	cat := pick(r, categories)
	price := int64(5000 + r.IntN(500000))
	return schemas.Item{
		Store: store, CategoryID: cat.id, Category: cat.name, VendorID: pick(r, vendors),
		VendStyleCode: fmt.Sprintf("ST-%04d", r.IntN(10000)), StockType: pick(r, stockTypes), Status: "I",
		Description: cat.name + " " + pick(r, []string{"14K", "18K", "Platinum", "Sterling"}),
		RetailPrice: price, CurrentPrice: price, DateStatusChanged: at,
	}
}

func genCustomer(tx *Tx, r *rand.Rand, store string, n int, spec Spec) error {
	entered := Base.Add(-time.Duration(r.IntN(3*365)) * 24 * time.Hour)
	c := NewCustomerData(r, n, entered)
	if spec.SyncDisabledEvery > 0 && n%spec.SyncDisabledEvery == 0 {
		c.SyncEnabled = false
	}
	key, err := tx.NewCustomer(store, c)
	if err != nil {
		return err
	}
	sales := int(spec.SalesPerCustomer)
	if r.Float64() < spec.SalesPerCustomer-float64(sales) {
		sales++
	}
	for i := 0; i < sales; i++ {
		at := entered.Add(time.Duration(r.IntN(300)) * 24 * time.Hour)
		if _, err := sellItem(tx, r, store, key, at); err != nil {
			return err
		}
	}
	if r.IntN(4) == 0 {
		if err := intakeRepair(tx, r, store, key, entered.Add(48*time.Hour)); err != nil {
			return err
		}
	}
	if r.IntN(3) == 0 {
		if _, err := tx.PutAppointment(schemas.Appointment{
			Store: store, CustomerKey: key, AssociateID: 1 + r.IntN(12), Type: pick(r, []string{"WISHLIST", "SALESOPP", "FOLLOWUP"}),
			Description: "Follow up", Priority: "M", ContactVia: "PHONE", BeginAt: entered.Add(72 * time.Hour), Status: "SUCCESS",
		}); err != nil {
			return err
		}
	}
	if r.IntN(3) == 0 {
		kind := pick(r, []string{schemas.WishStock, schemas.WishNonStock, schemas.WishGeneric})
		if _, err := tx.AddWish(key, schemas.Wish{Kind: kind, Description: pick(r, wishes), AssociateID: 1 + r.IntN(12), DateEntered: entered, Source: "EDGE"}); err != nil {
			return err
		}
	}
	if r.IntN(3) == 0 {
		if _, err := tx.PutNote(schemas.Note{CustomerKey: key, AssociateID: 1 + r.IntN(12), Date: entered, Text: "Prefers " + c.CustomFields["Key2"]}); err != nil {
			return err
		}
	}
	return nil
}

// sellItem puts a new item in stock and sells it to the customer in one sale.
func sellItem(tx *Tx, r *rand.Rand, store, customerKey string, at time.Time) (string, error) {
	it := genItem(r, store, at)
	itemKey := tx.PutItem(it)
	saleKey, err := tx.NewSale(store, schemas.Sale{
		Date: at, CustomerKey: customerKey, Station: "POS1", AssociateIDs: []int{1 + r.IntN(12)},
		Subtotal: it.CurrentPrice, Tax: it.CurrentPrice * 8 / 100, Total: it.CurrentPrice * 108 / 100,
		Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", ItemKey: itemKey, Qty: 1, Amount: it.CurrentPrice, Description: it.Description}},
	})
	if err != nil {
		return "", err
	}
	sold := tx.Item(itemKey)
	sold.Status, sold.SoldToCustomerKey, sold.SaleKey, sold.DateStatusChanged = "S", customerKey, saleKey, at
	tx.PutItem(*sold)
	return saleKey, nil
}

// intakeRepair records a repair intake sale and its job.
func intakeRepair(tx *Tx, r *rand.Rand, store, customerKey string, at time.Time) error {
	desc := pick(r, repairs)
	price := int64(2500 + r.IntN(20000))
	saleKey, err := tx.NewSale(store, schemas.Sale{
		Date: at, CustomerKey: customerKey, Station: "POS1",
		Lines: []schemas.SaleLine{{LineNo: 1, Type: "REPAIR", Qty: 1, Amount: price, Description: desc}},
	})
	if err != nil {
		return err
	}
	sale := tx.Sale(saleKey)
	promised := at.Add(7 * 24 * time.Hour)
	job := schemas.ServiceJob{
		Store: store, SaleNo: sale.SaleNo, JobNo: 1, JobType: "REPAIR", CustomerKey: customerKey,
		EnvelopeNo: fmt.Sprintf("E%05d", sale.SaleNo), ItemDescription: "Customer's ring", Summary: desc,
		DateEntered: at, PromisedDate: &promised, Status: "NOTREADY", EstimatedPrice: price,
		History: []schemas.StatusChange{{At: at, To: "NOTREADY"}},
	}
	tx.PutService(job)
	sale.Lines[0].JobKey = fmt.Sprintf("%s-%06d-%03d", store, sale.SaleNo, 1)
	tx.stage(schemas.EntitySale, saleKey, sale)
	return nil
}
