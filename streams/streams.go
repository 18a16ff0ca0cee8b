// Package streams owns edgesync's JetStream layout: the EDGE, PARTNER and DLQ
// streams, the KV buckets, the durable consumers, status, replay and the
// batched publisher capture uses.
package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream and bucket names. They are part of the public contract: a connector
// written elsewhere binds to these names.
const (
	StreamEdge    = "EDGE"
	StreamPartner = "PARTNER"
	StreamDLQ     = "DLQ"

	BucketCheckpoints = "edgesync-checkpoints"
	BucketLinks       = "edgesync-links"
	BucketProjection  = "edgesync-projection"
	BucketStatus      = "edgesync-status"
)

// Config sets how streams and buckets are provisioned.
type Config struct {
	// Replicas is 1 on a single server, 3 on a cluster.
	Replicas int
	// EdgeMaxAge bounds how long Edge events are kept; 0 keeps them forever,
	// which a replay-to-backfill design wants (the latest state of every
	// aggregate stays, older states are bounded by EdgeMaxPerSubject).
	EdgeMaxAge time.Duration
	// EdgeMaxPerSubject keeps the last N states of each aggregate; 0 keeps all.
	EdgeMaxPerSubject int64
	// PartnerMaxAge bounds partner events.
	PartnerMaxAge time.Duration
	// DLQMaxAge bounds dead letters.
	DLQMaxAge time.Duration
	// Duplicates is the dedupe window for Nats-Msg-Id. It must cover the time
	// from a publish to its checkpoint plus a restart.
	Duplicates time.Duration
	// Memory puts streams in memory instead of on disk; for benchmarks only.
	Memory bool
	// Stores are the chain's stores with a leaf node of their own
	// (edgesync store): the hub's EDGE stream sources each one's.
	Stores []string
}

// DefaultConfig is a single-store install on one server.
func DefaultConfig() Config {
	return Config{
		Replicas:          1,
		EdgeMaxPerSubject: 16,
		PartnerMaxAge:     30 * 24 * time.Hour,
		DLQMaxAge:         90 * 24 * time.Hour,
		Duplicates:        15 * time.Minute,
	}
}

func (c Config) validate() error {
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("replicas %d: want 1 to 5", c.Replicas)
	}
	if c.Duplicates <= 0 {
		return errors.New("duplicates window must be positive")
	}
	for _, age := range []time.Duration{c.EdgeMaxAge, c.PartnerMaxAge, c.DLQMaxAge} {
		if age != 0 && age < c.Duplicates {
			return fmt.Errorf("max age %s is shorter than the duplicates window %s", age, c.Duplicates)
		}
	}
	return nil
}

func (c Config) storage() jetstream.StorageType {
	if c.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// StoreDomain is the JetStream domain of a store's leaf node, store is
// the store's Edge code ("001").
func StoreDomain(store string) string { return "store" + store }

// StreamConfigs returns the three stream configurations for c.
func (c Config) StreamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:               StreamEdge,
			Description:        "Edge changes: edge.<entity>.<store>.<id>, whole aggregate per event",
			Subjects:           []string{"edge.>"},
			Storage:            c.storage(),
			Replicas:           c.Replicas,
			MaxAge:             c.EdgeMaxAge,
			MaxMsgsPerSubject:  c.EdgeMaxPerSubject,
			Duplicates:         c.Duplicates,
			AllowAtomicPublish: true,
			Sources:            c.storeSources(),
		},
		{
			Name:               StreamPartner,
			Description:        "Partner changes: partner.<partner>.<entity>.<id>",
			Subjects:           []string{"partner.>"},
			Storage:            c.storage(),
			Replicas:           c.Replicas,
			MaxAge:             c.PartnerMaxAge,
			Duplicates:         c.Duplicates,
			AllowAtomicPublish: true,
		},
		{
			Name:        StreamDLQ,
			Description: "Dead letters: dlq.<consumer>.> with the failure reason in headers",
			Subjects:    []string{"dlq.>"},
			Storage:     c.storage(),
			Replicas:    c.Replicas,
			MaxAge:      c.DLQMaxAge,
			Duplicates:  c.Duplicates,
		},
	}
}

// StoreDeliverPrefix is where a store delivers its events to the hub's
// sourcing. Each store has its own, so the hub's leaf node port can let a
// store's credential publish its own deliveries and nothing of another
// store's (deploy/nats-hub.conf).
func StoreDeliverPrefix(store string) string { return "deliver." + StoreDomain(store) }

// storeSources are the stores' own EDGE streams, sourced into the hub's:
// a store captures into its leaf node, durable there through an outage,
// and the hub takes every event once, by its Nats-Msg-Id.
func (c Config) storeSources() []*jetstream.StreamSource {
	var out []*jetstream.StreamSource
	for _, s := range c.Stores {
		out = append(out, &jetstream.StreamSource{Name: StreamEdge, External: &jetstream.ExternalStream{
			APIPrefix: "$JS." + StoreDomain(s) + ".API", DeliverPrefix: StoreDeliverPrefix(s),
		}})
	}
	return out
}

