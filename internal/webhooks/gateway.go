// Package webhooks is the webhook gateway role: one route per partner that
// verifies a delivery, publishes it to the PARTNER stream with a Nats-Msg-Id
// from the partner's event identity, and answers 2xx only once JetStream has
// acknowledged it.
package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Config configures the gateway.
type Config struct {
	Podium     *Verifier // nil: no Podium route
	Clientbook *Verifier // nil: no Clientbook route
	// MaxBody bounds a delivery. Zero takes the largest that fits the NATS
	// server's max payload once wrapped in its envelope (Envelope less);
	// a larger value is lowered to that, since a delivery that cannot be
	// published must be refused while the partner is still waiting.
	MaxBody int64
	// PublishTimeout bounds the wait for JetStream; Podium gives a delivery
	// 5 seconds in all, so the default is 4: a stream leader moving after a
	// server died is waited out, and a second is left for the answer.
	PublishTimeout time.Duration
	Now            func() time.Time
	// Metrics, when set, receives edgesync_webhook_deliveries_total.
	Metrics prometheus.Registerer
	// Spool, when set, keeps what JetStream did not take within
	// PublishTimeout, answers it 2xx, and Run hands it on (see Spool).
	// Without it such a delivery is answered 503 and the partner retries.
	Spool *Spool
}

// Gateway serves the webhook routes.
type Gateway struct {
	js         jetstream.JetStream
	cfg        Config
	log        *slog.Logger
	deliveries *prometheus.CounterVec
	answers    answers
	host       string // named in its reports
}

// New returns a gateway; at least one partner must be configured.
func New(js jetstream.JetStream, cfg Config, log *slog.Logger) (*Gateway, error) {
	if cfg.Podium == nil && cfg.Clientbook == nil {
		return nil, errors.New("webhook gateway: no partner configured (set a Podium or Clientbook webhook secret)")
	}
	for _, v := range []*Verifier{cfg.Podium, cfg.Clientbook} {
		if v != nil && v.Secret == "" {
			return nil, errors.New("webhook gateway: a webhook secret is required; unsigned deliveries are refused")
		}
	}
	if cfg.MaxBody < 0 {
		return nil, fmt.Errorf("webhook gateway: max body %d: want a positive size, or 0 for the largest NATS takes", cfg.MaxBody)
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 4 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	host, _ := os.Hostname()
	g := &Gateway{js: js, cfg: cfg, log: log, host: host}
	if cfg.Metrics != nil {
		g.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgesync_webhook_deliveries_total",
			Help: "Webhook deliveries by partner and answer: stored, spooled, ignored, refused (bad signature or age), malformed, too_large, not_stored.",
		}, []string{"partner", "result"})
		cfg.Metrics.MustRegister(g.deliveries)
	}
	return g, nil
}

func (g *Gateway) count(partner, result string) {
	g.answers.add(partner, result, g.cfg.Now())
	if g.deliveries != nil {
		g.deliveries.WithLabelValues(partner, result).Inc()
	}
}

