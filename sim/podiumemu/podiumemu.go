// Package podiumemu emulates Podium's v4 API as documented (see
// docs/podium-emulator.md for the choices made where the docs are silent):
// OAuth refresh, bearer and scope checks, the {data, metadata} envelope, the
// podium-version header, cursor pagination, documented error codes, the 300
// requests per minute limit, contacts with upsert semantics and locations.
// Tests and the demo inspect what Podium would hold through its Go methods.
package podiumemu

import (
	"encoding/json"
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

// Version is the API version the emulator speaks.
const Version = "2021.04.01"

// Address is a Podium contact address.
type Address struct {
	AddressLine1 *string `json:"addressLine1"`
	AddressLine2 *string `json:"addressLine2"`
	City         *string `json:"city"`
	State        *string `json:"state"`
	PostalCode   *string `json:"postalCode"`
	Country      *string `json:"country"`
}

// Ref is a {uid} reference.
type Ref struct {
	UID string `json:"uid"`
}

// Attribute is a contact attribute value.
type Attribute struct {
	UID   string `json:"uid"`
	Label string `json:"label,omitempty"`
	Value any    `json:"value"`
}

// Contact is what Podium holds for one contact.
type Contact struct {
	UID           string      `json:"uid"`
	Name          string      `json:"name"`
	Emails        []string    `json:"emails"`
	PhoneNumbers  []string    `json:"phoneNumbers"`
	Address       *Address    `json:"address"`
	Attributes    []Attribute `json:"attributes"`
	Tags          []Ref       `json:"tags"`
	Locations     []Ref       `json:"locations"`
	Conversations []Ref       `json:"conversations"`
	Organization  Ref         `json:"organization"`
	CreatedAt     time.Time   `json:"createdAt"`
	UpdatedAt     time.Time   `json:"updatedAt"`
}

// Location is a Podium location.
type Location struct {
	UID             string    `json:"uid"`
	Name            string    `json:"name"`
	DisplayName     string    `json:"displayName"`
	OrganizationUID string    `json:"organizationUid"`
	Address         string    `json:"address"`
	PhoneNumber     string    `json:"phoneNumber"`
	PodiumPhone     string    `json:"podiumPhoneNumber"`
	Archived        bool      `json:"archived"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// Emulator is an in-process Podium.
type Emulator struct {
	*emulator.Core
	mu         sync.Mutex
	org        string
	contacts   map[string]*Contact // by uid
	index      map[string]string   // lowercased conversation uid, phone or email -> contact uid
	order      []string            // contact uids in creation order
	locations  []Location
	attrDefs   []AttributeDef
	messages   []Message
	invites    []ReviewInvite
	feeds      map[string]string // uid -> name
	feedEvents []FeedEvent
	feedSeen   map[string]bool
	hooks      *emulator.Webhooks
	now        func() time.Time
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithRateLimit sets requests per minute per account; 300 by default, 0 lifts it.
func WithRateLimit(perMinute int) Option {
	return func(e *Emulator) { e.SetLimit(perMinute) }
}

// New returns an emulator with one organization and no locations.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		Core:     emulator.NewCore(300, errorBody),
		org:      uuid.NewString(),
		contacts: make(map[string]*Contact),
		index:    make(map[string]string),
		feeds:    make(map[string]string),
		feedSeen: make(map[string]bool),
		hooks:    emulator.NewWebhooks(Sign),
		now:      time.Now,
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// errorBody is Podium's documented error shape.
func errorBody(_ int, code, message string) any {
	return map[string]string{"code": code, "message": message, "moreInfo": "https://docs.podium.com/docs/errors#" + code}
}

// Start serves the emulator on a loopback port and returns its URL.
func (e *Emulator) Start() string { return e.Serve(e.Handler()) }

// Close stops the server and the webhook queues.
func (e *Emulator) Close() {
	e.hooks.Close()
	e.StopServing()
}

// AddLocation creates a location and returns its uid.
func (e *Emulator) AddLocation(name string) string { return e.AddLocationUID(name, uuid.NewString()) }

// AddLocationUID creates a location with a uid of the caller's choosing
// (so an installer's configuration can name it before the emulator runs)
// and returns the uid of the location of that name.
func (e *Emulator) AddLocationUID(name, uid string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.locations {
		if l.Name == name {
			return l.UID
		}
	}
	now := e.now().UTC()
	l := Location{UID: uid, Name: name, DisplayName: name, OrganizationUID: e.org, CreatedAt: now, UpdatedAt: now}
	e.locations = append(e.locations, l)
	return l.UID
}

// Handler returns the HTTP API.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", e.token)
	mux.Handle("GET /v4/locations", e.api("read_locations", e.listLocations))
	mux.Handle("POST /v4/contacts", e.api("write_contacts", e.createContact))
	mux.Handle("GET /v4/contacts", e.api("read_contacts", e.listContacts))
	mux.Handle("GET /v4/contacts/{identifier}", e.api("read_contacts", e.getContact))
	mux.Handle("PATCH /v4/contacts/{identifier}", e.api("write_contacts", e.updateContact))
	mux.Handle("DELETE /v4/contacts/{identifier}", e.api("write_contacts", e.deleteContact))
	e.routesExtra(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		e.Error(w, http.StatusNotFound, "route_not_found", "no Route matched with those values")
	})
	return mux
}

// api adds Podium's version check to the shared gateway.
func (e *Emulator) api(scope string, h func(w http.ResponseWriter, r *http.Request, account string)) http.Handler {
	return e.API(scope, func(w http.ResponseWriter, r *http.Request, account string) {
		if v := r.Header.Get("podium-version"); v != "" && v != Version {
			e.Error(w, http.StatusBadRequest, "invalid_header_version", "unknown podium-version "+v)
			return
		}
		h(w, r, account)
	})
}

func (e *Emulator) reply(w http.ResponseWriter, r *http.Request, status int, data any, extra map[string]any) {
	meta := map[string]any{"url": r.URL.String(), "version": Version}
	for k, v := range extra {
		meta[k] = v
	}
	emulator.WriteJSON(w, status, map[string]any{"data": data, "metadata": meta})
}

// token implements POST /oauth/token for grant_type=refresh_token, with a
// JSON body (what Podium's own sample apps send) or a form.
func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		GrantType    string `json:"grant_type"`
		RefreshToken string `json:"refresh_token"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			e.Error(w, http.StatusBadRequest, "bad_request", "malformed JSON body")
			return
		}
	} else {
		if err := r.ParseForm(); err != nil {
			e.Error(w, http.StatusBadRequest, "bad_request", "malformed form body")
			return
		}
		req.ClientID, req.ClientSecret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		req.GrantType, req.RefreshToken = r.PostForm.Get("grant_type"), r.PostForm.Get("refresh_token")
	}
	e.Count("oauth.token")
	if req.GrantType != "refresh_token" {
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "unsupported grant_type "+req.GrantType)
		return
	}
	access, ttl, ok := e.Tokens().Refresh(req.ClientID, req.ClientSecret, req.RefreshToken)
	if !ok {
		e.Error(w, http.StatusUnauthorized, "unauthenticated", "invalid client or refresh token")
		return
	}
	emulator.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "refresh_token": req.RefreshToken, "token_type": "Bearer", "expires_in": int(ttl.Seconds()),
	})
}

