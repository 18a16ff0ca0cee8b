// Package clientbook is the Clientbook connector: an API client for the
// interface of docs/clientbook-api.md and a durable consumer that keeps
// Clientbook equal to what Edge holds. Every endpoint shape lives in this
// file, so the real API can be adapted here alone.
package clientbook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"
	"github.com/edgesync/edgesync/connectors/partnerapi"
)

// DefaultRatePerMinute is the request limit of one API key.
const DefaultRatePerMinute = 120

// ClientConfig configures the API client.
type ClientConfig struct {
	BaseURL string // https://api.clientbook.com
	APIKey  string // never logged
	// RatePerMinute is the key's request limit; 0 means 120, a negative
	// value lifts the client limit (emulator runs).
	RatePerMinute int
	RateWindow    time.Duration // one minute unless a test shrinks time
	Timeout       time.Duration // one HTTP attempt; 15s by default
	RetryFor      time.Duration // all attempts of one call; partnerapi.DefaultRetryFor by default
	HTTPClient    *http.Client
	// CallMetrics, when set, counts the client's calls by answer.
	CallMetrics *partnerapi.CallMetrics
}

// APIError is an error answer from Clientbook.
type APIError = partnerapi.Error

// Client calls Clientbook for one merchant account. All its calls share one
// rate limiter.
type Client struct {
	cfg     ClientConfig
	hc      *http.Client
	limiter *partnerapi.Limiter
	calls   partnerapi.Calls
	log     *slog.Logger
}

// NewClient returns a client; it checks the configuration, not the network.
func NewClient(cfg ClientConfig, log *slog.Logger) (*Client, error) {
	if cfg.APIKey == "" {
		return nil, fmt.Errorf("clientbook client: missing API key")
	}
	if p, err := url.Parse(cfg.BaseURL); err != nil || p.Scheme == "" || p.Host == "" {
		return nil, fmt.Errorf("clientbook client: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = partnerapi.DefaultRetryFor
	}
	if cfg.RatePerMinute == 0 {
		cfg.RatePerMinute = DefaultRatePerMinute
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	c := &Client{cfg: cfg, hc: hc, limiter: partnerapi.NewLimiter(cfg.RatePerMinute, cfg.RateWindow), log: log}
	c.calls.Partner, c.calls.Log, c.calls.Metrics = "clientbook", log, cfg.CallMetrics
	return c, nil
}

// Calls reads how many calls the client made in the last minute and when
// the last succeeded or failed.
func (c *Client) Calls() partnerapi.CallStats { return c.calls.Stats() }

// LimitPerMinute is the account's request limit per minute; negative: none.
func (c *Client) LimitPerMinute() int {
	return partnerapi.PerMinute(c.cfg.RatePerMinute, c.cfg.RateWindow)
}

// Do calls method path with body (JSON, may be nil) and decodes the answer
// into out (may be nil), retrying as partnerapi.Retry says.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("clientbook %s %s: encode body: %w", method, path, err)
		}
	}
	return partnerapi.Retry(ctx, c.log, "clientbook "+method+" "+path, c.cfg.RetryFor, func(ctx context.Context) (time.Duration, error) {
		return c.attempt(ctx, method, path, payload, out)
	})
}

func (c *Client) attempt(ctx context.Context, method, path string, payload []byte, out any) (time.Duration, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return 0, backoff.Permanent(fmt.Errorf("clientbook %s %s: %w", method, path, err))
	}
	status, header, raw, err := partnerapi.Send(ctx, c.hc, partnerapi.Request{
		Partner: "clientbook", Method: method, URL: strings.TrimRight(c.cfg.BaseURL, "/") + path, Path: path,
		Header: http.Header{"Authorization": {"Bearer " + c.cfg.APIKey}}, Body: payload, Timeout: c.cfg.Timeout, Calls: &c.calls,
	})
	if err != nil {
		return 0, err
	}
	if status >= 300 {
		return partnerapi.RetryAfter(header), decodeError(method, path, status, raw)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return 0, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return 0, backoff.Permanent(fmt.Errorf("clientbook %s %s: decode answer: %w", method, path, err))
	}
	return 0, nil
}

// decodeError reads Clientbook's {"error": {code, message}} body.
func decodeError(method, path string, status int, raw []byte) *APIError {
	e := &APIError{Partner: "clientbook", Method: method, Path: path, Status: status}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	}
	if e.Code == "" {
		e.Code = http.StatusText(status)
	}
	return e
}

func esc(s string) string { return url.PathEscape(s) }

// UpsertClient creates or replaces the client whose external id is the
// Edge customer key.
func (c *Client) UpsertClient(ctx context.Context, cl clientbookapi.Client) (clientbookapi.Client, error) {
	var out clientbookapi.Client
	return out, c.Do(ctx, http.MethodPut, "/v1/clients/external/"+esc(cl.ExternalID), cl, &out)
}

