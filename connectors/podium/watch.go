package podium

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/projectors"
)

// Podium disables a webhook after about 15 failed tries over 8 hours; the
// kit's Watch repairs Podium's webhooks and catches up what they missed
// through Webhooks: GET /v4/webhooks to inspect them, and
// GET /v4/contacts?updated_at (cursor pagination, at the client's rate
// limit) for what changed.

// Hook is one webhook edgesync needs: its URL, secret, location and events.
type Hook struct {
	URL, Secret, LocationUID string
	EventTypes               []string
}

// Webhooks are Podium's side of a kit.Watch over hooks.
type Webhooks struct {
	Records
	hooks []Hook
}

// NewWatch returns a watch over hooks (kit.Watch); cfg.Partner is set.
func NewWatch(ctx context.Context, client *Client, js jetstream.JetStream, hooks []Hook, cfg kit.WatchConfig, log *slog.Logger) (*kit.Watch, error) {
	cfg.Partner = projectors.PartnerPodium
	if cfg.Namespace == "" {
		cfg.Namespace = Durable
	}
	return kit.NewWatch(ctx, Webhooks{Records: Records{Client: client}, hooks: hooks}, js, cfg, log)
}

// Inspect compares Podium's webhooks with those edgesync needs: a missing
// one is created again, a disabled one enabled, a wrong URL or event list
// set right, and the secret set again with each repair (Podium does not
// show it back).
func (wh Webhooks) Inspect(ctx context.Context) ([]kit.Problem, error) {
	var hooks []struct {
		UID         string   `json:"uid"`
		URL         string   `json:"url"`
		LocationUID string   `json:"locationUid"`
		EventTypes  []string `json:"eventTypes"`
		Disabled    bool     `json:"disabled"`
	}
	if err := wh.Client.Do(ctx, "GET", "/v4/webhooks", nil, &hooks); err != nil {
		return nil, err
	}
	var out []kit.Problem
	for _, want := range wh.hooks {
		wrong := "missing"
		for _, h := range hooks {
			if h.URL != want.URL || h.LocationUID != want.LocationUID {
				continue
			}
			switch {
			case h.Disabled:
				wrong = "disabled (Podium disables a webhook after its deliveries failed for hours)"
			case !sameSet(h.EventTypes, want.EventTypes):
				wrong = fmt.Sprintf("subscribed to %v instead of %v", h.EventTypes, want.EventTypes)
			default:
				wrong = ""
			}
			break
		}
		if wrong == "" {
			continue
		}
		out = append(out, kit.Problem{Webhook: want.URL + " for location " + want.LocationUID, What: wrong, Repair: func(ctx context.Context) error {
			_, err := wh.Client.EnsureWebhook(ctx, want.URL, want.Secret, want.LocationUID, want.EventTypes)
			return err
		}})
	}
	return out, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Records are Podium's contacts, for kit.Reconcile and a kit.Watch.
type Records struct{ Client *Client }

// List lists the contacts changed after since (all of them when since is
// zero), 100 a page, within the client's rate limit; each record's event
// is what the gateway stores of a contact.updated delivery
// ({"after": contact}), with an event id of the contact and its updatedAt.
func (rs Records) List(ctx context.Context, since time.Time, fn func(kit.Record) error) error {
	page := func(ctx context.Context, cursor string) ([]json.RawMessage, string, error) {
		q := url.Values{"limit": {"100"}}
		if !since.IsZero() {
			q.Set("updated_at", since.UTC().Format(time.RFC3339))
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var items []json.RawMessage
		meta, err := rs.Client.list(ctx, "/v4/contacts?"+q.Encode(), &items)
		return items, meta.NextCursor, err
	}
	return kit.Pages(ctx, page, func(raw json.RawMessage) error {
		var c struct {
			UID           string    `json:"uid"`
			UpdatedAt     time.Time `json:"updatedAt"`
			Emails        []string  `json:"emails"`
			PhoneNumbers  []string  `json:"phoneNumbers"`
			Conversations []struct {
				UID string `json:"uid"`
			} `json:"conversations"`
		}
		if json.Unmarshal(raw, &c) != nil || c.UID == "" {
			return nil // nothing to key it by; the next listing or webhook brings it
		}
		data, _ := json.Marshal(map[string]json.RawMessage{"after": raw})
		r := kit.Record{ID: c.UID, Links: []string{c.UID}, Values: append(slices.Clone(c.Emails), c.PhoneNumbers...), Changed: c.UpdatedAt,
			Event: kit.CaughtUp(projectors.PartnerPodium, "contact", "contact.updated", c.UID, c.UpdatedAt, data)}
		for _, cv := range c.Conversations {
			r.Links = append(r.Links, cv.UID) // the identifier a create answers with, which edgesync links
		}
		return fn(r)
	})
}
