package podiumemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/edgesync/edgesync/sim/emulator"
)

// AttributeDef is a contact attribute definition.
type AttributeDef struct {
	UID           string    `json:"uid"`
	Label         string    `json:"label"`
	DataType      string    `json:"dataType"`
	IsEncrypted   bool      `json:"isEncrypted"`
	OwnerResource Ref       `json:"ownerResource"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Channel is a message or invite channel.
type Channel struct {
	Type       string `json:"type"`
	Identifier string `json:"identifier"`
}

// Message is a message Podium sent for a location.
type Message struct {
	UID           string    `json:"uid"`
	Body          string    `json:"body"`
	Channel       Channel   `json:"channel"`
	Location      Ref       `json:"location"`
	ContactName   string    `json:"contactName,omitempty"`
	SenderName    string    `json:"senderName,omitempty"`
	Status        string    `json:"deliveryStatus"` // sent or failed
	FailureReason string    `json:"failureReason,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
}

// ReviewInvite is a review invitation link.
type ReviewInvite struct {
	UID            string    `json:"uid"`
	URL            string    `json:"url"`
	ShortURL       string    `json:"shortUrl"`
	CustomerName   string    `json:"customerName,omitempty"`
	Channel        Channel   `json:"channel"`
	DeliveryStatus string    `json:"deliveryStatus"`
	Location       Ref       `json:"location"`
	CreatedAt      time.Time `json:"createdAt"`
}

// FeedEvent is one event received through a data feed.
type FeedEvent struct {
	DataFeed   string          `json:"dataFeedUid"`
	UID        string          `json:"uid"`
	EventID    string          `json:"eventId"`
	Type       string          `json:"type"`
	Body       json.RawMessage `json:"body"`
	ReceivedAt time.Time       `json:"receivedAt"`
}

// failingPrefix: messages to these numbers are accepted and then fail, the
// way a landline or a carrier block does (our choice, for the failed path).
const failingPrefix = "+1555000"

func (e *Emulator) routesExtra(mux *http.ServeMux) {
	mux.Handle("GET /v4/contact_attributes", e.api("read_contacts", e.listAttributes))
	mux.Handle("POST /v4/contact_attributes", e.api("write_contacts", e.createAttribute))
	mux.Handle("POST /v4/contacts/{identifier}/attributes/{attr}", e.api("write_contacts", e.setAttributeValue))
	mux.Handle("PATCH /v4/contacts/{identifier}/attributes/{attr}", e.api("write_contacts", e.setAttributeValue))
	mux.Handle("POST /v4/messages", e.api("write_messages", e.sendMessage))
	mux.Handle("POST /v4/reviews/invites", e.api("write_reviews", e.createInvite))
	mux.Handle("GET /v4/reviews/invites", e.api("read_reviews", e.listInvites))
	mux.Handle("POST /v4/dataFeeds/{uid}/events", e.api("write_data_feed_event", e.postFeedEvents))
	mux.Handle("GET /v4/webhooks", e.api("", e.listWebhooks))
	mux.Handle("POST /v4/webhooks", e.api("", e.createWebhook))
	mux.Handle("GET /v4/webhooks/{uid}", e.api("", e.getWebhook))
	mux.Handle("PUT /v4/webhooks/{uid}", e.api("", e.updateWebhook))
	mux.Handle("DELETE /v4/webhooks/{uid}", e.api("", e.deleteWebhook))
}

// Sign is how the emulator signs deliveries: HMAC-SHA256 over
// "<milliseconds>.<body>", lowercase hex (our choice where Podium's docs
// are silent on the encoding).
var Sign = emulator.HMACSigner("podium-timestamp", "podium-signature", true)

// emit queues a webhook event in Podium's envelope for the webhooks of a
// location (and of the organization).
func (e *Emulator) emit(eventType, location string, data any) {
	body, _ := json.Marshal(map[string]any{
		"data":     data,
		"metadata": map[string]any{"event_type": eventType, "event_uid": uuid.NewString(), "version": Version, "timestamp": e.now().UTC()},
	})
	e.hooks.Emit(eventType, location, body)
}

// Webhooks exposes deliveries for inspection.
func (e *Emulator) Webhooks() *emulator.Webhooks { return e.hooks }

func (e *Emulator) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return e.DecodeBody(w, r, v, "invalid_request_values")
}

func (e *Emulator) listAttributes(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	all := append([]AttributeDef(nil), e.attrDefs...)
	e.mu.Unlock()
	e.reply(w, r, http.StatusOK, all, nil)
}