// UpdateClient replaces the fields of a client created in Clientbook and
// gives it the Edge key as external id.
func (c *Client) UpdateClient(ctx context.Context, id string, cl clientbookapi.Client) (clientbookapi.Client, error) {
	var out clientbookapi.Client
	return out, c.Do(ctx, http.MethodPatch, "/v1/clients/"+esc(id), cl, &out)
}

// Clients lists every client of the account, following the cursor.
func (c *Client) Clients(ctx context.Context) ([]clientbookapi.Client, error) {
	var all []clientbookapi.Client
	cursor := ""
	for {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Data       []clientbookapi.Client `json:"data"`
			NextCursor string                 `json:"nextCursor"`
		}
		if err := c.Do(ctx, http.MethodGet, "/v1/clients?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// UpsertProduct creates a product or merges the fields p sets into it.
func (c *Client) UpsertProduct(ctx context.Context, p clientbookapi.Product) error {
	return c.Do(ctx, http.MethodPut, "/v1/products/external/"+esc(p.ExternalID), p, nil)
}

// Collection is a client's named collection as Clientbook answers it.
type Collection struct {
	ID    string                         `json:"id"`
	Name  string                         `json:"name"`
	Items []clientbookapi.CollectionItem `json:"items"`
}

// PutCollection replaces a client's named collection.
func (c *Client) PutCollection(ctx context.Context, clientID, name string, items []clientbookapi.CollectionItem) (Collection, error) {
	var out Collection
	path := "/v1/clients/" + esc(clientID) + "/collections/" + esc(name)
	return out, c.Do(ctx, http.MethodPut, path, map[string]any{"items": items}, &out)
}

// UpsertPurchase creates or replaces the purchase of an Edge sale.
func (c *Client) UpsertPurchase(ctx context.Context, clientID, saleKey string, p clientbookapi.Purchase) error {
	return c.Do(ctx, http.MethodPut, "/v1/clients/"+esc(clientID)+"/purchases/external/"+esc(saleKey), p, nil)
}

// UpsertActivity creates or replaces the recent-activity entry of an Edge
// note and returns its id.
func (c *Client) UpsertActivity(ctx context.Context, clientID, noteKey string, a clientbookapi.Activity) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := c.Do(ctx, http.MethodPut, "/v1/clients/"+esc(clientID)+"/activities/external/"+esc(noteKey), a, &out)
	return out.ID, err
}

// UpdateActivity changes an entry created in Clientbook.
func (c *Client) UpdateActivity(ctx context.Context, id string, a clientbookapi.Activity) error {
	return c.Do(ctx, http.MethodPatch, "/v1/activities/"+esc(id), a, nil)
}

// Message is Clientbook's answer to a text.
type Message struct {
	ID            string `json:"id"`
	Status        string `json:"status"` // sent, failed
	FailureReason string `json:"failureReason"`
}

// SendMessage sends a text; a repeated external id is not sent twice.
func (c *Client) SendMessage(ctx context.Context, m clientbookapi.SMS) (Message, error) {
	var out Message
	return out, c.Do(ctx, http.MethodPost, "/v1/messages", m, &out)
}

// EnsureWebhook makes sure Clientbook delivers events to url signed with
// secret: it updates a webhook already pointing there, or creates one.
func (c *Client) EnsureWebhook(ctx context.Context, webhookURL, secret string, events []string) (string, error) {
	var hooks struct {
		Data []struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		} `json:"data"`
	}
	if err := c.Do(ctx, http.MethodGet, "/v1/webhooks", nil, &hooks); err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	body := map[string]any{"url": webhookURL, "events": events, "secret": secret, "disabled": false}
	for _, h := range hooks.Data {
		if h.URL == webhookURL {
			return h.ID, c.Do(ctx, http.MethodPut, "/v1/webhooks/"+esc(h.ID), body, &out)
		}
	}
	if err := c.Do(ctx, http.MethodPost, "/v1/webhooks", body, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// Check makes one cheap authenticated call, so a wrong key or URL is found
// when the connector starts rather than at the first customer. It gives up
// after checkWithin: an installer waits for this answer.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, checkWithin)
	defer cancel()
	if err := c.Do(ctx, http.MethodGet, "/v1/webhooks", nil, nil); err != nil {
		return fmt.Errorf("clientbook at %s refused or unreachable (check --clientbook-url and the API key): %w", c.cfg.BaseURL, err)
	}
	return nil
}

const checkWithin = 10 * time.Second

// WebhookEvents are the event types edgesync subscribes to.
var WebhookEvents = []string{"client.created", "client.updated", "collection.updated", "activity.created", "activity.updated", "message.sent"}