// Handler returns the routes: POST /webhooks/podium, POST
// /webhooks/clientbook, GET /healthz.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	if g.cfg.Podium != nil {
		mux.HandleFunc("POST /webhooks/podium", g.route("podium", *g.cfg.Podium, parsePodium))
	}
	if g.cfg.Clientbook != nil {
		mux.HandleFunc("POST /webhooks/clientbook", g.route("clientbook", *g.cfg.Clientbook, parseClientbook))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// A connection nats.go closed for good never publishes again.
		if nc := g.js.Conn(); nc != nil && nc.IsClosed() {
			reply(w, http.StatusServiceUnavailable, "the NATS connection is closed for good")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// delivery is a parsed webhook.
type delivery struct {
	eventID string          // the partner's id of this event; empty to derive one from the body
	typ     string          // partner event type
	entity  string          // subject entity token
	id      string          // the record's partner id
	data    json.RawMessage // the payload, kept as the partner sent it
}

// errUnknownType: acknowledged and ignored, since partners add event types.
var errUnknownType = errors.New("unknown event type")

type parser func(body []byte) (delivery, error)

func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": http.StatusText(status), "message": msg})
}

func (g *Gateway) route(partner string, v Verifier, parse parser) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit := g.MaxBody()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				g.log.Warn("webhook refused: body too large", "partner", partner, "limit", limit)
				g.count(partner, "too_large")
				reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", limit))
				return
			}
			reply(w, http.StatusBadRequest, "could not read body")
			return
		}
		if err := v.Verify(r.Header, body, g.cfg.Now()); err != nil {
			g.log.Warn("webhook refused", "partner", partner, "reason", err, "remote", r.RemoteAddr)
			g.count(partner, "refused")
			reply(w, http.StatusUnauthorized, err.Error())
			return
		}
		d, err := parse(body)
		if errors.Is(err, errUnknownType) {
			g.log.Info("webhook event type not used; acknowledged and ignored", "partner", partner, "err", err)
			g.count(partner, "ignored")
			reply(w, http.StatusOK, "ignored")
			return
		}
		if err == nil {
			var m *nats.Msg
			if m, err = g.message(partner, d, body); err == nil {
				g.store(w, r, partner, d, m, body)
				return
			}
		}
		// Signed by the partner but unusable: kept with the reason, and
		// answered 200 once kept. Any other answer makes Podium retry it
		// for 8 hours with every later event of the webhook paused behind
		// it, then disable the webhook: one bad delivery would stop the
		// direction.
		g.count(partner, "malformed")
		g.answerDeadLettered(r.Context(), w, partner, body, err)
	}
}

// answerDeadLettered dead-letters a delivery that can never be stored and
// answers: 200 once it is kept in the DLQ, 503 (the partner retries) when
// not even that worked.
func (g *Gateway) answerDeadLettered(ctx context.Context, w http.ResponseWriter, partner string, body []byte, reason error) {
	if err := g.deadLetter(ctx, partner, body, reason); err != nil {
		// JetStream is away: the spool keeps the dead letter as it keeps
		// deliveries, and hands it on with them.
		if g.cfg.Spool == nil || g.cfg.Spool.Put(deadLetterMsg(partner, body, reason)) != nil {
			reply(w, http.StatusServiceUnavailable, "not stored, retry later")
			return
		}
	}
	reply(w, http.StatusOK, "dead-lettered: "+reason.Error())
}

// store publishes a verified delivery, or spools it, and answers.
func (g *Gateway) store(w http.ResponseWriter, r *http.Request, partner string, d delivery, m *nats.Msg, body []byte) {
	if g.cfg.Spool != nil && g.cfg.Spool.Waiting() > 0 {
		// Behind what waits already, to keep the partner's order.
		g.spool(w, partner, d, m, nil)
		return
	}
	err := g.publish(r.Context(), m)
	switch {
	case err == nil:
		g.count(partner, "stored")
		reply(w, http.StatusOK, "stored")
	case undeliverable(err):
		g.count(partner, "malformed")
		g.answerDeadLettered(r.Context(), w, partner, body, err)
	case g.cfg.Spool != nil:
		g.spool(w, partner, d, m, err)
	default:
		g.log.Error("webhook not stored; the partner will retry", "partner", partner, "type", d.typ, "err", err)
		g.count(partner, "not_stored")
		reply(w, http.StatusServiceUnavailable, "not stored, retry later")
	}
}

// spool keeps a delivery JetStream did not take (why) or that must queue
// behind the spool, and answers.
func (g *Gateway) spool(w http.ResponseWriter, partner string, d delivery, m *nats.Msg, why error) {
	if err := g.cfg.Spool.Put(m); err != nil {
		g.log.Error("webhook neither stored nor spooled; the partner will retry", "partner", partner, "type", d.typ, "publish_err", why, "err", err)
		g.count(partner, "not_stored")
		reply(w, http.StatusServiceUnavailable, "not stored, retry later")
		return
	}
	if why != nil {
		g.log.Warn("JetStream did not take the webhook in time: spooled on disk, handed on once it can", "partner", partner, "type", d.typ, "err", why)
	}
	g.count(partner, "spooled")
	reply(w, http.StatusOK, "stored")
}

// spoolEvery is how often Run tries to hand on what the spool holds.
const spoolEvery = 500 * time.Millisecond