func (e *Emulator) listLocations(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	all := append([]Location(nil), e.locations...)
	e.mu.Unlock()
	page, next, ok := emulator.Page(all, r.URL.Query().Get("cursor"), r.URL.Query().Get("limit"))
	if !ok {
		e.Error(w, http.StatusBadRequest, "invalid_cursor", "invalid cursor or limit")
		return
	}
	e.reply(w, r, http.StatusOK, page, map[string]any{"nextCursor": nullable(next), "totalItems": len(all)})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ContactBody is the create/update request body.
type ContactBody struct {
	Name            *string     `json:"name,omitempty"`
	Locations       []string    `json:"locations,omitempty"`
	PhoneNumber     *string     `json:"phoneNumber,omitempty"`
	Email           *string     `json:"email,omitempty"`
	Address         *Address    `json:"address,omitempty"`
	Attributes      []Attribute `json:"attributes,omitempty"`
	Tags            []string    `json:"tags,omitempty"`
	ContactStatus   any         `json:"contactStatus,omitempty"`
	ConversationUID *string     `json:"conversationUid,omitempty"`
}

var (
	phonePattern = regexp.MustCompile(`^\+[1-9]\d{1,15}$`)
	emailPattern = regexp.MustCompile(`(.+)@(.+)\.(.+)`)
)

func (e *Emulator) decodeContact(w http.ResponseWriter, r *http.Request, create bool) (ContactBody, bool) {
	var b ContactBody
	if !e.decode(w, r, &b) { // the spec sets additionalProperties: false
		return b, false
	}
	var problems []string
	if create && (b.Name == nil || *b.Name == "") {
		problems = append(problems, "name is required")
	}
	if create && len(b.Locations) == 0 {
		problems = append(problems, "locations is required")
	}
	if create && b.PhoneNumber == nil && b.Email == nil {
		problems = append(problems, "phoneNumber or email is required")
	}
	if b.PhoneNumber != nil && !phonePattern.MatchString(*b.PhoneNumber) {
		problems = append(problems, "phoneNumber must match ^\\+[1-9]\\d{1,15}$")
	}
	if b.Email != nil && !emailPattern.MatchString(*b.Email) {
		problems = append(problems, "email is not an email address")
	}
	if !create && b.Tags != nil {
		problems = append(problems, "tags cannot be updated here")
	}
	for _, l := range b.Locations {
		if !e.knownLocation(l) {
			problems = append(problems, "unknown location "+l)
		}
	}
	if len(problems) > 0 {
		e.Error(w, http.StatusBadRequest, "invalid_request_values", strings.Join(problems, "; "))
		return b, false
	}
	return b, true
}

// knownLocation reports whether uid is one of the organization's locations.
func (e *Emulator) knownLocation(uid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.locations {
		if l.UID == uid {
			return true
		}
	}
	return false
}

// find resolves an identifier: conversation uid, phone number or email. The
// caller holds e.mu.
func (e *Emulator) find(identifier string) *Contact {
	return e.contacts[e.index[strings.ToLower(strings.TrimSpace(identifier))]]
}

// indexKeys lists the identifiers a contact answers to.
func indexKeys(c *Contact) []string {
	var keys []string
	for _, cv := range c.Conversations {
		keys = append(keys, strings.ToLower(cv.UID))
	}
	for _, p := range c.PhoneNumbers {
		keys = append(keys, p)
	}
	for _, m := range c.Emails {
		keys = append(keys, strings.ToLower(m))
	}
	return keys
}

func (e *Emulator) unindex(c *Contact) {
	for _, k := range indexKeys(c) {
		if e.index[k] == c.UID {
			delete(e.index, k)
		}
	}
}

func (e *Emulator) reindex(c *Contact) {
	for _, k := range indexKeys(c) {
		e.index[k] = c.UID
	}
}

// createContact upserts: a contact with the same phone or email is updated.
// It answers 202 {identifier} with the contact's conversation uid, which stays
// valid when the phone or email later changes (our choice; see docs).
func (e *Emulator) createContact(w http.ResponseWriter, r *http.Request, _ string) {
	b, ok := e.decodeContact(w, r, true)
	if !ok {
		return
	}
	e.mu.Lock()
	var c *Contact
	if b.PhoneNumber != nil {
		c = e.find(*b.PhoneNumber)
	}
	if c == nil && b.Email != nil {
		c = e.find(*b.Email)
	}
	now := e.now().UTC()
	if c == nil {
		c = &Contact{
			UID: uuid.NewString(), Emails: []string{}, PhoneNumbers: []string{}, Attributes: []Attribute{},
			Tags: []Ref{}, Conversations: []Ref{{UID: uuid.NewString()}}, Organization: Ref{UID: e.org}, CreatedAt: now,
		}
		e.contacts[c.UID] = c
		e.order = append(e.order, c.UID)
		e.Count("contacts.created")
	} else {
		e.Count("contacts.upserted")
	}
	before := cloneContact(c)
	created := before.Name == "" && len(before.Emails) == 0 && len(before.PhoneNumbers) == 0
	e.apply(c, b, now, false)
	for _, t := range b.Tags {
		c.Tags = append(c.Tags, Ref{UID: t})
	}
	id, after := c.Conversations[0].UID, cloneContact(c)
	e.mu.Unlock()
	if created {
		e.emit("contact.created", firstLocation(after), map[string]any{"after": after, "errors": []string{}})
	} else {
		e.emit("contact.updated", firstLocation(after), map[string]any{"before": before, "after": after, "errors": []string{}})
	}
	e.reply(w, r, http.StatusAccepted, map[string]string{"identifier": id}, nil)
}

// apply writes the body's fields. An update replaces the phone and email
// (Edge edits overwrite Podium's values); an upsert adds them.
func (e *Emulator) apply(c *Contact, b ContactBody, now time.Time, replace bool) {
	e.unindex(c)
	defer e.reindex(c)
	if b.Name != nil {
		c.Name = *b.Name
	}
	if b.PhoneNumber != nil {
		if replace || len(c.PhoneNumbers) == 0 {
			c.PhoneNumbers = []string{*b.PhoneNumber}
		} else if !contains(c.PhoneNumbers, *b.PhoneNumber) {
			c.PhoneNumbers = append(c.PhoneNumbers, *b.PhoneNumber)
		}
	}
	if b.Email != nil {
		if replace || len(c.Emails) == 0 {
			c.Emails = []string{*b.Email}
		} else if !contains(c.Emails, *b.Email) {
			c.Emails = append(c.Emails, *b.Email)
		}
	}
	if b.Address != nil {
		a := *b.Address
		c.Address = &a
	}
	for _, l := range b.Locations {
		if !containsRef(c.Locations, l) {
			c.Locations = append(c.Locations, Ref{UID: l})
		}
	}
	for _, a := range b.Attributes {
		setAttribute(c, a)
	}
	c.UpdatedAt = now
}

func setAttribute(c *Contact, a Attribute) {
	for i := range c.Attributes {
		if c.Attributes[i].UID == a.UID {
			c.Attributes[i].Value = a.Value
			return
		}
	}
	c.Attributes = append(c.Attributes, a)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if strings.EqualFold(v, x) {
			return true
		}
	}
	return false
}