func (e *Emulator) createAttribute(w http.ResponseWriter, r *http.Request, _ string) {
	var b struct {
		Label             string `json:"label"`
		DataType          string `json:"dataType"`
		OwnerResourceType string `json:"ownerResourceType"`
		IsEncrypted       *bool  `json:"isEncrypted"`
	}
	if !e.decode(w, r, &b) {
		return
	}
	types := "ADDRESS BOOLEAN DATETIME FLOAT INTEGER STRING UUID SINGLE_SELECT MULTI_SELECT"
	if b.Label == "" || !strings.Contains(" "+types+" ", " "+b.DataType+" ") || (b.OwnerResourceType != "PRODUCT" && b.OwnerResourceType != "ORGANIZATION") {
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "label, dataType ("+types+") and ownerResourceType (PRODUCT, ORGANIZATION) are required")
		return
	}
	now := e.now().UTC()
	def := AttributeDef{UID: uuid.NewString(), Label: b.Label, DataType: b.DataType, IsEncrypted: b.IsEncrypted == nil || *b.IsEncrypted,
		OwnerResource: Ref{UID: e.org}, CreatedAt: now, UpdatedAt: now}
	e.mu.Lock()
	e.attrDefs = append(e.attrDefs, def)
	e.mu.Unlock()
	e.reply(w, r, http.StatusOK, def, nil)
}

func (e *Emulator) setAttributeValue(w http.ResponseWriter, r *http.Request, _ string) {
	var b struct {
		Value any `json:"value"`
	}
	if !e.decode(w, r, &b) {
		return
	}
	e.mu.Lock()
	c := e.find(r.PathValue("identifier"))
	var def *AttributeDef
	for i := range e.attrDefs {
		if e.attrDefs[i].UID == r.PathValue("attr") {
			def = &e.attrDefs[i]
		}
	}
	if c == nil || def == nil {
		e.mu.Unlock()
		e.Error(w, http.StatusNotFound, "resource_not_found", "contact or attribute not found")
		return
	}
	before := *c
	setAttribute(c, Attribute{UID: def.UID, Label: def.Label, Value: b.Value})
	c.UpdatedAt = e.now().UTC()
	after, id := *c, c.Conversations[0].UID
	e.mu.Unlock()
	e.emit("contact.updated", firstLocation(after), map[string]any{"before": before, "after": after, "errors": []string{}})
	e.reply(w, r, http.StatusAccepted, map[string]string{"identifier": id}, nil)
}

// firstLocation is the location whose webhooks hear about a contact.
func firstLocation(c Contact) string {
	if len(c.Locations) == 0 {
		return ""
	}
	return c.Locations[0].UID
}

func (e *Emulator) sendMessage(w http.ResponseWriter, r *http.Request, _ string) {
	var b struct {
		LocationUID  string  `json:"locationUid"`
		Body         string  `json:"body"`
		Channel      Channel `json:"channel"`
		ContactName  string  `json:"contactName"`
		SenderName   string  `json:"senderName"`
		Subject      string  `json:"subject"`
		SetOpenInbox bool    `json:"setOpenInbox"`
	}
	if !e.decode(w, r, &b) {
		return
	}
	switch {
	case !e.knownLocation(b.LocationUID):
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "unknown locationUid")
		return
	case b.Body == "":
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "body is required")
		return
	case b.Channel.Type != "phone" && b.Channel.Type != "email":
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "channel.type must be phone or email")
		return
	case b.Channel.Type == "phone" && !phonePattern.MatchString(b.Channel.Identifier) && len(digits(b.Channel.Identifier)) != 10:
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "channel.identifier is not a phone number")
		return
	case b.Channel.Type == "email" && !emailPattern.MatchString(b.Channel.Identifier):
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "channel.identifier is not an email address")
		return
	}
	m := Message{UID: uuid.NewString(), Body: b.Body, Channel: b.Channel, Location: Ref{UID: b.LocationUID},
		ContactName: b.ContactName, SenderName: b.SenderName, Status: "sent", CreatedAt: e.now().UTC()}
	event := "message.sent"
	if strings.HasPrefix(b.Channel.Identifier, failingPrefix) {
		m.Status, m.FailureReason, event = "failed", "Landline or unreachable number", "message.failed"
	}
	e.mu.Lock()
	e.messages = append(e.messages, m)
	e.mu.Unlock()
	e.emit(event, m.Location.UID, m)
	e.reply(w, r, http.StatusOK, m, nil)
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (e *Emulator) createInvite(w http.ResponseWriter, r *http.Request, _ string) {
	var b struct {
		LocationUID  string `json:"locationUid"`
		PhoneNumber  string `json:"phoneNumber"`
		Email        string `json:"email"`
		CustomerName string `json:"customerName"`
	}
	if !e.decode(w, r, &b) {
		return
	}
	if !e.knownLocation(b.LocationUID) || (b.PhoneNumber == "" && b.Email == "") {
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "locationUid and a phoneNumber or email are required")
		return
	}
	inv := ReviewInvite{UID: uuid.NewString(), CustomerName: b.CustomerName, DeliveryStatus: "pending",
		Location: Ref{UID: b.LocationUID}, CreatedAt: e.now().UTC()}
	inv.URL = "https://podium.example/review/" + inv.UID
	inv.ShortURL = "https://podium.co/" + inv.UID[:8]
	if b.PhoneNumber != "" {
		inv.Channel = Channel{Type: "phone", Identifier: b.PhoneNumber}
	} else {
		inv.Channel = Channel{Type: "email", Identifier: b.Email}
	}
	e.mu.Lock()
	e.invites = append(e.invites, inv)
	e.mu.Unlock()
	e.emit("review.invite_link_created", inv.Location.UID, inv)
	e.reply(w, r, http.StatusOK, inv, nil)
}

