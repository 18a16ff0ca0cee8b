// Package clientbookemu emulates the Clientbook interface of
// docs/clientbook-api.md on the machinery every emulator shares
// (sim/emulator): API-key auth, the 120 requests per minute limit, fault
// injection, cursor pagination and signed, ordered webhook deliveries with
// retries. Methods named ...InApp act as a person using Clientbook and emit
// webhooks; writes through the API do not (the integration's own changes
// are not echoed). Tests and the demo inspect what Clientbook would hold
// through its Go methods.
package clientbookemu

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/edgesync/edgesync/sim/emulator"
)

// RateLimit is the documented requests per minute of one API key.
const RateLimit = 120

// FailingPhone is a number Clientbook accepts but cannot deliver to: a text
// to it answers status failed.
const FailingPhone = "+15005550001"

// Product is a product with its Clientbook id.
type Product struct {
	ProductBody
	ID string `json:"id"`
}

// Collection is a client's named collection.
type Collection struct {
	ID       string           `json:"id"`
	ClientID string           `json:"clientId"`
	Name     string           `json:"name"`
	Items    []CollectionItem `json:"items"`
}

// Purchase is a client purchase.
type Purchase struct {
	PurchaseBody
	ExternalID string `json:"externalId"`
	ClientID   string `json:"clientId"`
	// ReceivedAt is when the emulator last took it: the emulator's own
	// record, for latency benchmarks, not part of the API.
	ReceivedAt time.Time `json:"-"`
}

// Activity is a recent-activity entry.
type Activity struct {
	ActivityBody
	ID         string `json:"id"`
	ClientID   string `json:"clientId"`
	ExternalID string `json:"externalId,omitempty"`
}

// Message is a text sent through the API.
type Message struct {
	TextBody
	ID            string `json:"id"`
	Status        string `json:"status"`
	FailureReason string `json:"failureReason,omitempty"`
}

// Emulator is an in-process Clientbook.
type Emulator struct {
	*emulator.Core
	mu          sync.Mutex
	clients     map[string]*Client // by id
	order       []string
	byExternal  map[string]string // external id -> client id
	products    map[string]*Product
	collections map[string]*Collection // client id + "/" + name
	purchases   map[string]*Purchase   // client id + "/" + external id
	activities  map[string]*Activity   // by id
	actOrder    []string
	messages    []Message
	hooks       *emulator.Webhooks
	now         func() time.Time
}

// Sign is how deliveries are signed: HMAC-SHA256 over "<seconds>.<body>".
var Sign = emulator.HMACSigner("clientbook-timestamp", "clientbook-signature", false)

// New returns an empty emulator with the documented rate limit.
func New() *Emulator {
	return &Emulator{
		Core: emulator.NewCore(RateLimit, func(_ int, code, message string) any {
			return map[string]any{"error": map[string]string{"code": code, "message": message}}
		}),
		clients: map[string]*Client{}, byExternal: map[string]string{}, products: map[string]*Product{},
		collections: map[string]*Collection{}, purchases: map[string]*Purchase{}, activities: map[string]*Activity{},
		hooks: emulator.NewWebhooks(Sign), now: time.Now,
	}
}

// AddAPIKey registers an API key for a merchant account.
func (e *Emulator) AddAPIKey(key string) { e.Tokens().RegisterAPIKey(key, "merchant", nil) }

// Start serves the emulator on a loopback port and returns its URL.
func (e *Emulator) Start() string { return e.Serve(e.Handler()) }

// Close stops the server and the webhook queues.
func (e *Emulator) Close() {
	e.hooks.Close()
	e.StopServing()
}

// Webhooks exposes deliveries for inspection.
func (e *Emulator) Webhooks() *emulator.Webhooks { return e.hooks }