func containsRef(xs []Ref, uid string) bool {
	for _, r := range xs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func (e *Emulator) updateContact(w http.ResponseWriter, r *http.Request, _ string) {
	b, ok := e.decodeContact(w, r, false)
	if !ok {
		return
	}
	e.mu.Lock()
	c := e.find(r.PathValue("identifier"))
	if c == nil {
		e.mu.Unlock()
		e.Error(w, http.StatusNotFound, "resource_not_found", "contact not found")
		return
	}
	before := cloneContact(c)
	e.apply(c, b, e.now().UTC(), true)
	id, after := c.Conversations[0].UID, cloneContact(c)
	e.mu.Unlock()
	e.Count("contacts.updated")
	e.emit("contact.updated", firstLocation(after), map[string]any{"before": before, "after": after, "errors": []string{}})
	e.reply(w, r, http.StatusAccepted, map[string]string{"identifier": id}, nil)
}

func (e *Emulator) getContact(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	c := e.find(r.PathValue("identifier"))
	var cp Contact
	if c != nil {
		cp = *c
	}
	e.mu.Unlock()
	if c == nil {
		e.Error(w, http.StatusNotFound, "resource_not_found", "contact not found")
		return
	}
	e.reply(w, r, http.StatusOK, cp, nil)
}

func (e *Emulator) deleteContact(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	c := e.find(r.PathValue("identifier"))
	if c == nil {
		e.mu.Unlock()
		e.Error(w, http.StatusNotFound, "resource_not_found", "contact not found")
		return
	}
	id := c.Conversations[0].UID
	e.unindex(c)
	// Podium's delete removes name, phone, email, tags and attributes but
	// keeps conversations.
	c.Name, c.Emails, c.PhoneNumbers, c.Tags, c.Attributes, c.Address = "", []string{}, []string{}, []Ref{}, []Attribute{}, nil
	delete(e.contacts, c.UID)
	e.order = removeString(e.order, c.UID)
	e.mu.Unlock()
	e.emit("contact.deleted", firstLocation(*c), map[string]any{"before": map[string]any{"uid": c.UID, "conversations": c.Conversations}, "errors": []string{}})
	e.reply(w, r, http.StatusAccepted, map[string]string{"identifier": id}, nil)
}

func removeString(xs []string, x string) []string {
	for i, v := range xs {
		if v == x {
			return append(xs[:i:i], xs[i+1:]...)
		}
	}
	return xs
}

func (e *Emulator) listContacts(w http.ResponseWriter, r *http.Request, _ string) {
	all, ok := emulator.UpdatedAfter(e.Contacts(), r.URL.Query().Get("updated_at"), func(c Contact) time.Time { return c.UpdatedAt })
	if !ok {
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "updated_at must be YYYY-MM-DDTHH:MM:SSZ")
		return
	}
	page, next, ok := emulator.Page(all, r.URL.Query().Get("cursor"), r.URL.Query().Get("limit"))
	if !ok {
		e.Error(w, http.StatusBadRequest, "invalid_cursor", "invalid cursor or limit")
		return
	}
	e.reply(w, r, http.StatusOK, page, map[string]any{"nextCursor": nullable(next), "totalItems": len(all)})
}