// Run hands the spool's deliveries on to JetStream, in order, until ctx
// ends; without a spool it returns at once.
func (g *Gateway) Run(ctx context.Context) {
	if g.cfg.Spool == nil {
		return
	}
	t := time.NewTicker(spoolEvery)
	defer t.Stop()
	failing := false
	for {
		err := g.cfg.Spool.Drain(ctx, g.handOn)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			g.log.Warn("spooled webhooks wait: JetStream does not take them yet", "waiting", g.cfg.Spool.Waiting(), "err", err)
		case err == nil && failing:
			g.log.Info("spooled webhooks handed on to JetStream")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handOn publishes a spooled delivery. One that can never be published
// (a server whose max payload shrank since it was spooled) is
// dead-lettered instead, so it never holds the deliveries behind it.
func (g *Gateway) handOn(ctx context.Context, m *nats.Msg) error {
	_, err := streams.PublishMsg(ctx, g.js, m)
	if err == nil || !undeliverable(err) {
		return err
	}
	partner := strings.TrimPrefix(m.Header.Get(schemas.HeaderSource), "edgesync/webhooks/")
	body := m.Data
	if limit := g.MaxBody(); int64(len(body)) > limit {
		body = body[:limit]
	}
	return g.deadLetter(ctx, partner, body, fmt.Errorf("spooled delivery on %s cannot be published (kept here cut to %d of %d bytes): %w", m.Subject, len(body), len(m.Data), err))
}

// token makes a partner id usable as one subject token; an id too long
// for one (schemas.MaxTokenLen) is refused, never cut: two ids must never
// share a subject.
func token(id string) (string, error) {
	t := id
	if schemas.CheckToken("id", id) != nil {
		t = "b64_" + base64.RawURLEncoding.EncodeToString([]byte(id))
	}
	if len(t) > schemas.MaxTokenLen {
		return "", fmt.Errorf("partner id of %d bytes (starting %q): edgesync takes ids of at most %d", len(id), id[:min(len(id), 32)], (schemas.MaxTokenLen-4)*3/4)
	}
	return t, nil
}

// maxEventID bounds the partner's event id kept as Nats-Msg-Id; a longer
// one is replaced by its hash, which dedupes the same.
const maxEventID = 128

// Envelope is what MaxBody leaves of the NATS server's max payload for
// the PARTNER envelope around a delivery's data (its id, type and times,
// and the CloudEvents headers), and for a dead letter's reason.
const Envelope = 16 << 10

// MaxBody is the largest delivery the gateway takes: what the NATS server
// takes less the envelope, and no more than Config.MaxBody.
func (g *Gateway) MaxBody() int64 {
	limit := max(streams.MaxPayload(g.js)-Envelope, 1)
	if g.cfg.MaxBody > 0 {
		limit = min(limit, g.cfg.MaxBody)
	}
	return limit
}

// undeliverable reports whether a publish failed on the message itself,
// which no retry can fix: too large, or a subject or header NATS refuses.
func undeliverable(err error) bool {
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrBadSubject) || errors.Is(err, nats.ErrBadHeaderMsg)
}

// message is the PARTNER stream message of a delivery.
func (g *Gateway) message(partner string, d delivery, body []byte) (*nats.Msg, error) {
	id := d.eventID
	switch {
	case id == "":
		// No documented event id: a retried delivery has the same body.
		sum := sha256.Sum256(body)
		id = hex.EncodeToString(sum[:16])
	case len(id) > maxEventID:
		sum := sha256.Sum256([]byte(id))
		id = "sha256_" + hex.EncodeToString(sum[:16])
	}
	if len(d.typ) > maxEventType {
		return nil, fmt.Errorf("event type of %d bytes: at most %d", len(d.typ), maxEventType)
	}
	tok, err := token(d.id)
	if err != nil {
		return nil, err
	}
	pe := schemas.PartnerEnvelope{
		ID: partner + ":" + id, Type: d.typ, Source: "edgesync/webhooks/" + partner, Time: g.cfg.Now().UTC(),
		Partner: partner, Entity: d.entity, PartnerID: tok, Data: d.data,
	}
	return pe.Msg()
}

// maxEventType bounds a delivery's event type ("contact.updated").
const maxEventType = 128

func (g *Gateway) publish(ctx context.Context, m *nats.Msg) error {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.PublishTimeout)
	defer cancel()
	ack, err := streams.PublishMsg(ctx, g.js, m)
	if err != nil {
		return fmt.Errorf("publish %s: %w", m.Subject, err)
	}
	g.log.Debug("webhook stored", "subject", m.Subject, "seq", ack.Sequence, "duplicate", ack.Duplicate)
	return nil
}

