package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Webhook is one subscription.
type Webhook struct {
	UID        string    `json:"uid"`
	URL        string    `json:"url"`
	Secret     string    `json:"secret"`
	Disabled   bool      `json:"disabled"`
	EventTypes []string  `json:"eventTypes"`
	Location   string    `json:"locationUid,omitempty"`
	Org        string    `json:"organizationUid,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Delivery is one attempt to deliver an event, for inspection.
type Delivery struct {
	Webhook   string
	EventType string
	Body      []byte
	Status    int // 0 when the request failed
	Attempt   int
	At        time.Time
}

// maxBackoff caps the wait between two attempts of one delivery.
const maxBackoff = 30 * time.Second

// Signer returns the signature headers of a delivery.
type Signer func(secret string, at time.Time, body []byte) http.Header

// Webhooks keeps subscriptions and delivers events to them like the partner
// does: one ordered queue per webhook, later events wait while one is being
// retried, and a webhook that fails MaxAttempts times is disabled.
type Webhooks struct {
	mu          sync.Mutex
	hooks       map[string]*hookState
	order       []string
	sign        Signer
	client      *http.Client
	deliveries  []Delivery
	MaxAttempts int           // 15, as Podium documents
	Backoff     time.Duration // first retry delay, doubling; short in tests
	now         func() time.Time
	gate        func() error // a delivery waits for it: the change it reports must be durable
	ctx         context.Context
	stop        context.CancelFunc
	wg          sync.WaitGroup
}

type hookState struct {
	Webhook
	queue  [][2][]byte // event type, body
	signal chan struct{}
}

// NewWebhooks returns an empty registry that signs with sign.
func NewWebhooks(sign Signer) *Webhooks {
	ctx, stop := context.WithCancel(context.Background())
	return &Webhooks{
		hooks: map[string]*hookState{}, sign: sign, client: &http.Client{Timeout: 5 * time.Second},
		MaxAttempts: 15, Backoff: 50 * time.Millisecond, now: time.Now, ctx: ctx, stop: stop,
	}
}

// Create registers a webhook and starts its delivery queue.
func (w *Webhooks) Create(h Webhook) Webhook {
	w.mu.Lock()
	defer w.mu.Unlock()
	h.UID = uuid.NewString()
	h.CreatedAt, h.UpdatedAt = w.now().UTC(), w.now().UTC()
	st := &hookState{Webhook: h, signal: make(chan struct{}, 1)}
	w.hooks[h.UID] = st
	w.order = append(w.order, h.UID)
	w.wg.Add(1)
	go w.run(st)
	return h
}

// Get returns a webhook.
func (w *Webhooks) Get(uid string) (Webhook, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.hooks[uid]
	if !ok {
		return Webhook{}, false
	}
	return st.Webhook, true
}

// List returns every webhook in creation order.
func (w *Webhooks) List() []Webhook {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Webhook, 0, len(w.order))
	for _, uid := range w.order {
		out = append(out, w.hooks[uid].Webhook)
	}
	return out
}

// Update changes event types, secret or disabled; nil leaves a field alone.
func (w *Webhooks) Update(uid string, eventTypes []string, secret *string, disabled *bool) (Webhook, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.hooks[uid]
	if !ok {
		return Webhook{}, false
	}
	if eventTypes != nil {
		st.EventTypes = eventTypes
	}
	if secret != nil {
		st.Secret = *secret
	}
	if disabled != nil {
		st.Disabled = *disabled
		if !st.Disabled {
			w.poke(st)
		}
	}
	st.UpdatedAt = w.now().UTC()
	return st.Webhook, true
}

// Delete removes a webhook and drops its queue.
func (w *Webhooks) Delete(uid string) (Webhook, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.hooks[uid]
	if !ok {
		return Webhook{}, false
	}
	delete(w.hooks, uid)
	for i, u := range w.order {
		if u == uid {
			w.order = append(w.order[:i:i], w.order[i+1:]...)
			break
		}
	}
	close(st.signal)
	return st.Webhook, true
}

// SetGate makes every delivery wait for gate to succeed first; an emulator
// that persists passes its store's Sync, so no partner tells the world of a
// change it could still forget.
func (w *Webhooks) SetGate(gate func() error) {
	w.mu.Lock()
	w.gate = gate
	w.mu.Unlock()
}

// SavedWebhook is a subscription with the events still queued for it.
type SavedWebhook struct {
	Webhook
	Queue []SavedEvent `json:"queue,omitempty"`
}

// SavedEvent is one queued event.
type SavedEvent struct {
	Type string `json:"type"`
	Body []byte `json:"body"`
}

// Saved returns every webhook and its queue, for the emulator's state.
func (w *Webhooks) Saved() []SavedWebhook {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]SavedWebhook, 0, len(w.order))
	for _, uid := range w.order {
		st := w.hooks[uid]
		sw := SavedWebhook{Webhook: st.Webhook}
		for _, ev := range st.queue {
			sw.Queue = append(sw.Queue, SavedEvent{Type: string(ev[0]), Body: ev[1]})
		}
		out = append(out, sw)
	}
	return out
}

// Restore brings back webhooks from Saved and resumes their deliveries.
func (w *Webhooks) Restore(hooks []SavedWebhook) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, sw := range hooks {
		st := &hookState{Webhook: sw.Webhook, signal: make(chan struct{}, 1)}
		for _, ev := range sw.Queue {
			st.queue = append(st.queue, [2][]byte{[]byte(ev.Type), ev.Body})
		}
		w.hooks[st.UID] = st
		w.order = append(w.order, st.UID)
		w.wg.Add(1)
		go w.run(st)
		w.poke(st)
	}
}

// MoveURL points every webhook that delivers to from at to instead, as a
// DNS change does for a receiver that moved; it returns how many moved.
func (w *Webhooks) MoveURL(from, to string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, st := range w.hooks {
		if st.URL == from {
			st.URL = to
			n++
			w.poke(st)
		}
	}
	return n
}

// Emit queues an event of a location for every webhook subscribed to its
// type that belongs to that location or to the organization. Events are
// queued even for disabled webhooks, as Podium documents.
func (w *Webhooks) Emit(eventType, location string, body []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, uid := range w.order {
		st := w.hooks[uid]
		if st.Org == "" && location != "" && st.Location != location {
			continue
		}
		for _, t := range st.EventTypes {
			if t == eventType {
				st.queue = append(st.queue, [2][]byte{[]byte(eventType), body})
				w.poke(st)
				break
			}
		}
	}
}

func (w *Webhooks) poke(st *hookState) {
	select {
	case st.signal <- struct{}{}:
	default:
	}
}

// Deliveries returns every delivery attempt so far.
func (w *Webhooks) Deliveries() []Delivery {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Delivery(nil), w.deliveries...)
}

// Pending counts events not yet delivered, over every webhook.
func (w *Webhooks) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, st := range w.hooks {
		n += len(st.queue)
	}
	return n
}

// Stuck describes the queues that hold events, for a test that waits on
// them: the attempts on each head event and the last status it got (0: no
// answer), and whether the webhook was disabled.
func (w *Webhooks) Stuck() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, uid := range w.order {
		st := w.hooks[uid]
		if st == nil || len(st.queue) == 0 {
			continue
		}
		attempts, status := 0, 0
		for i := len(w.deliveries) - 1; i >= 0; i-- {
			if d := w.deliveries[i]; d.Webhook == uid {
				if bytes.Equal(d.Body, st.queue[0][1]) {
					attempts, status = d.Attempt, d.Status
				}
				break
			}
		}
		out = append(out, fmt.Sprintf("webhook %s (%s): %d queued, head %s tried %d times, last answer %d, disabled %t",
			uid, st.URL, len(st.queue), st.queue[0][0], attempts, status, st.Disabled))
	}
	return out
}

// Close stops every delivery queue.
func (w *Webhooks) Close() {
	w.stop()
	w.wg.Wait()
}

func (w *Webhooks) run(st *hookState) {
	defer w.wg.Done()
	for {
		select {
		case <-w.ctx.Done():
			return
		case _, open := <-st.signal:
			if !open {
				return
			}
		}
		for w.deliverHead(st) {
		}
	}
}

// deliverHead delivers the oldest queued event, retrying it until it
// succeeds or the webhook is disabled; it reports whether to go on.
func (w *Webhooks) deliverHead(st *hookState) bool {
	w.mu.Lock()
	if len(st.queue) == 0 || st.Disabled {
		w.mu.Unlock()
		return false
	}
	ev := st.queue[0]
	w.mu.Unlock()

	delay := w.Backoff
	for attempt := 1; ; attempt++ {
		w.mu.Lock()
		url, secret, gate := st.URL, st.Secret, w.gate // MoveURL may change them between attempts
		w.mu.Unlock()
		status := 0
		if gate == nil || gate() == nil {
			status = w.post(url, secret, ev[1])
		}
		w.mu.Lock()
		w.deliveries = append(w.deliveries, Delivery{Webhook: st.UID, EventType: string(ev[0]), Body: ev[1], Status: status, Attempt: attempt, At: w.now()})
		if status >= 200 && status < 300 {
			st.queue = st.queue[1:]
			w.mu.Unlock()
			return true
		}
		if attempt >= w.MaxAttempts {
			st.Disabled = true // the partner e-mails the owner here
			w.mu.Unlock()
			return false
		}
		w.mu.Unlock()
		select {
		case <-w.ctx.Done():
			return false
		case <-time.After(delay):
		}
		// Doubling, up to a cap: Podium documents ~15 retries over ~8
		// hours; the emulator keeps the shape in compressed time.
		delay = min(2*delay, maxBackoff)
	}
}

func (w *Webhooks) post(url, secret string, body []byte) int {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		for k, vs := range w.sign(secret, w.now(), body) {
			req.Header[k] = vs
		}
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// HMACSigner signs like Podium and Clientbook: HMAC-SHA256 over
// "<timestamp>.<body>" in lowercase hex, the timestamp in milliseconds or
// seconds.
func HMACSigner(timestampHeader, signatureHeader string, millis bool) Signer {
	return func(secret string, at time.Time, body []byte) http.Header {
		ts := strconv.FormatInt(at.Unix(), 10)
		if millis {
			ts = strconv.FormatInt(at.UnixMilli(), 10)
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		h := http.Header{}
		h.Set(timestampHeader, ts)
		h.Set(signatureHeader, hex.EncodeToString(mac.Sum(nil)))
		return h
	}
}