// Contacts returns copies of every contact, oldest first.
func (e *Emulator) Contacts() []Contact {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Contact, 0, len(e.order))
	for _, uid := range e.order {
		out = append(out, *e.contacts[uid])
	}
	return out
}

// ContactCount is the number of contacts Podium holds.
func (e *Emulator) ContactCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.contacts)
}

// ContactByIdentifier finds a contact as the API would.
func (e *Emulator) ContactByIdentifier(id string) (Contact, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.find(id)
	if c == nil {
		return Contact{}, false
	}
	return *c, true
}

// state is what Save writes.
type state struct {
	Org        string            `json:"org"`
	Contacts   []Contact         `json:"contacts"`
	Locations  []Location        `json:"locations"`
	AttrDefs   []AttributeDef    `json:"attributeDefs"`
	Feeds      map[string]string `json:"dataFeeds"`
	FeedEvents []FeedEvent       `json:"feedEvents"`
	Messages   []Message         `json:"messages"`
	Invites    []ReviewInvite    `json:"reviewInvites"`
	// Webhooks and their undelivered events: Podium delivers what it
	// queued even after an outage on either side.
	Webhooks []emulator.SavedWebhook `json:"webhooks,omitempty"`
}

// Persist keeps the emulator's state in path from now on, written before
// each change is acknowledged (see emulator.Core.PersistTo).
func (e *Emulator) Persist(path string) { e.PersistTo(path, e.MarshalState, e.hooks) }