func (g *Gateway) deadLetter(ctx context.Context, partner string, body []byte, reason error) error {
	m := deadLetterMsg(partner, body, reason)
	ctx, cancel := context.WithTimeout(ctx, g.cfg.PublishTimeout)
	defer cancel()
	if _, err := streams.PublishMsg(ctx, g.js, m); err != nil {
		g.log.Error("dead-letter failed", "partner", partner, "reason", reason, "err", err)
		return err
	}
	g.log.Warn("webhook dead-lettered; see it with `edgesync dlq list`", "partner", partner, "reason", reason)
	return nil
}

// deadLetterMsg is the DLQ message of a delivery that cannot be stored.
// The reason is bounded: it may quote what the partner sent.
func deadLetterMsg(partner string, body []byte, reason error) *nats.Msg {
	why := reason.Error()
	if len(why) > 1024 {
		why = why[:1024] + "..."
	}
	m := nats.NewMsg("dlq.webhooks." + partner)
	m.Data = body
	m.Header.Set(streams.HeaderDLQReason, why)
	m.Header.Set(streams.HeaderDLQConsumer, "webhooks")
	return m
}

// parsePodium reads Podium's {data, metadata{event_type}} envelope.
func parsePodium(body []byte) (delivery, error) {
	var env struct {
		Data     json.RawMessage `json:"data"`
		Metadata struct {
			EventType string `json:"event_type"`
			EventUID  string `json:"event_uid"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return delivery{}, fmt.Errorf("podium webhook: %w", err)
	}
	if env.Metadata.EventType == "" || len(env.Data) == 0 {
		return delivery{}, errors.New("podium webhook: metadata.event_type and data are required")
	}
	object, _, _ := strings.Cut(env.Metadata.EventType, ".")
	d := delivery{eventID: env.Metadata.EventUID, typ: env.Metadata.EventType, data: env.Data}
	var ids struct {
		UID    string                `json:"uid"`
		After  *struct{ UID string } `json:"after"`
		Before *struct{ UID string } `json:"before"`
	}
	if err := json.Unmarshal(env.Data, &ids); err != nil {
		return delivery{}, fmt.Errorf("podium webhook %s: data: %w", d.typ, err)
	}
	switch object {
	case "contact":
		d.entity = "contact"
		if ids.After != nil {
			d.id = ids.After.UID
		} else if ids.Before != nil {
			d.id = ids.Before.UID
		}
	case "message", "review":
		d.entity, d.id = object, ids.UID
	default:
		return delivery{}, fmt.Errorf("%w: podium %q", errUnknownType, d.typ)
	}
	if d.id == "" {
		return delivery{}, fmt.Errorf("podium webhook %s: the %s has no uid", d.typ, d.entity)
	}
	return d, nil
}

// parseClientbook reads the Clientbook envelope of docs/clientbook-api.md:
// {id, type: "<object>.<action>", occurredAt, data: {id, ...}}.
func parseClientbook(body []byte) (delivery, error) {
	var env struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return delivery{}, fmt.Errorf("clientbook webhook: %w", err)
	}
	if env.ID == "" || env.Type == "" || len(env.Data) == 0 {
		return delivery{}, errors.New("clientbook webhook: id, type and data are required")
	}
	object, _, _ := strings.Cut(env.Type, ".")
	switch object {
	case "client", "collection", "activity", "message":
	default:
		return delivery{}, fmt.Errorf("%w: clientbook %q", errUnknownType, env.Type)
	}
	var ids struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(env.Data, &ids); err != nil || ids.ID == "" {
		return delivery{}, fmt.Errorf("clientbook webhook %s: data.id is required", env.Type)
	}
	return delivery{eventID: env.ID, typ: env.Type, entity: object, id: ids.ID, data: env.Data}, nil
}
