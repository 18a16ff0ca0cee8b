package streams

import (
	"context"
	"encoding/base64"
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
