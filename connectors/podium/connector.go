package podium

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Durable is the name of the connector's consumer on the EDGE stream.
const Durable = "podium"

// Stats count what the connector did since it started.
type Stats struct {
	Applied int64 // calls Podium acknowledged
	Skipped int64 // events that needed no call (unchanged, echo, not synchronized...)
	Stale   int64 // redelivered or older events already superseded
}

// Connector keeps Podium equal to Edge for the subjects it consumes.
type Connector struct {
	client *Client
	js     jetstream.JetStream
	links  jetstream.KeyValue
	state  jetstream.KeyValue
	opts   projectors.PodiumOptions
	log    *slog.Logger

	applied, skipped, stale atomic.Int64
}

// NewConnector returns a connector; the streams and buckets must exist.
func NewConnector(ctx context.Context, js jetstream.JetStream, client *Client, opts projectors.PodiumOptions, log *slog.Logger) (*Connector, error) {
	links, err := js.KeyValue(ctx, streams.BucketLinks)
	if err != nil {
		return nil, fmt.Errorf("podium connector: open bucket %s: %w", streams.BucketLinks, err)
	}
	state, err := js.KeyValue(ctx, streams.BucketProjection)
	if err != nil {
		return nil, fmt.Errorf("podium connector: open bucket %s: %w", streams.BucketProjection, err)
	}
	if len(opts.Locations) == 0 {
		return nil, errors.New("podium connector: no store is mapped to a Podium location (--podium-location 001=<uid>)")
	}
	return &Connector{client: client, js: js, links: links, state: state, opts: opts, log: log}, nil
}

// Subjects are the Edge subjects the connector consumes.
func Subjects() []string {
	return []string{schemas.EdgeFilter(schemas.EntityCustomer)}
}

// Run consumes until ctx ends.
func (c *Connector) Run(ctx context.Context) error {
	return streams.Consume(ctx, c.js, streams.ConsumerConfig{
		Durable: Durable, Stream: streams.StreamEdge, Filters: Subjects(),
	}, c.Handle, c.log)
}

// Stats returns the running totals.
func (c *Connector) Stats() Stats {
	return Stats{Applied: c.applied.Load(), Skipped: c.skipped.Load(), Stale: c.stale.Load()}
}

// Handle applies one Edge event to Podium.
func (c *Connector) Handle(ctx context.Context, msg jetstream.Msg) error {
	subj, err := schemas.ParseEdgeSubject(msg.Subject())
	if err != nil {
		return streams.Permanent(err)
	}
	env, err := schemas.DecodeEnvelope(msg.Data())
	if err != nil {
		return streams.Permanent(err)
	}
	switch subj.Entity {
	case schemas.EntityCustomer:
		return c.customer(ctx, env)
	default:
		return streams.Permanent(fmt.Errorf("podium connector does not handle %s events", subj.Entity))
	}
}

// pushed is what the connector remembers per aggregate, in the projection bucket.
type pushed struct {
	Identifier string `json:"identifier,omitempty"`
	Hash       string `json:"hash,omitempty"`
	Version    int64  `json:"version"`
}

func stateKey(entity schemas.Entity, key string) string {
	return projectors.PartnerPodium + "." + string(entity) + "." + key
}

func (c *Connector) load(ctx context.Context, key string) (pushed, error) {
	var p pushed
	e, err := c.state.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("load state %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return p, fmt.Errorf("decode state %s: %w", key, err)
	}
	return p, nil
}

func (c *Connector) save(ctx context.Context, key string, p pushed) error {
	b, _ := json.Marshal(p)
	if _, err := c.state.Put(ctx, key, b); err != nil {
		return fmt.Errorf("save state %s: %w", key, err)
	}
	return nil
}

func (c *Connector) customer(ctx context.Context, env schemas.Envelope) error {
	key := stateKey(schemas.EntityCustomer, env.Key)
	prior, err := c.load(ctx, key)
	if err != nil {
		return err
	}
	if env.Version <= prior.Version {
		c.stale.Add(1)
		return nil
	}
	var cust *schemas.Customer
	if !env.Deleted() {
		cust = new(schemas.Customer)
		if err := env.DecodeData(cust); err != nil {
			return streams.Permanent(err)
		}
	}
	op := projectors.PodiumCustomer(env.Origin, cust, projectors.PodiumPrior{Identifier: prior.Identifier, Hash: prior.Hash}, c.opts)
	next := prior
	next.Version = env.Version
	switch op.Kind {
	case projectors.PodiumSkip:
		c.skipped.Add(1)
		c.log.Debug("podium: nothing to send", "customer", env.Key, "reason", op.Reason)
		return c.save(ctx, key, next)
	case projectors.PodiumUpdate:
		id, err := c.client.UpdateContact(ctx, op.Identifier, op.Contact)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
			// Deleted in Podium since we linked it: Edge still has the customer, so create it again.
			c.log.Info("podium contact was deleted in Podium; creating it again", "customer", env.Key)
			id, err = c.client.CreateContact(ctx, op.Contact)
		}
		if err != nil {
			return classify(fmt.Errorf("update contact for %s: %w", env.Key, err))
		}
		next.Identifier = id
	case projectors.PodiumCreate:
		id, err := c.client.CreateContact(ctx, op.Contact)
		if err != nil {
			return classify(fmt.Errorf("create contact for %s: %w", env.Key, err))
		}
		next.Identifier = id
	}
	next.Hash = op.Hash
	if err := c.link(ctx, env.Key, next.Identifier); err != nil {
		return err
	}
	if err := c.save(ctx, key, next); err != nil {
		return err
	}
	c.applied.Add(1)
	return nil
}

// link records Edge key <-> Podium contact both ways; inbound events use the
// reverse link to find the Edge customer.
func (c *Connector) link(ctx context.Context, edgeKey, identifier string) error {
	if _, err := c.links.PutString(ctx, "podium.customer."+edgeKey, identifier); err != nil {
		return fmt.Errorf("link %s: %w", edgeKey, err)
	}
	rev := "podium.contact." + base64.RawURLEncoding.EncodeToString([]byte(identifier))
	if _, err := c.links.PutString(ctx, rev, edgeKey); err != nil {
		return fmt.Errorf("link %s: %w", identifier, err)
	}
	return nil
}

// classify marks Podium's refusals of the request itself as permanent: no
// retry will make Podium accept an invalid body.
func classify(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 &&
		apiErr.Status != http.StatusTooManyRequests && apiErr.Status != http.StatusUnauthorized {
		return streams.Permanent(err)
	}
	return err
}
