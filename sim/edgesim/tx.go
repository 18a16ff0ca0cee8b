package edgesim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/edgesync/edgesync/schemas"
)

// Tx is one transaction. Reads see the transaction's own staged writes.
type Tx struct {
	db     *DB
	staged map[schemas.Entity]map[string]any
	order  []stagedKey
	seq    map[string]int
	own    ownWrites // writes to edgesync's own tables, applied only on commit
}

// ownWrites are a transaction's writes to edgesync's own tables: the
// applied-events ledger, partner links and Activity tab entries.
type ownWrites struct {
	Ledger     map[string]time.Time `json:"ledger,omitempty"`
	Links      map[string]string    `json:"links,omitempty"`
	Activities []keyedActivity      `json:"activities,omitempty"`
}

type keyedActivity struct {
	Customer string   `json:"customer"`
	Activity Activity `json:"activity"`
}

func (o ownWrites) empty() bool {
	return len(o.Ledger) == 0 && len(o.Links) == 0 && len(o.Activities) == 0
}

// applyOwn applies committed own writes; the caller holds the lock.
func (db *DB) applyOwn(o ownWrites) {
	for k, v := range o.Ledger {
		db.ledger[k] = v
	}
	for k, v := range o.Links {
		db.links[k] = v
	}
	for _, a := range o.Activities {
		db.activities[a.Customer] = append(db.activities[a.Customer], a.Activity)
	}
}

type stagedKey struct {
	entity schemas.Entity
	key    string
}

// Now is the database clock.
func (tx *Tx) Now() time.Time { return tx.db.now().UTC() }

func (tx *Tx) stage(e schemas.Entity, key string, data any) {
	m := tx.staged[e]
	if m == nil {
		m = make(map[string]any)
		tx.staged[e] = m
	}
	if _, ok := m[key]; !ok {
		tx.order = append(tx.order, stagedKey{e, key})
	}
	m[key] = data
}

// lookup returns the staged value (ok, possibly nil for a staged delete) or
// reports that nothing is staged.
func (tx *Tx) lookup(e schemas.Entity, key string) (any, bool) {
	v, ok := tx.staged[e][key]
	return v, ok
}

// next returns the next number of a sequence, like an IDENTITY column.
func (tx *Tx) next(name string) int {
	n, ok := tx.seq[name]
	if !ok {
		n = tx.db.seq[name]
	}
	n++
	tx.seq[name] = n
	return n
}