// ProvisionSite creates or updates what a store's leaf node holds: its
// own EDGE stream, which capture publishes into, and capture's
// checkpoints. The rest lives at the hub.
func ProvisionSite(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg.Stores = nil
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("provision store streams: %w", err)
	}
	sc := cfg.StreamConfigs()[0]
	if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
		return fmt.Errorf("provision store stream %s: %w", sc.Name, err)
	}
	kc := cfg.BucketConfigs()[0]
	if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
		return fmt.Errorf("provision store bucket %s: %w", kc.Bucket, err)
	}
	return nil
}

// BucketConfigs returns the KV bucket configurations for c.
func (c Config) BucketConfigs() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: BucketCheckpoints, Description: "capture checkpoints per source and entity", History: 5, Storage: c.storage(), Replicas: c.Replicas},
		{Bucket: BucketLinks, Description: "Edge key <-> partner id", History: 1, Storage: c.storage(), Replicas: c.Replicas},
		{Bucket: BucketProjection, Description: "per-connector hash of what was last pushed", History: 1, Storage: c.storage(), Replicas: c.Replicas},
		// A report older than a day is of a role that is gone.
		{Bucket: BucketStatus, Description: "each connector's latest report for the status page", History: 1, TTL: 24 * time.Hour, Storage: c.storage(), Replicas: c.Replicas},
	}
}

// Provision creates or updates every stream and bucket. Running it again, with
// the same or a changed config, converges instead of failing.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("provision streams: %w", err)
	}
	for _, sc := range cfg.StreamConfigs() {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range cfg.BucketConfigs() {
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("provision bucket %s: %w", kc.Bucket, err)
		}
		if readFromLeader[kc.Bucket] {
			if err := turnOffDirectGet(ctx, js, kc.Bucket); err != nil {
				return fmt.Errorf("provision bucket %s: %w", kc.Bucket, err)
			}
		}
	}
	return nil
}

// readFromLeader are the buckets whose keys one role writes and another
// role, or the same one a moment later, must then read: the links (the
// connector's intent and link, read by the Edge writer, and the writer's
// links, read by the connector) and the connectors' projection state. A
// bucket's default read, direct get, may be answered by any replica, and a
// follower can answer before it has applied a write the leader already
// acknowledged (nats-server gives direct get no read-after-write; issue
// 6557). On three servers under load a quarter of such reads missed the
// write (TestBucketsReadAcrossRolesSeeTheLatestWrite), and the compose
// test lost a customer to it: the writer saw the connector's intent already
// dropped and its link not yet there, and downloaded edgesync's own push
// as a new Edge customer. Without direct get, nats.go reads a key with
// STREAM.MSG.GET, which the stream's leader answers. The price: the
// server's permissions can no longer tell one connector's keys from
// another's on a read (deploy/nats-server.conf), writes still can.
var readFromLeader = map[string]bool{BucketLinks: true, BucketProjection: true}

// turnOffDirectGet makes a bucket's readers go to its stream's leader.
// nats.go creates every bucket with direct get, and updating one turns it
// on again, so this runs after each provisioning; a role that opens the
// bucket afterwards reads from the leader.
func turnOffDirectGet(ctx context.Context, js jetstream.JetStream, bucket string) error {
	s, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	if !cfg.AllowDirect {
		return nil
	}
	cfg.AllowDirect = false
	_, err = js.UpdateStream(ctx, cfg)
	return err
}

// LastPerSubject calls fn with the subject and headers of the newest
// message of every subject of stream that matches filter, without reading
// the bodies. Capture uses it after a restore of the Edge database to find
// the aggregates the stream knows and the database no longer holds.
func LastPerSubject(ctx context.Context, js jetstream.JetStream, stream, filter string, fn func(subject string, h nats.Header) error) error {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, HeadersOnly: true,
	})
	if err != nil {
		return fmt.Errorf("read last of %s on %s: %w", filter, stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("read last of %s on %s: %w", filter, stream, err)
	}
	if info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read last of %s on %s: %w", filter, stream, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("read last of %s on %s: %w", filter, stream, err)
		}
		if err := fn(msg.Subject(), msg.Headers()); err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read last of %s on %s: %w", filter, stream, err)
		}
		if md.NumPending == 0 {
			return nil
		}
	}
}

// EachLatest calls fn with the newest message, body included, of every
// subject of stream that filter matches, until fn returns errStop (which
// ends it without an error) or another error.
func EachLatest(ctx context.Context, js jetstream.JetStream, stream, filter string, fn func(jetstream.Msg) error) error {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		return fmt.Errorf("read %s on %s: %w", filter, stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s on %s: %w", filter, stream, err)
	}
	for left := info.NumPending; left > 0; left-- {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return fmt.Errorf("read %s on %s: %w", filter, stream, err)
		}
		if err := fn(m); errors.Is(err, ErrStop) {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

// ErrStop ends EachLatest early, without an error.
var ErrStop = errors.New("stop")