func (e *Emulator) listInvites(w http.ResponseWriter, r *http.Request, _ string) {
	all := e.ReviewInvites()
	page, next, ok := emulator.Page(all, r.URL.Query().Get("cursor"), r.URL.Query().Get("limit"))
	if !ok {
		e.Error(w, http.StatusBadRequest, "invalid_cursor", "invalid cursor or limit")
		return
	}
	e.reply(w, r, http.StatusOK, page, map[string]any{"nextCursor": nullable(next), "totalItems": len(all)})
}

// postFeedEvents accepts one event or a list, as Podium documents. Events that
// carry an eventId already received are acknowledged and not stored again
// (our choice: Podium documents no idempotency for data feeds).
func (e *Emulator) postFeedEvents(w http.ResponseWriter, r *http.Request, _ string) {
	feed := r.PathValue("uid")
	e.mu.Lock()
	_, known := e.feeds[feed]
	e.mu.Unlock()
	if !known {
		e.Error(w, http.StatusNotFound, "resource_not_found", "data feed not found")
		return
	}
	var raw json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&raw); err != nil {
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "body: "+err.Error())
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	// A list is taken whole or refused whole (our choice; Podium does not say).
	type head struct {
		EventID string `json:"eventId"`
		Type    string `json:"type"`
	}
	heads := make([]head, len(list))
	for i, ev := range list {
		if err := json.Unmarshal(ev, &heads[i]); err != nil || heads[i].Type == "" {
			e.Error(w, http.StatusBadRequest, "invalid_request_values", fmt.Sprintf("event %d: each event needs a type", i))
			return
		}
	}
	var out []map[string]string
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, ev := range list {
		h := heads[i]
		if h.EventID != "" && e.feedSeen[h.EventID] {
			e.Count("feed.duplicates")
			continue
		}
		fe := FeedEvent{DataFeed: feed, UID: uuid.NewString(), EventID: h.EventID, Type: h.Type, Body: ev, ReceivedAt: e.now().UTC()}
		e.feedEvents = append(e.feedEvents, fe)
		if h.EventID != "" {
			e.feedSeen[h.EventID] = true
		}
		out = append(out, map[string]string{"uid": fe.UID, "dataFeedUid": feed})
	}
	e.reply(w, r, http.StatusOK, out, nil)
}

type webhookBody struct {
	URL             string   `json:"url"`
	EventTypes      []string `json:"eventTypes"`
	Secret          *string  `json:"secret"`
	Disabled        *bool    `json:"disabled"`
	LocationUID     string   `json:"locationUid"`
	OrganizationUID string   `json:"organizationUid"`
}

func (e *Emulator) listWebhooks(w http.ResponseWriter, r *http.Request, _ string) {
	e.reply(w, r, http.StatusOK, e.hooks.List(), nil)
}

func (e *Emulator) createWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	var b webhookBody
	if !e.decode(w, r, &b) {
		return
	}
	if b.URL == "" || len(b.EventTypes) == 0 || (b.LocationUID == "" && b.OrganizationUID == "") {
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "url, eventTypes and a locationUid or organizationUid are required")
		return
	}
	h := emulator.Webhook{URL: b.URL, EventTypes: b.EventTypes, Location: b.LocationUID, Org: b.OrganizationUID}
	if b.OrganizationUID != "" {
		h.Location = "" // the organization wins, as documented
	}
	if b.Secret != nil {
		h.Secret = *b.Secret
	}
	e.reply(w, r, http.StatusOK, e.hooks.Create(h), nil)
}

