// Package webhook is a connector that POSTs each chosen Edge event, as a
// signed CloudEvent, to a URL the store chooses: the way a store connects
// its own marketing tool or a spreadsheet service without code of its own
// in edgesync. It is also the smallest connector on the kit: a
// kit.Destination whose Apply is one HTTP call; docs/connector-kit.md
// reads it as the example.
//
// The wire contract, for whoever receives it (docs/webhook-connector.md):
// one JSON CloudEvent 1.0 per request in structured mode, its id the Edge
// event's id (the same change delivered twice carries the same id: a
// receiver dedupes on it), signed with HMAC-SHA256 over
// "<timestamp>.<body>" in the Edgesync-Signature header. A 2xx answer
// takes the event; 408, 429 and 5xx answers and no answer are retried;
// any other 4xx is a refusal and dead-letters the event with the answer.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// DefaultName is the connector's durable consumer and state namespace
// unless Config.Name says otherwise.
const DefaultName = "webhook"

// Headers of a delivery.
const (
	HeaderTimestamp = "Edgesync-Timestamp" // Unix seconds when the request was signed
	HeaderSignature = "Edgesync-Signature" // "v1=" + hex HMAC-SHA256 of "<timestamp>.<body>"
	ContentType     = "application/cloudevents+json"
)

// minSecret is the shortest secret accepted: a guessable secret signs
// nothing.
const minSecret = 16

// Config configures the connector.
type Config struct {
	// Name is the connector's durable consumer, the prefix of its state
	// and the partner it reports as; DefaultName when empty. Each URL a
	// store posts to runs as a connector of its own name.
	Name string
	// URL receives the events: http or https, absolute.
	URL string
	// Secret signs each request.
	Secret string
	// Entities are the Edge events sent; every entity when empty.
	Entities []schemas.Entity
	// PerMinute bounds the requests made in any minute; 600 when zero, no
	// bound when negative.
	PerMinute int
	// Timeout bounds one request; 10 s when zero.
	Timeout time.Duration
	// Workers is how many requests are made at once; 4 when zero. One
	// customer's events (the customer, its sales, notes...) still go one
	// after the other, in order.
	Workers int
	// RetryFor is how long one event's request is retried before the
	// consumer parks it (streams.ConsumerConfig.Retry);
	// partnerapi.DefaultRetryFor when zero.
	RetryFor time.Duration
	// AckWait, Retry, GiveUpAfter, Metrics: streams.ConsumerConfig's.
	AckWait     time.Duration
	Retry       []time.Duration
	GiveUpAfter int
	Metrics     *streams.ConsumerMetrics
	// HTTP makes the requests; http.DefaultClient's transport when nil.
	HTTP *http.Client
}