// Handler returns the HTTP API.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	api := func(h func(w http.ResponseWriter, r *http.Request, account string)) http.Handler { return e.API("", h) }
	mux.Handle("PUT /v1/clients/external/{ext}", api(e.upsertClient))
	mux.Handle("PATCH /v1/clients/{id}", api(e.updateClient))
	mux.Handle("GET /v1/clients/{id}", api(e.getClient))
	mux.Handle("GET /v1/clients", api(e.listClients))
	mux.Handle("PUT /v1/products/external/{ext}", api(e.upsertProduct))
	mux.Handle("PUT /v1/clients/{id}/collections/{name}", api(e.putCollection))
	mux.Handle("GET /v1/clients/{id}/collections/{name}", api(e.getCollection))
	mux.Handle("PUT /v1/clients/{id}/purchases/external/{ext}", api(e.upsertPurchase))
	mux.Handle("PUT /v1/clients/{id}/activities/external/{ext}", api(e.upsertActivity))
	mux.Handle("PATCH /v1/activities/{id}", api(e.updateActivity))
	mux.Handle("POST /v1/messages", api(e.sendMessage))
	mux.Handle("GET /v1/webhooks", api(e.listWebhooks))
	mux.Handle("POST /v1/webhooks", api(e.createWebhook))
	mux.Handle("PUT /v1/webhooks/{id}", api(e.updateWebhook))
	mux.Handle("DELETE /v1/webhooks/{id}", api(e.deleteWebhook))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		e.Error(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func (e *Emulator) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return e.DecodeBody(w, r, v, "invalid_request")
}

var phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// checkClient validates a client body as Clientbook would.
func checkClient(c *Client) string {
	if strings.TrimSpace(c.FirstName) == "" && strings.TrimSpace(c.LastName) == "" {
		return "firstName or lastName is required"
	}
	for _, p := range c.Phones {
		if !phoneRE.MatchString(p.Value) {
			return fmt.Sprintf("phone %q is not E.164", p.Value)
		}
	}
	for _, m := range c.Emails {
		if !strings.Contains(m.Value, "@") {
			return fmt.Sprintf("email %q is not an email address", m.Value)
		}
	}
	return ""
}

