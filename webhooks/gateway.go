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
	// MaxBody bounds a delivery; 1 MiB by default.
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
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 4 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gateway{js: js, cfg: cfg, log: log}
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
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
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
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				g.log.Warn("webhook refused: body too large", "partner", partner, "limit", g.cfg.MaxBody)
				g.count(partner, "too_large")
				reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", g.cfg.MaxBody))
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
		if err != nil {
			// Signed by the partner but unreadable: keep it with the reason.
			g.deadLetter(r.Context(), partner, body, err)
			g.count(partner, "malformed")
			reply(w, http.StatusBadRequest, err.Error())
			return
		}
		m, err := g.message(partner, d, body)
		if err != nil {
			g.deadLetter(r.Context(), partner, body, err)
			g.count(partner, "malformed")
			reply(w, http.StatusBadRequest, err.Error())
			return
		}
		if g.cfg.Spool != nil && g.cfg.Spool.Waiting() > 0 {
			// Behind what waits already, to keep the partner's order.
			g.spool(w, partner, d, m, nil)
			return
		}
		if err := g.publish(r.Context(), m); err != nil {
			if g.cfg.Spool != nil {
				g.spool(w, partner, d, m, err)
				return
			}
			g.log.Error("webhook not stored; the partner will retry", "partner", partner, "type", d.typ, "err", err)
			g.count(partner, "not_stored")
			reply(w, http.StatusServiceUnavailable, "not stored, retry later")
			return
		}
		g.count(partner, "stored")
		reply(w, http.StatusOK, "stored")
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
		err := g.cfg.Spool.Drain(ctx, func(ctx context.Context, m *nats.Msg) error {
			_, err := streams.PublishMsg(ctx, g.js, m)
			return err
		})
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

// token makes a partner id usable as one subject token.
func token(id string) string {
	if schemas.CheckToken("id", id) == nil {
		return id
	}
	return "b64_" + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// message is the PARTNER stream message of a delivery.
func (g *Gateway) message(partner string, d delivery, body []byte) (*nats.Msg, error) {
	id := d.eventID
	if id == "" {
		// No documented event id: a retried delivery has the same body.
		sum := sha256.Sum256(body)
		id = hex.EncodeToString(sum[:16])
	}
	pe := schemas.PartnerEnvelope{
		ID: partner + ":" + id, Type: d.typ, Source: "edgesync/webhooks/" + partner, Time: g.cfg.Now().UTC(),
		Partner: partner, Entity: d.entity, PartnerID: token(d.id), Data: d.data,
	}
	return pe.Msg()
}

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

func (g *Gateway) deadLetter(ctx context.Context, partner string, body []byte, reason error) {
	m := nats.NewMsg("dlq.webhooks." + partner)
	m.Data = body
	m.Header.Set(streams.HeaderDLQReason, reason.Error())
	m.Header.Set(streams.HeaderDLQConsumer, "webhooks")
	ctx, cancel := context.WithTimeout(ctx, g.cfg.PublishTimeout)
	defer cancel()
	if _, err := streams.PublishMsg(ctx, g.js, m); err != nil {
		g.log.Error("dead-letter failed", "partner", partner, "reason", reason, "err", err)
		return
	}
	g.log.Warn("webhook dead-lettered", "partner", partner, "reason", reason)
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
