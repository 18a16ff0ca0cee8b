package streams

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Links between Edge keys and partner ids live in the links bucket, both
// ways: a connector records one after a push, the Edge writer after a
// download or a match, and each finds the other's.

// LinkKey is the key that maps an Edge key to its partner id.
func LinkKey(partner, entity, edgeKey string) string {
	return partner + "." + entity + "." + edgeKey
}

// ReverseLinkKey is the key that maps a partner id to its Edge key. Partner
// ids are encoded: they may hold characters KV keys refuse.
func ReverseLinkKey(partner, entity, partnerID string) string {
	return partner + "." + entity + "-of." + base64.RawURLEncoding.EncodeToString([]byte(partnerID))
}

// PutLink records edgeKey <-> partnerID both ways.
func PutLink(ctx context.Context, links jetstream.KeyValue, partner, entity, edgeKey, partnerID string) error {
	if _, err := links.PutString(ctx, LinkKey(partner, entity, edgeKey), partnerID); err != nil {
		return fmt.Errorf("link %s %s %s: %w", partner, entity, edgeKey, err)
	}
	if _, err := links.PutString(ctx, ReverseLinkKey(partner, entity, partnerID), edgeKey); err != nil {
		return fmt.Errorf("link %s %s %s: %w", partner, entity, partnerID, err)
	}
	return nil
}

// GetLink reads one link key; "" when there is none.
func GetLink(ctx context.Context, links jetstream.KeyValue, key string) (string, error) {
	e, err := links.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read link %s: %w", key, err)
	}
	return string(e.Value()), nil
}

// ConnectorBuckets opens what every connector keeps state in: the links
// bucket and the projection bucket.
func ConnectorBuckets(ctx context.Context, js jetstream.JetStream) (links, projection jetstream.KeyValue, err error) {
	if links, err = js.KeyValue(ctx, BucketLinks); err != nil {
		return nil, nil, fmt.Errorf("open bucket %s: %w", BucketLinks, err)
	}
	if projection, err = js.KeyValue(ctx, BucketProjection); err != nil {
		return nil, nil, fmt.Errorf("open bucket %s: %w", BucketProjection, err)
	}
	return links, projection, nil
}

// GetJSON reads a JSON value; ok is false when the key does not exist.
func GetJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (v T, ok bool, err error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, false, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, true, nil
}

// PutJSON writes a JSON value.
func PutJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if _, err := kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}