// customerNumber is the number of a new customer of store, by the
// database's numbering strategy.
func (tx *Tx) customerNumber(store string) int {
	if tx.db.customerNumbering != schemas.NumberMax {
		return tx.next("customer/" + store)
	}
	highest := 0
	for _, k := range tx.db.customers.keys {
		if tx.Customer(k) == nil || !strings.HasPrefix(k, store+"-") {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(k[len(store)+1:], "%d", &n); err == nil && n > highest {
			highest = n
		}
	}
	for _, sk := range tx.order {
		if sk.entity == schemas.EntityCustomer && strings.HasPrefix(sk.key, store+"-") && tx.Customer(sk.key) != nil {
			var n int
			if _, err := fmt.Sscanf(sk.key[len(store)+1:], "%d", &n); err == nil && n > highest {
				highest = n
			}
		}
	}
	return highest + 1
}

func checkStore(store string) error {
	if len(store) != 3 || strings.Trim(store, "0123456789") != "" {
		return fmt.Errorf("store %q: want three digits", store)
	}
	return nil
}

// Customer returns a copy of the customer as this transaction sees it, or nil.
func (tx *Tx) Customer(key string) *schemas.Customer {
	if v, ok := tx.lookup(schemas.EntityCustomer, key); ok {
		if v == nil {
			return nil
		}
		return cloneCustomer(v.(*schemas.Customer))
	}
	if c := tx.db.customers.get(key); c != nil {
		return cloneCustomer(c)
	}
	return nil
}

// PutCustomer stages the customer's whole new state.
func (tx *Tx) PutCustomer(c *schemas.Customer) error {
	if c.FirstName == "" {
		return fmt.Errorf("customer %s: first name is required", c.Key)
	}
	if c.ContactMethods == nil {
		c.ContactMethods = []schemas.ContactMethod{}
	}
	tx.stage(schemas.EntityCustomer, c.Key, cloneCustomer(c))
	return nil
}

// NewCustomer inserts a customer in store and returns its key. Contact
// methods without an id get one.
func (tx *Tx) NewCustomer(store string, c schemas.Customer) (string, error) {
	if err := checkStore(store); err != nil {
		return "", err
	}
	c.Store = store
	c.Key = fmt.Sprintf("%s-%06d", store, tx.customerNumber(store))
	if c.AccountKey == "" {
		c.AccountKey = c.Key
	}
	if c.DateEntered.IsZero() {
		c.DateEntered = tx.Now()
	}
	for i := range c.ContactMethods {
		if c.ContactMethods[i].ID == 0 {
			c.ContactMethods[i].ID = tx.next("contactmethod")
		}
	}
	return c.Key, tx.PutCustomer(&c)
}

// AddContactMethod adds a contact method to a customer; it never replaces an
// existing one.
func (tx *Tx) AddContactMethod(key string, m schemas.ContactMethod) (int, error) {
	c := tx.Customer(key)
	if c == nil {
		return 0, fmt.Errorf("customer %s not found", key)
	}
	m.ID = tx.next("contactmethod")
	c.ContactMethods = append(c.ContactMethods, m)
	return m.ID, tx.PutCustomer(c)
}

// CustomerByEmail finds a live customer with an active email contact method
// equal to email (trimmed, case-insensitive), as the Edge writer matches new
// partner customers.
func (tx *Tx) CustomerByEmail(email string) string {
	want := strings.ToLower(strings.TrimSpace(email))
	if want == "" {
		return ""
	}
	match := func(c *schemas.Customer) bool {
		for _, m := range c.ContactMethods {
			if m.Method == schemas.MethodEmail && !m.Inactive && strings.ToLower(strings.TrimSpace(m.Value)) == want {
				return true
			}
		}
		return false
	}
	for _, k := range tx.db.customers.keys {
		if c := tx.Customer(k); c != nil && match(c) {
			return k
		}
	}
	for k, v := range tx.staged[schemas.EntityCustomer] {
		if c, _ := v.(*schemas.Customer); c != nil && match(c) {
			return k
		}
	}
	return ""
}

// Delete stages the deletion of an aggregate.
func (tx *Tx) Delete(e schemas.Entity, key string) {
	tx.stage(e, key, nil)
}

// WishList returns a copy of the customer's wish list (empty if none).
func (tx *Tx) WishList(customerKey string) *schemas.WishList {
	var w *schemas.WishList
	if v, ok := tx.lookup(schemas.EntityWishList, customerKey); ok && v != nil {
		w = v.(*schemas.WishList)
	} else if !ok {
		w = tx.db.wishlists.get(customerKey)
	}
	if w == nil {
		return &schemas.WishList{CustomerKey: customerKey, Store: customerKey[:3], Wishes: []schemas.Wish{}}
	}
	cp := *w
	cp.Wishes = slices.Clone(w.Wishes)
	return &cp
}

// AddWish appends a wish to a customer's wish list and returns its id.
func (tx *Tx) AddWish(customerKey string, w schemas.Wish) (int, error) {
	if tx.Customer(customerKey) == nil {
		return 0, fmt.Errorf("customer %s not found", customerKey)
	}
	wl := tx.WishList(customerKey)
	w.ID = tx.next("wish")
	if w.DateEntered.IsZero() {
		w.DateEntered = tx.Now()
	}
	wl.Wishes = append(wl.Wishes, w)
	tx.stage(schemas.EntityWishList, customerKey, wl)
	return w.ID, nil
}

// RemoveWish removes a wish by id; it reports whether it was there.
func (tx *Tx) RemoveWish(customerKey string, id int) bool {
	wl := tx.WishList(customerKey)
	i := slices.IndexFunc(wl.Wishes, func(w schemas.Wish) bool { return w.ID == id })
	if i < 0 {
		return false
	}
	wl.Wishes = slices.Delete(wl.Wishes, i, i+1)
	tx.stage(schemas.EntityWishList, customerKey, wl)
	return true
}

// Note returns a copy of a note, or nil.
func (tx *Tx) Note(key string) *schemas.Note {
	return getCopy(tx, tx.db.notes, schemas.EntityNote, key)
}

// PutNote stages a note; a note without an id is new.
func (tx *Tx) PutNote(n schemas.Note) (string, error) {
	if tx.Customer(n.CustomerKey) == nil {
		return "", fmt.Errorf("note: customer %s not found", n.CustomerKey)
	}
	n.Store = n.CustomerKey[:3]
	if n.ID == 0 {
		n.ID = tx.next("note")
	}
	if n.Date.IsZero() {
		n.Date = tx.Now()
	}
	key := fmt.Sprintf("%s-%d", n.Store, n.ID)
	tx.stage(schemas.EntityNote, key, &n)
	return key, nil
}

// Sale returns a copy of a sale, or nil.
func (tx *Tx) Sale(key string) *schemas.Sale {
	s := getCopy(tx, tx.db.sales, schemas.EntitySale, key)
	if s != nil {
		s.Lines = slices.Clone(s.Lines)
	}
	return s
}

// NewSale inserts a sale in store and returns its key.
func (tx *Tx) NewSale(store string, s schemas.Sale) (string, error) {
	if err := checkStore(store); err != nil {
		return "", err
	}
	s.Store = store
	s.SaleNo = tx.next("sale/" + store)
	s.Key = fmt.Sprintf("%s-%06d", store, s.SaleNo)
	if s.Lines == nil {
		s.Lines = []schemas.SaleLine{}
	}
	if s.Date.IsZero() {
		s.Date = tx.Now()
	}
	tx.stage(schemas.EntitySale, s.Key, &s)
	return s.Key, nil
}

// PutSale stages a change to an existing sale (a line added, a void).
func (tx *Tx) PutSale(s *schemas.Sale) error {
	if tx.Sale(s.Key) == nil {
		return fmt.Errorf("sale %s not found", s.Key)
	}
	tx.stage(schemas.EntitySale, s.Key, s)
	return nil
}

// Appointment returns a copy of an appointment, or nil.
func (tx *Tx) Appointment(key string) *schemas.Appointment {
	return getCopy(tx, tx.db.appointments, schemas.EntityAppointment, key)
}

// PutAppointment stages an appointment; one without an id is new.
func (tx *Tx) PutAppointment(a schemas.Appointment) (string, error) {
	if err := checkStore(a.Store); err != nil {
		return "", err
	}
	if a.ID == 0 {
		a.ID = tx.next("appointment")
		if a.ChainID == 0 {
			a.ChainID = a.ID
		}
		a.DateCreated = tx.Now()
	}
	key := fmt.Sprintf("%s-%d", a.Store, a.ID)
	tx.stage(schemas.EntityAppointment, key, &a)
	return key, nil
}

// Service returns a copy of a service job, or nil.
func (tx *Tx) Service(key string) *schemas.ServiceJob {
	j := getCopy(tx, tx.db.services, schemas.EntityService, key)
	if j != nil {
		j.History = slices.Clone(j.History)
	}
	return j
}

// PutService stages a service job under its key.
func (tx *Tx) PutService(j schemas.ServiceJob) {
	j.Key = fmt.Sprintf("%s-%06d-%03d", j.Store, j.SaleNo, j.JobNo)
	tx.stage(schemas.EntityService, j.Key, &j)
}

// Item returns a copy of an item, or nil.
func (tx *Tx) Item(key string) *schemas.Item {
	return getCopy(tx, tx.db.items, schemas.EntityItem, key)
}

// PutItem stages an item; one without a stock number is new.
func (tx *Tx) PutItem(it schemas.Item) string {
	if it.StockNo == 0 {
		it.StockNo = tx.next(fmt.Sprintf("item/%s/%03d", it.Store, it.CategoryID))
	}
	it.Key = fmt.Sprintf("%s-%03d-%05d", it.Store, it.CategoryID, it.StockNo)
	if it.DateStatusChanged.IsZero() {
		it.DateStatusChanged = tx.Now()
	}
	tx.stage(schemas.EntityItem, it.Key, &it)
	return it.Key
}

// Notification returns a copy of a notification, or nil.
func (tx *Tx) Notification(key string) *schemas.Notification {
	return getCopy(tx, tx.db.notifications, schemas.EntityNotification, key)
}

// PutNotification stages a notification; one without an id is new.
func (tx *Tx) PutNotification(n schemas.Notification) string {
	if n.ID == 0 {
		n.ID = tx.next("notification")
		n.QueuedAt = tx.Now()
	}
	key := fmt.Sprintf("%s-%d", n.Store, n.ID)
	tx.stage(schemas.EntityNotification, key, &n)
	return key
}

func getCopy[T any](tx *Tx, t *table[T], e schemas.Entity, key string) *T {
	var p *T
	if v, ok := tx.lookup(e, key); ok {
		if v == nil {
			return nil
		}
		p = v.(*T)
	} else if p = t.get(key); p == nil {
		return nil
	}
	cp := *p
	return &cp
}

func cloneCustomer(c *schemas.Customer) *schemas.Customer {
	cp := *c
	cp.ContactMethods = slices.Clone(c.ContactMethods)
	for i, m := range cp.ContactMethods {
		if m.Address != nil {
			a := *m.Address
			cp.ContactMethods[i].Address = &a
		}
	}
	cp.CustomFields = maps.Clone(c.CustomFields)
	return &cp
}