func (e *Emulator) upsertClient(w http.ResponseWriter, r *http.Request, _ string) {
	var c Client
	if !e.decode(w, r, &c) {
		return
	}
	c.ExternalID = r.PathValue("ext")
	if msg := checkClient(&c); msg != "" {
		e.Error(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	e.mu.Lock()
	id, ok := e.byExternal[c.ExternalID]
	if !ok {
		id = "cl_" + uuid.NewString()
		e.order = append(e.order, id)
		e.Count("clients.created")
	} else {
		e.Count("clients.updated")
	}
	c.ID = id
	c.UpdatedAt = e.now().UTC()
	e.clients[id] = &c
	e.byExternal[c.ExternalID] = id
	out := c
	e.mu.Unlock()
	emulator.WriteJSON(w, http.StatusOK, out)
}

func (e *Emulator) updateClient(w http.ResponseWriter, r *http.Request, _ string) {
	var c Client
	if !e.decode(w, r, &c) {
		return
	}
	if msg := checkClient(&c); msg != "" {
		e.Error(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := r.PathValue("id")
	old, ok := e.clients[id]
	if !ok {
		e.Error(w, http.StatusNotFound, "not_found", "no client "+id)
		return
	}
	c.ID = id
	if c.ExternalID == "" {
		c.ExternalID = old.ExternalID
	}
	if c.ExternalID != "" {
		if other, taken := e.byExternal[c.ExternalID]; taken && other != id {
			e.Error(w, http.StatusConflict, "conflict", "externalId "+c.ExternalID+" belongs to another client")
			return
		}
		e.byExternal[c.ExternalID] = id
	}
	c.UpdatedAt = e.now().UTC()
	e.clients[id] = &c
	e.Count("clients.updated")
	emulator.WriteJSON(w, http.StatusOK, c)
}

func (e *Emulator) getClient(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	c, ok := e.clients[r.PathValue("id")]
	var out Client
	if ok {
		out = *c
	}
	e.mu.Unlock()
	if !ok {
		e.Error(w, http.StatusNotFound, "not_found", "no client "+r.PathValue("id"))
		return
	}
	emulator.WriteJSON(w, http.StatusOK, out)
}

func (e *Emulator) listClients(w http.ResponseWriter, r *http.Request, _ string) {
	// updatedSince is an assumption of docs/clientbook-api.md: Clientbook's
	// API is not public.
	all, ok := emulator.UpdatedAfter(e.Clients(), r.URL.Query().Get("updatedSince"), func(c Client) time.Time { return c.UpdatedAt })
	if !ok {
		e.Error(w, http.StatusBadRequest, "invalid_request", "updatedSince must be RFC 3339")
		return
	}
	page, next, ok := emulator.Page(all, r.URL.Query().Get("cursor"), r.URL.Query().Get("limit"))
	if !ok {
		e.Error(w, http.StatusBadRequest, "invalid_request", "bad cursor or limit")
		return
	}
	emulator.WriteJSON(w, http.StatusOK, map[string]any{"data": page, "nextCursor": next})
}

func (e *Emulator) upsertProduct(w http.ResponseWriter, r *http.Request, _ string) {
	var p ProductBody
	if !e.decode(w, r, &p) {
		return
	}
	p.ExternalID = r.PathValue("ext")
	switch {
	case p.Status != "" && p.Status != ProductActive && p.Status != ProductArchived:
		e.Error(w, http.StatusBadRequest, "invalid_request", "status must be active or archived")
		return
	case p.Kind != "" && p.Kind != ProductInventory && p.Kind != ProductWish &&
		p.Kind != ProductSold && p.Kind != ProductService:
		e.Error(w, http.StatusBadRequest, "invalid_request", "unknown kind "+p.Kind)
		return
	}
	e.mu.Lock()
	cur, ok := e.products[p.ExternalID]
	if !ok {
		cur = &Product{ID: "pr_" + uuid.NewString()}
		cur.ExternalID = p.ExternalID
		e.products[p.ExternalID] = cur
	}
	mergeProduct(&cur.ProductBody, p)
	out := *cur
	e.mu.Unlock()
	e.Count("products.written")
	emulator.WriteJSON(w, http.StatusOK, out)
}

// sell archives the product a purchase line names as sold to the client,
// making it from the line when Clientbook does not have it; e.mu held.
func (e *Emulator) sell(it PurchaseItem, clientID string) {
	cur, ok := e.products[it.ProductExternalID]
	if !ok {
		cur = &Product{ID: "pr_" + uuid.NewString()}
		cur.ExternalID = it.ProductExternalID
		cur.SKU, cur.Name, cur.Price = it.SKU, it.Description, it.Price
		e.products[it.ProductExternalID] = cur
	}
	cur.Status, cur.Kind, cur.ClientID = ProductArchived, ProductSold, clientID
}

// mergeProduct keeps the fields a write leaves out, as documented.
func mergeProduct(dst *ProductBody, src ProductBody) {
	set := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	set(&dst.SKU, src.SKU)
	set(&dst.Name, src.Name)
	set(&dst.Description, src.Description)
	set(&dst.Category, src.Category)
	set(&dst.Vendor, src.Vendor)
	set(&dst.StyleCode, src.StyleCode)
	set(&dst.Status, src.Status)
	set(&dst.Kind, src.Kind)
	set(&dst.ClientID, src.ClientID)
	if src.Price != 0 {
		dst.Price = src.Price
	}
}

func (e *Emulator) hasClient(w http.ResponseWriter, id string) bool {
	if _, ok := e.clients[id]; !ok {
		e.Error(w, http.StatusNotFound, "not_found", "no client "+id)
		return false
	}
	return true
}

func (e *Emulator) putCollection(w http.ResponseWriter, r *http.Request, _ string) {
	var body struct {
		Items []CollectionItem `json:"items"`
	}
	if !e.decode(w, r, &body) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	clientID, name := r.PathValue("id"), r.PathValue("name")
	if !e.hasClient(w, clientID) {
		return
	}
	col := e.collection(clientID, name)
	keep := map[string]string{} // external id -> existing item id
	for _, it := range col.Items {
		if it.ExternalID != "" {
			keep[it.ExternalID] = it.ID
		}
	}
	items := make([]CollectionItem, 0, len(body.Items))
	for _, it := range body.Items {
		if strings.TrimSpace(it.Name) == "" {
			e.Error(w, http.StatusBadRequest, "invalid_request", "every item needs a name")
			return
		}
		if it.ID == "" {
			it.ID = keep[it.ExternalID]
		}
		if it.ID == "" {
			it.ID = "ci_" + uuid.NewString()
		}
		items = append(items, it)
	}
	col.Items = items
	e.Count("collections.written")
	emulator.WriteJSON(w, http.StatusOK, *col)
}

// collection returns (making it) a client's named collection; e.mu held.
func (e *Emulator) collection(clientID, name string) *Collection {
	k := clientID + "/" + name
	col, ok := e.collections[k]
	if !ok {
		col = &Collection{ID: "co_" + uuid.NewString(), ClientID: clientID, Name: name, Items: []CollectionItem{}}
		e.collections[k] = col
	}
	return col
}

func (e *Emulator) getCollection(w http.ResponseWriter, r *http.Request, _ string) {
	col, ok := e.Collection(r.PathValue("id"), r.PathValue("name"))
	if !ok {
		e.Error(w, http.StatusNotFound, "not_found", "no such collection")
		return
	}
	emulator.WriteJSON(w, http.StatusOK, col)
}

func (e *Emulator) upsertPurchase(w http.ResponseWriter, r *http.Request, _ string) {
	var p PurchaseBody
	if !e.decode(w, r, &p) {
		return
	}
	if p.Date.IsZero() {
		e.Error(w, http.StatusBadRequest, "invalid_request", "date is required")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	clientID := r.PathValue("id")
	if !e.hasClient(w, clientID) {
		return
	}
	pu := &Purchase{PurchaseBody: p, ExternalID: r.PathValue("ext"), ClientID: clientID, ReceivedAt: e.now()}
	e.purchases[clientID+"/"+pu.ExternalID] = pu
	if p.Status != "void" {
		for _, it := range p.Items {
			if it.ProductExternalID != "" {
				e.sell(it, clientID)
			}
		}
	}
	e.Count("purchases.written")
	emulator.WriteJSON(w, http.StatusOK, pu)
}

func (e *Emulator) upsertActivity(w http.ResponseWriter, r *http.Request, _ string) {
	var a ActivityBody
	if !e.decode(w, r, &a) {
		return
	}
	if a.Type != "note" || strings.TrimSpace(a.Text) == "" {
		e.Error(w, http.StatusBadRequest, "invalid_request", "a note activity needs type note and a text")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	clientID, ext := r.PathValue("id"), r.PathValue("ext")
	if !e.hasClient(w, clientID) {
		return
	}
	var act *Activity
	for _, id := range e.actOrder {
		if x := e.activities[id]; x.ClientID == clientID && x.ExternalID == ext {
			act = x
		}
	}
	if act == nil {
		act = &Activity{ID: "ac_" + uuid.NewString(), ClientID: clientID, ExternalID: ext}
		e.activities[act.ID] = act
		e.actOrder = append(e.actOrder, act.ID)
	}
	act.ActivityBody = a
	e.Count("activities.written")
	emulator.WriteJSON(w, http.StatusOK, *act)
}

func (e *Emulator) updateActivity(w http.ResponseWriter, r *http.Request, _ string) {
	var a ActivityBody
	if !e.decode(w, r, &a) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	act, ok := e.activities[r.PathValue("id")]
	if !ok {
		e.Error(w, http.StatusNotFound, "not_found", "no activity "+r.PathValue("id"))
		return
	}
	act.ActivityBody = a
	e.Count("activities.written")
	emulator.WriteJSON(w, http.StatusOK, *act)
}

func (e *Emulator) sendMessage(w http.ResponseWriter, r *http.Request, _ string) {
	var m TextBody
	if !e.decode(w, r, &m) {
		return
	}
	if !phoneRE.MatchString(m.Phone) || strings.TrimSpace(m.Body) == "" {
		e.Error(w, http.StatusBadRequest, "invalid_request", "an E.164 phone and a body are required")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, old := range e.messages {
		if m.ExternalID != "" && old.ExternalID == m.ExternalID {
			emulator.WriteJSON(w, http.StatusOK, old)
			return
		}
	}
	msg := Message{TextBody: m, ID: "ms_" + uuid.NewString(), Status: "sent"}
	if m.Phone == FailingPhone {
		msg.Status, msg.FailureReason = "failed", "the carrier rejected the number"
	}
	e.messages = append(e.messages, msg)
	e.Count("messages.sent")
	emulator.WriteJSON(w, http.StatusOK, msg)
}

// webhookJSON is the documented webhook shape.
func webhookJSON(h emulator.Webhook) map[string]any {
	return map[string]any{"id": h.UID, "url": h.URL, "events": h.EventTypes, "disabled": h.Disabled}
}

func (e *Emulator) listWebhooks(w http.ResponseWriter, _ *http.Request, _ string) {
	out := []map[string]any{}
	for _, h := range e.hooks.List() {
		out = append(out, webhookJSON(h))
	}
	emulator.WriteJSON(w, http.StatusOK, map[string]any{"data": out, "nextCursor": ""})
}

type webhookBody struct {
	URL      string   `json:"url"`
	Events   []string `json:"events"`
	Secret   *string  `json:"secret"`
	Disabled *bool    `json:"disabled"`
}

func (e *Emulator) createWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	var b webhookBody
	if !e.decode(w, r, &b) {
		return
	}
	if !strings.HasPrefix(b.URL, "http") || len(b.Events) == 0 || b.Secret == nil || *b.Secret == "" {
		e.Error(w, http.StatusBadRequest, "invalid_request", "url, events and secret are required")
		return
	}
	h := e.hooks.Create(emulator.Webhook{URL: b.URL, EventTypes: b.Events, Secret: *b.Secret})
	emulator.WriteJSON(w, http.StatusCreated, webhookJSON(h))
}

func (e *Emulator) updateWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	var b webhookBody
	if !e.decode(w, r, &b) {
		return
	}
	h, ok := e.hooks.Update(r.PathValue("id"), b.Events, b.Secret, b.Disabled)
	if !ok {
		e.Error(w, http.StatusNotFound, "not_found", "no webhook "+r.PathValue("id"))
		return
	}
	emulator.WriteJSON(w, http.StatusOK, webhookJSON(h))
}

func (e *Emulator) deleteWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	if _, ok := e.hooks.Delete(r.PathValue("id")); !ok {
		e.Error(w, http.StatusNotFound, "not_found", "no webhook "+r.PathValue("id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Inspection.

// Clients returns every client in creation order.
func (e *Emulator) Clients() []Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Client, 0, len(e.order))
	for _, id := range e.order {
		out = append(out, *e.clients[id])
	}
	return out
}

// ClientByExternal returns the client whose external id is an Edge key.
func (e *Emulator) ClientByExternal(ext string) (Client, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, ok := e.byExternal[ext]
	if !ok {
		return Client{}, false
	}
	return *e.clients[id], true
}

// ClientByID returns a client.
func (e *Emulator) ClientByID(id string) (Client, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.clients[id]
	if !ok {
		return Client{}, false
	}
	return *c, true
}

// Product returns a product by external id.
func (e *Emulator) Product(ext string) (Product, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.products[ext]
	if !ok {
		return Product{}, false
	}
	return *p, true
}

// Products returns every product, by external id.
func (e *Emulator) Products() []Product {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Product, 0, len(e.products))
	for _, p := range e.products {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExternalID < out[j].ExternalID })
	return out
}

// Collection returns a client's named collection.
func (e *Emulator) Collection(clientID, name string) (Collection, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.collections[clientID+"/"+name]
	if !ok {
		return Collection{}, false
	}
	cp := *c
	cp.Items = append([]CollectionItem(nil), c.Items...)
	return cp, true
}

// Purchase returns a client's purchase by external id (the Edge sale key).
func (e *Emulator) Purchase(clientID, ext string) (Purchase, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.purchases[clientID+"/"+ext]
	if !ok {
		return Purchase{}, false
	}
	return *p, true
}

// Activities returns a client's activities in creation order.
func (e *Emulator) Activities(clientID string) []Activity {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Activity
	for _, id := range e.actOrder {
		if a := e.activities[id]; a.ClientID == clientID {
			out = append(out, *a)
		}
	}
	return out
}

// Messages returns every text sent through the API.
func (e *Emulator) Messages() []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Message(nil), e.messages...)
}

// Totals counts what Clientbook holds.
type Totals struct {
	Clients, Products, Purchases, Activities, Messages int
}

// Totals returns the counts of every kind of record.
func (e *Emulator) Totals() Totals {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Totals{Clients: len(e.clients), Products: len(e.products), Purchases: len(e.purchases), Activities: len(e.activities), Messages: len(e.messages)}
}