// Check checks c and fills in its defaults.
func (c *Config) Check() error {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if err := schemas.CheckToken("connector name", c.Name); err != nil {
		return err
	}
	if slices.Contains([]string{projectors.PartnerPodium, projectors.PartnerClientbook}, c.Name) {
		// Its durable would be that connector's: two handlers on one consumer.
		return fmt.Errorf("connector name %q is the %s connector's; choose another", c.Name, c.Name)
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want an absolute http:// or https:// URL", redactURL(c.URL))
	}
	if len(c.Secret) < minSecret {
		return fmt.Errorf("secret: %d characters, want at least %d", len(c.Secret), minSecret)
	}
	for _, e := range c.Entities {
		if !e.Valid() {
			return fmt.Errorf("entity %q: want one of %v", e, schemas.Entities)
		}
	}
	if len(c.Entities) == 0 {
		c.Entities = schemas.Entities
	}
	if c.PerMinute == 0 {
		c.PerMinute = 600
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.RetryFor <= 0 {
		c.RetryFor = partnerapi.DefaultRetryFor
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{}
	}
	return nil
}

// redactURL keeps a URL's scheme and host: a receiver's path or query
// often is its secret (a catch hook's token), so neither is logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// state is what the connector remembers per aggregate: where it stands.
type state struct{ kit.Position }

// Connector posts Edge events to one URL.
type Connector struct {
	cfg     Config
	js      jetstream.JetStream
	limit   *partnerapi.Limiter
	calls   *partnerapi.Calls
	states  *kit.States[state, *state]
	handler *kit.Handler[state, *state]
	log     *slog.Logger
}

// New returns a connector; the streams and buckets must exist.
func New(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (*Connector, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("webhook connector: %w", err)
	}
	_, kv, err := streams.ConnectorBuckets(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("webhook connector: %w", err)
	}
	c := &Connector{cfg: cfg, js: js, limit: partnerapi.NewLimiter(cfg.PerMinute, time.Minute),
		calls: &partnerapi.Calls{Partner: cfg.Name, Log: log}, states: kit.NewStates[state](kv, cfg.Name), log: log}
	// The connector is nobody's origin: Edge takes no writes from it, so
	// no event is its echo.
	c.handler = &kit.Handler[state, *state]{States: c.states, Dest: c, Partner: cfg.Name, JS: js, Log: log}
	return c, nil
}

// Target is the URL events go to, without what may be a credential in it.
func (c *Connector) Target() string { return redactURL(c.cfg.URL) }

// Subjects are the Edge subjects the connector consumes.
func (c *Connector) Subjects() []string {
	out := make([]string, len(c.cfg.Entities))
	for i, e := range c.cfg.Entities {
		out[i] = schemas.EdgeFilter(e)
	}
	return out
}

// Run consumes until ctx ends. A new connector gets the latest state of
// every aggregate first (its bulk lanes), changes made meanwhile go first.
func (c *Connector) Run(ctx context.Context) error {
	return streams.Consume(ctx, c.js, streams.ConsumerConfig{
		Durable: c.cfg.Name, Stream: streams.StreamEdge, Filters: c.Subjects(), Metrics: c.cfg.Metrics, AckWait: c.cfg.AckWait,
		Retry: c.cfg.Retry, GiveUpAfter: c.cfg.GiveUpAfter, Lanes: true, Report: c.report,
		Execution: streams.Parallel{Workers: c.cfg.Workers, Partition: func(msg jetstream.Msg) string { return schemas.CustomerOf(msg.Subject(), msg.Data()) }},
		PartnerOK: func() time.Time { return c.calls.Stats().LastOK },
	}, c.Handle, c.log)
}

func (c *Connector) report() streams.ConnectorReport {
	return kit.Report(c.cfg.Name, c.cfg.Name, c.calls.Stats(), max(c.cfg.PerMinute, 0), c.states.Counts())
}

// Counts are what the connector did since it started.
func (c *Connector) Counts() kit.Counts { return c.states.Counts() }

// Handle sends one Edge event, when it is news.
func (c *Connector) Handle(ctx context.Context, msg jetstream.Msg) error {
	return c.handler.Handle(ctx, msg)
}

// Apply posts one fresh Edge event (kit.Destination).
func (c *Connector) Apply(ctx context.Context, ev *kit.Event[state]) (bool, error) {
	body, err := json.Marshal(NewEvent(ev.Env, ev.Subject.Entity))
	if err != nil {
		return false, streams.Permanent(fmt.Errorf("encode %s: %w", ev.Env.ID, err))
	}
	what := "POST " + ev.Env.ID
	err = partnerapi.Retry(ctx, c.log, what, c.cfg.RetryFor, func(ctx context.Context) (time.Duration, error) {
		if err := c.limit.Wait(ctx); err != nil {
			return 0, err
		}
		ts := time.Now().Unix()
		status, header, answer, err := partnerapi.Send(ctx, c.cfg.HTTP, partnerapi.Request{
			Partner: c.cfg.Name, Method: http.MethodPost, URL: c.cfg.URL, Path: ev.Env.ID, Timeout: c.cfg.Timeout, Calls: c.calls, Body: body,
			Header: http.Header{
				"Content-Type":  {ContentType},
				HeaderTimestamp: {strconv.FormatInt(ts, 10)},
				HeaderSignature: {Sign(c.cfg.Secret, ts, body)},
			},
		})
		switch {
		case err != nil:
			return 0, err
		case status >= 200 && status < 300:
			return 0, nil
		}
		return partnerapi.RetryAfter(header), &partnerapi.Error{Partner: c.cfg.Name, Method: http.MethodPost, Path: ev.Env.ID, Status: status,
			Code: http.StatusText(status), Message: excerpt(answer)}
	})
	if err != nil {
		return false, fmt.Errorf("deliver %s: %w", ev.Env.ID, err)
	}
	return true, nil
}

// excerpt keeps the start of an answer for an error: enough to say why,
// never a whole page.
func excerpt(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// Event is a delivery's body: a CloudEvent 1.0 in structured mode
// (https://github.com/cloudevents/spec), with edgesync's extensions.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`     // the Edge event's: the same change has the same id
	Source          string          `json:"source"` // edgesync/capture/<site>
	Type            string          `json:"type"`   // edge.<entity>.changed | edge.<entity>.deleted
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Store           string          `json:"edgestore"`
	Version         int64           `json:"edgeversion"` // the Edge change version: a later state has a higher one
	Epoch           int64           `json:"edgeepoch,omitempty"`
	Origin          string          `json:"edgeorigin,omitempty"` // the partner whose write made the change in Edge
	Data            json.RawMessage `json:"data"`                 // the aggregate's whole state (schemas/json); null when deleted
}

// NewEvent is the CloudEvent of an Edge event.
func NewEvent(env schemas.Envelope, entity schemas.Entity) Event {
	data := env.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return Event{SpecVersion: "1.0", ID: env.ID, Source: env.Source, Type: env.Type, Subject: string(entity) + "/" + env.Key, Time: env.Time,
		DataContentType: "application/json", Store: env.Store, Version: env.Version, Epoch: env.Epoch, Origin: env.Origin, Data: data}
}

// Sign is the signature header of body signed at ts (Unix seconds).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// ErrSignature is a delivery whose signature does not verify.
var ErrSignature = errors.New("webhook signature does not verify")

// Verify checks a delivery as a receiver should: the signature of one of
// the secrets (two during a rotation) over the timestamp and body, and a
// timestamp within tolerance of now, so a captured request cannot be
// replayed later.
func Verify(header http.Header, body []byte, now time.Time, tolerance time.Duration, secrets ...string) error {
	ts, err := strconv.ParseInt(header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not a Unix time", ErrSignature, HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %s from now, beyond %s", ErrSignature, d.Round(time.Second), tolerance)
	}
	got := header.Values(HeaderSignature)
	for _, s := range secrets {
		if slices.ContainsFunc(got, func(g string) bool { return hmac.Equal([]byte(g), []byte(Sign(s, ts, body))) }) {
			return nil
		}
	}
	return ErrSignature
}