func (e *Emulator) getWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	h, ok := e.hooks.Get(r.PathValue("uid"))
	if !ok {
		e.Error(w, http.StatusNotFound, "resource_not_found", "webhook not found")
		return
	}
	e.reply(w, r, http.StatusOK, h, nil)
}

func (e *Emulator) updateWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	var b webhookBody
	if !e.decode(w, r, &b) {
		return
	}
	if b.URL != "" || b.LocationUID != "" || b.OrganizationUID != "" {
		e.Error(w, http.StatusBadRequest, "invalid_request_values", "url, location and organization cannot change")
		return
	}
	h, ok := e.hooks.Update(r.PathValue("uid"), b.EventTypes, b.Secret, b.Disabled)
	if !ok {
		e.Error(w, http.StatusNotFound, "resource_not_found", "webhook not found")
		return
	}
	e.reply(w, r, http.StatusOK, h, nil)
}

func (e *Emulator) deleteWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	h, ok := e.hooks.Delete(r.PathValue("uid"))
	if !ok {
		e.Error(w, http.StatusNotFound, "resource_not_found", "webhook not found")
		return
	}
	e.reply(w, r, http.StatusOK, h, nil)
}

// AddDataFeed creates a data feed and returns its uid.
func (e *Emulator) AddDataFeed(name string) string { return e.AddDataFeedUID(name, uuid.NewString()) }

// AddDataFeedUID creates a data feed with a uid of the caller's choosing
// and returns the uid of the feed of that name.
func (e *Emulator) AddDataFeedUID(name, uid string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for have, n := range e.feeds {
		if n == name {
			return have
		}
	}
	e.feeds[uid] = name
	return uid
}

// Messages returns the messages sent so far.
func (e *Emulator) Messages() []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Message(nil), e.messages...)
}

// ReviewInvites returns the invites created so far.
func (e *Emulator) ReviewInvites() []ReviewInvite {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ReviewInvite(nil), e.invites...)
}

// FeedEvents returns the data-feed events received, optionally of one type.
func (e *Emulator) FeedEvents(typ string) []FeedEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []FeedEvent
	for _, fe := range e.feedEvents {
		if typ == "" || fe.Type == typ {
			out = append(out, fe)
		}
	}
	return out
}

// EditContact is a Podium user editing a contact in Podium's app: it
// changes the contact and emits contact.updated with before and after.
func (e *Emulator) EditContact(identifier string, edit func(*Contact)) bool {
	e.mu.Lock()
	c := e.find(identifier)
	if c == nil {
		e.mu.Unlock()
		return false
	}
	before := cloneContact(c)
	e.unindex(c)
	edit(c)
	e.reindex(c)
	c.UpdatedAt = e.now().UTC()
	after := cloneContact(c)
	e.mu.Unlock()
	e.emit("contact.updated", firstLocation(after), map[string]any{"before": before, "after": after, "errors": []string{}})
	return true
}

// CreateContactInApp is a Podium user adding a contact in Podium's app.
func (e *Emulator) CreateContactInApp(name, phone, email, location string) Contact {
	e.mu.Lock()
	now := e.now().UTC()
	c := &Contact{UID: uuid.NewString(), Name: name, Emails: []string{}, PhoneNumbers: []string{}, Attributes: []Attribute{},
		Tags: []Ref{}, Locations: []Ref{{UID: location}}, Conversations: []Ref{{UID: uuid.NewString()}}, Organization: Ref{UID: e.org},
		CreatedAt: now, UpdatedAt: now}
	if phone != "" {
		c.PhoneNumbers = []string{phone}
	}
	if email != "" {
		c.Emails = []string{email}
	}
	e.contacts[c.UID] = c
	e.order = append(e.order, c.UID)
	e.reindex(c)
	after := cloneContact(c)
	e.mu.Unlock()
	e.emit("contact.created", location, map[string]any{"after": after, "errors": []string{}})
	return after
}

func cloneContact(c *Contact) Contact {
	cp := *c
	cp.Emails = append([]string{}, c.Emails...)
	cp.PhoneNumbers = append([]string{}, c.PhoneNumbers...)
	cp.Attributes = append([]Attribute{}, c.Attributes...)
	cp.Locations = append([]Ref{}, c.Locations...)
	return cp
}
