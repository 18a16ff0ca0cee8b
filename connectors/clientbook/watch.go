package clientbook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"
	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/projectors"
)

// Clientbook's side of a kit.Watch: GET /v1/webhooks to inspect the
// webhook, and GET /v1/clients?updatedSince (an assumption of
// docs/clientbook-api.md) for the clients changed meanwhile. A catch-up
// brings clients back; collections and activities changed while the
// webhook was down come with the next change of their client's.

// Webhooks are Clientbook's side of a kit.Watch over one webhook.
type Webhooks struct {
	Records
	url, secret string
}

// NewWatch returns a watch over the webhook at url (kit.Watch).
func NewWatch(ctx context.Context, client *Client, js jetstream.JetStream, url, secret string, cfg kit.WatchConfig, log *slog.Logger) (*kit.Watch, error) {
	cfg.Partner, cfg.Namespace = projectors.PartnerClientbook, Durable
	return kit.NewWatch(ctx, Webhooks{Records: Records{Client: client}, url: url, secret: secret}, js, cfg, log)
}

// Inspect compares Clientbook's webhooks with the one edgesync needs.
func (wh Webhooks) Inspect(ctx context.Context) ([]kit.Problem, error) {
	var hooks struct {
		Data []struct {
			URL      string   `json:"url"`
			Events   []string `json:"events"`
			Disabled bool     `json:"disabled"`
		} `json:"data"`
	}
	if err := wh.Client.Do(ctx, http.MethodGet, "/v1/webhooks", nil, &hooks); err != nil {
		return nil, err
	}
	wrong := "missing"
	for _, h := range hooks.Data {
		if h.URL != wh.url {
			continue
		}
		a, b := slices.Clone(h.Events), slices.Clone(WebhookEvents)
		slices.Sort(a)
		slices.Sort(b)
		switch {
		case h.Disabled:
			wrong = "disabled (Clientbook disables a webhook after 15 failed deliveries)"
		case !slices.Equal(a, b):
			wrong = fmt.Sprintf("subscribed to %v instead of %v", h.Events, WebhookEvents)
		default:
			wrong = ""
		}
		break
	}
	if wrong == "" {
		return nil, nil
	}
	return []kit.Problem{{Webhook: wh.url, What: wrong, Repair: func(ctx context.Context) error {
		_, err := wh.Client.EnsureWebhook(ctx, wh.url, wh.secret, WebhookEvents)
		return err
	}}}, nil
}

// Records are Clientbook's clients, for kit.Reconcile and a kit.Watch.
type Records struct{ Client *Client }

// List lists the clients changed after since (all of them when since is
// zero), 100 a page, within the client's rate limit; each record's event
// is what the gateway stores of a client.updated delivery, with an event
// id of the client and its updatedAt.
func (rs Records) List(ctx context.Context, since time.Time, fn func(kit.Record) error) error {
	page := func(ctx context.Context, cursor string) ([]json.RawMessage, string, error) {
		q := url.Values{"limit": {"100"}}
		if !since.IsZero() {
			q.Set("updatedSince", since.UTC().Format(time.RFC3339))
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p struct {
			Data       []json.RawMessage `json:"data"`
			NextCursor string            `json:"nextCursor"`
		}
		err := rs.Client.Do(ctx, http.MethodGet, "/v1/clients?"+q.Encode(), nil, &p)
		return p.Data, p.NextCursor, err
	}
	return kit.Pages(ctx, page, func(raw json.RawMessage) error {
		var c clientbookapi.Client
		if json.Unmarshal(raw, &c) != nil || c.ID == "" {
			return nil // nothing to key it by; the next listing or webhook brings it
		}
		r := kit.Record{ID: c.ID, Links: []string{c.ID}, Changed: c.UpdatedAt,
			Event: kit.CaughtUp(projectors.PartnerClientbook, "client", "client.updated", c.ID, c.UpdatedAt, raw)}
		for _, m := range append(slices.Clone(c.Emails), c.Phones...) {
			r.Values = append(r.Values, m.Value)
		}
		return fn(r)
	})
}