// MarshalState returns the emulator's data for persistence.
func (e *Emulator) MarshalState() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := state{Org: e.org, Locations: e.locations, AttrDefs: e.attrDefs, Feeds: e.feeds, FeedEvents: e.feedEvents,
		Messages: e.messages, Invites: e.invites, Webhooks: e.hooks.Saved()}
	for _, uid := range e.order {
		s.Contacts = append(s.Contacts, *e.contacts[uid])
	}
	return json.Marshal(s)
}

// UnmarshalState restores data written by MarshalState.
func (e *Emulator) UnmarshalState(body []byte) error {
	var s state
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("podium emulator state: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.org, e.locations, e.attrDefs, e.feedEvents, e.messages, e.invites = s.Org, s.Locations, s.AttrDefs, s.FeedEvents, s.Messages, s.Invites
	if s.Feeds != nil {
		e.feeds = s.Feeds
	}
	for _, fe := range s.FeedEvents {
		if fe.EventID != "" {
			e.feedSeen[fe.EventID] = true
		}
	}
	e.contacts, e.order, e.index = make(map[string]*Contact), nil, make(map[string]string)
	sort.SliceStable(s.Contacts, func(i, j int) bool { return s.Contacts[i].CreatedAt.Before(s.Contacts[j].CreatedAt) })
	for i := range s.Contacts {
		c := s.Contacts[i]
		e.contacts[c.UID] = &c
		e.order = append(e.order, c.UID)
		e.reindex(&c)
	}
	e.hooks.Restore(s.Webhooks)
	return nil
}
