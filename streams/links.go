package streams

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Links maps Edge keys to partner ids and back, for one namespace: a
// connector's name (podium, a second Podium account's own name,
// clientbook). A connector records a link after a push, the Edge writer
// after a download or a match, and each finds the other's. Links owns the
// links bucket's key scheme: nothing else builds its keys.
type Links struct {
	kv jetstream.KeyValue
	ns string
}

// NewLinks returns the links of namespace in the links bucket kv.
func NewLinks(kv jetstream.KeyValue, namespace string) Links { return Links{kv: kv, ns: namespace} }

// Namespace is the connector name the links belong to.
func (l Links) Namespace() string { return l.ns }

func (l Links) key(entity, edgeKey string) string { return l.ns + "." + entity + "." + edgeKey }

// Partner ids are encoded: they may hold characters keys refuse.
func (l Links) reverseKey(entity, partnerID string) string {
	return l.ns + "." + entity + "-of." + base64.RawURLEncoding.EncodeToString([]byte(partnerID))
}

// intentKey: a phone or email a push is in flight with.
func (l Links) intentKey(value string) string {
	return l.ns + ".intent." + base64.RawURLEncoding.EncodeToString([]byte(strings.ToLower(strings.TrimSpace(value))))
}

// LinkFilter is the bucket subject that matches namespace's forward links
// of entity, for counting them.
func LinkFilter(namespace, entity string) string {
	return "$KV." + BucketLinks + "." + namespace + "." + entity + ".*"
}

// Put records edgeKey <-> partnerID both ways.
func (l Links) Put(ctx context.Context, entity, edgeKey, partnerID string) error {
	if _, err := l.kv.PutString(ctx, l.key(entity, edgeKey), partnerID); err != nil {
		return fmt.Errorf("link %s %s %s: %w", l.ns, entity, edgeKey, err)
	}
	if _, err := l.kv.PutString(ctx, l.reverseKey(entity, partnerID), edgeKey); err != nil {
		return fmt.Errorf("link %s %s %s: %w", l.ns, entity, partnerID, err)
	}
	return nil
}

// PartnerID is the partner id an Edge key is linked to; "" when none.
func (l Links) PartnerID(ctx context.Context, entity, edgeKey string) (string, error) {
	return l.get(ctx, l.key(entity, edgeKey))
}

// EdgeKey is the Edge key a partner id is linked to; "" when none.
func (l Links) EdgeKey(ctx context.Context, entity, partnerID string) (string, error) {
	return l.get(ctx, l.reverseKey(entity, partnerID))
}

// Intend records that a partner record with value (a phone or an email)
// is being made for edgeKey: the partner's webhook for it can come before
// the link is stored, and the writer must not take edgesync's own push
// for a new customer. It returns the key to Forget once the link is in.
func (l Links) Intend(ctx context.Context, value, edgeKey string) (string, error) {
	k := l.intentKey(value)
	if _, err := l.kv.PutString(ctx, k, edgeKey); err != nil {
		return "", fmt.Errorf("record intent for %s: %w", edgeKey, err)
	}
	return k, nil
}

// Intended is the Edge key a push with value is in flight for; "" when
// none.
func (l Links) Intended(ctx context.Context, value string) (string, error) {
	return l.get(ctx, l.intentKey(value))
}

// Forget drops intents; a leftover only makes a later record with that
// value match this customer, which the link then confirms.
func (l Links) Forget(ctx context.Context, intents []string) {
	for _, k := range intents {
		_ = l.kv.Delete(ctx, k)
	}
}

// Collection is what a partner collection holds that edgesync wrote for a
// customer: item id -> Edge wish.
func (l Links) Collection(ctx context.Context, customerKey string) (map[string]int, error) {
	items, _, err := GetJSON[map[string]int](ctx, l.kv, l.key("collection", customerKey))
	return items, err
}

// PutCollection records the collection items edgesync wrote for a
// customer.
func (l Links) PutCollection(ctx context.Context, customerKey string, items map[string]int) error {
	return PutJSON(ctx, l.kv, l.key("collection", customerKey), items)
}

func (l Links) get(ctx context.Context, key string) (string, error) {
	e, err := l.kv.Get(ctx, key)
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
