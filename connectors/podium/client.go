// Package podium is the Podium connector: an API client for Podium's v4 API
// and a durable consumer that keeps Podium equal to what Edge holds.
package podium

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/connectors/podium/podiumapi"
)

// APIVersion is sent in the podium-version header of every call: without it
// Podium answers with its latest version, which may change under us.
const APIVersion = "2021.04.01"

// ClientConfig configures the API client.
type ClientConfig struct {
	BaseURL      string // https://api.podium.com
	TokenURL     string // https://accounts.podium.com/oauth/token (what Podium's own apps use)
	ClientID     string
	ClientSecret string // never logged
	RefreshToken string // never logged
	// RatePerMinute is the account's request limit; Podium documents 300.
	// 0 means 300; a negative value lifts the client limit (emulator runs).
	RatePerMinute int
	// RateWindow is the window RatePerMinute counts in; one minute unless a
	// test shrinks time.
	RateWindow time.Duration
	// Timeout bounds one HTTP attempt; 15s by default.
	Timeout time.Duration
	// RetryFor bounds all attempts of one call; partnerapi.DefaultRetryFor
	// by default.
	RetryFor   time.Duration
	HTTPClient *http.Client
	// CallMetrics, when set, counts the client's calls by answer.
	CallMetrics *partnerapi.CallMetrics
}

// APIError is an error answer from Podium.
type APIError = partnerapi.Error

// Client calls Podium's API for one account. All calls of one Client share
// one rate limiter, so several workers never exceed the account's limit.
type Client struct {
	cfg     ClientConfig
	hc      *http.Client
	limiter *partnerapi.Limiter
	calls   partnerapi.Calls
	log     *slog.Logger

	mu           sync.Mutex
	access       string
	expires      time.Time
	refreshToken string
}

// NewClient returns a client; it checks the configuration, not the network.
func NewClient(cfg ClientConfig, log *slog.Logger) (*Client, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"base URL", cfg.BaseURL}, {"token URL", cfg.TokenURL}, {"client id", cfg.ClientID},
		{"client secret", cfg.ClientSecret}, {"refresh token", cfg.RefreshToken},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("podium client: missing %s", strings.Join(missing, ", "))
	}
	for _, u := range []string{cfg.BaseURL, cfg.TokenURL} {
		if p, err := url.Parse(u); err != nil || p.Scheme == "" || p.Host == "" {
			return nil, fmt.Errorf("podium client: %q is not an absolute URL", u)
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = partnerapi.DefaultRetryFor
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	perMin := cfg.RatePerMinute
	if perMin == 0 {
		perMin = 300
	}
	cfg.RatePerMinute = perMin
	lim := partnerapi.NewLimiter(perMin, cfg.RateWindow)
	c := &Client{cfg: cfg, hc: hc, limiter: lim, log: log, refreshToken: cfg.RefreshToken}
	c.calls.Partner, c.calls.Log, c.calls.Metrics = "podium", log, cfg.CallMetrics
	return c, nil
}

// token returns a valid access token, refreshing it a minute before expiry.
func (c *Client) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.access != "" && time.Now().Before(c.expires) {
		return c.access, nil
	}
	body, _ := json.Marshal(map[string]string{
		"client_id": c.cfg.ClientID, "client_secret": c.cfg.ClientSecret,
		"grant_type": "refresh_token", "refresh_token": c.refreshToken,
	})
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.TokenURL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("refresh podium token: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("refresh podium token: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		apiErr := decodeError(http.MethodPost, "/oauth/token", resp.StatusCode, raw)
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return "", backoff.Permanent(fmt.Errorf("refresh podium token (check client id, secret and refresh token): %w", apiErr))
		}
		return "", fmt.Errorf("refresh podium token: %w", apiErr)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("refresh podium token: answer has no access_token")
	}
	ttl := time.Duration(tok.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 10 * time.Hour // Podium's documented lifetime
	}
	c.access = tok.AccessToken
	c.expires = time.Now().Add(ttl - min(time.Minute, ttl/10))
	if tok.RefreshToken != "" {
		c.refreshToken = tok.RefreshToken
	}
	c.log.Info("podium access token refreshed", "expires_in", ttl)
	return c.access, nil
}

// invalidate drops an access token Podium rejected.
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	if c.access == tok {
		c.access = ""
	}
	c.mu.Unlock()
}

// envelope is Podium's answer shape.
type envelope struct {
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata"`
}

// Do calls method path with body (JSON, may be nil) and decodes the data of
// Podium's envelope into out (may be nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	env, err := c.do(ctx, method, path, body)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("podium %s %s: decode data: %w", method, path, err)
	}
	return nil
}

// do makes the call, retried as partnerapi.Retry says; a 401 drops the
// access token, so the retry refreshes it.
func (c *Client) do(ctx context.Context, method, path string, body any) (envelope, error) {
	return c.call(ctx, method, path, body, true)
}

// call makes the call; one that is not idempotent is not retried once its
// request may have reached Podium (a lost answer): the error then wraps
// partnerapi.ErrOutcomeUnknown, and the caller decides.
func (c *Client) call(ctx context.Context, method, path string, body any, idempotent bool) (envelope, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return envelope{}, fmt.Errorf("podium %s %s: encode body: %w", method, path, err)
		}
	}
	var env envelope
	err := partnerapi.Retry(ctx, c.log, "podium "+method+" "+path, c.cfg.RetryFor, func(ctx context.Context) (time.Duration, error) {
		wait, err := c.attempt(ctx, method, path, payload, &env)
		var apiErr *APIError
		if err != nil && !idempotent && !errors.As(err, &apiErr) && !partnerapi.NotSent(err) {
			return 0, backoff.Permanent(fmt.Errorf("%w: %w", partnerapi.ErrOutcomeUnknown, err))
		}
		return wait, err
	})
	return env, err
}

// Calls reads how many calls the client made in the last minute and when
// the last succeeded or failed.
func (c *Client) Calls() partnerapi.CallStats { return c.calls.Stats() }

// LimitPerMinute is the account's request limit per minute; negative: none.
func (c *Client) LimitPerMinute() int {
	return partnerapi.PerMinute(c.cfg.RatePerMinute, c.cfg.RateWindow)
}

// attempt makes one call and reports how long the server asked to wait.
func (c *Client) attempt(ctx context.Context, method, path string, payload []byte, out *envelope) (time.Duration, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return 0, backoff.Permanent(fmt.Errorf("podium %s %s: %w", method, path, err))
	}
	tok, err := c.token(ctx)
	if err != nil {
		return 0, err
	}
	status, header, raw, err := partnerapi.Send(ctx, c.hc, partnerapi.Request{
		Partner: "podium", Method: method, URL: strings.TrimRight(c.cfg.BaseURL, "/") + path, Path: path,
		Header: http.Header{"Authorization": {"Bearer " + tok}, "Podium-Version": {APIVersion}}, Body: payload, Timeout: c.cfg.Timeout, Calls: &c.calls,
	})
	if err != nil {
		return 0, err
	}
	if status >= 300 {
		apiErr := decodeError(method, path, status, raw)
		if apiErr.Status == http.StatusUnauthorized {
			c.invalidate(tok)
		}
		return partnerapi.RetryAfter(header), apiErr
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return 0, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return 0, backoff.Permanent(fmt.Errorf("podium %s %s: decode answer: %w", method, path, err))
	}
	return 0, nil
}

// decodeError reads Podium's {code, message} error body; a 429 counts as
// rate_limit whatever the body says, and code rate_limit as a 429.
func decodeError(method, path string, status int, raw []byte) *APIError {
	e := &APIError{Partner: "podium", Method: method, Path: path, Status: status}
	var body struct {
		Code    any    `json:"code"` // documented as a string, typed integer in the spec
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Message = fmt.Sprint(body.Code), body.Message
	}
	if e.Code == "" || e.Code == "<nil>" {
		e.Code = http.StatusText(status)
	}
	if e.Code == "rate_limit" {
		e.Status = http.StatusTooManyRequests
	}
	return e
}

// Identifier is the {identifier} answer of contact writes.
type Identifier struct {
	Identifier string `json:"identifier"`
}

// CreateContact upserts a contact and returns its identifier.
func (c *Client) CreateContact(ctx context.Context, body any) (string, error) {
	var out Identifier
	if err := c.Do(ctx, http.MethodPost, "/v4/contacts", body, &out); err != nil {
		return "", err
	}
	return out.Identifier, nil
}

// UpdateContact patches the contact with identifier.
func (c *Client) UpdateContact(ctx context.Context, identifier string, body any) (string, error) {
	var out Identifier
	if err := c.Do(ctx, http.MethodPatch, "/v4/contacts/"+url.PathEscape(identifier), body, &out); err != nil {
		return "", err
	}
	return out.Identifier, nil
}

// Location is the part of Podium's location the connector uses.
type Location struct {
	UID  string `json:"uid"`
	Name string `json:"name"`
}

// Locations lists every location of the account, following the cursor.
func (c *Client) Locations(ctx context.Context) ([]Location, error) {
	var all []Location
	cursor := ""
	for {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page []Location
		meta, err := c.list(ctx, "/v4/locations?"+q.Encode(), &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if meta.NextCursor == "" {
			return all, nil
		}
		cursor = meta.NextCursor
	}
}

type listMeta struct {
	NextCursor string `json:"nextCursor"`
}

func (c *Client) list(ctx context.Context, path string, out any) (listMeta, error) {
	env, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return listMeta{}, err
	}
	var meta listMeta
	if err := json.Unmarshal(env.Data, out); err != nil {
		return listMeta{}, fmt.Errorf("podium GET %s: decode data: %w", path, err)
	}
	if len(env.Metadata) > 0 {
		if err := json.Unmarshal(env.Metadata, &meta); err != nil {
			return listMeta{}, fmt.Errorf("podium GET %s: decode metadata: %w", path, err)
		}
	}
	return meta, nil
}

// SetAttribute sets one attribute value on a contact.
func (c *Client) SetAttribute(ctx context.Context, identifier string, a podiumapi.Attribute) error {
	path := "/v4/contacts/" + url.PathEscape(identifier) + "/attributes/" + url.PathEscape(a.UID)
	return c.Do(ctx, http.MethodPost, path, map[string]string{"value": a.Value}, nil)
}

// EnsureAttribute returns the uid of the contact attribute labelled label,
// creating it (a string, owned by the organization) when absent.
func (c *Client) EnsureAttribute(ctx context.Context, label string) (string, error) {
	var defs []struct {
		UID   string `json:"uid"`
		Label string `json:"label"`
	}
	if err := c.Do(ctx, http.MethodGet, "/v4/contact_attributes", nil, &defs); err != nil {
		return "", err
	}
	for _, d := range defs {
		if d.Label == label {
			return d.UID, nil
		}
	}
	var created struct {
		UID string `json:"uid"`
	}
	body := map[string]any{"label": label, "dataType": "STRING", "ownerResourceType": "ORGANIZATION", "isEncrypted": false}
	if err := c.Do(ctx, http.MethodPost, "/v4/contact_attributes", body, &created); err != nil {
		return "", err
	}
	return created.UID, nil
}

// SendFeedEvents posts events to a data feed, as a list when there are
// several (Podium accepts one event or a list).
func (c *Client) SendFeedEvents(ctx context.Context, feed string, events ...podiumapi.FeedEvent) error {
	var body any = events
	if len(events) == 1 {
		body = events[0]
	}
	return c.Do(ctx, http.MethodPost, "/v4/dataFeeds/"+url.PathEscape(feed)+"/events", body, nil)
}

// ReviewInvite is the part of Podium's review invite the connector reads.
type ReviewInvite struct {
	UID string `json:"uid"`
	URL string `json:"url"`
}

// CreateReviewInvite creates a review invitation link for a contact.
func (c *Client) CreateReviewInvite(ctx context.Context, inv podiumapi.ReviewInvite) (ReviewInvite, error) {
	// Not idempotent: a retry after a lost answer would invite twice.
	env, err := c.call(ctx, http.MethodPost, "/v4/reviews/invites", inv, false)
	var out ReviewInvite
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(env.Data, &out); err != nil {
		return out, fmt.Errorf("podium POST /v4/reviews/invites: decode data: %w", err)
	}
	return out, nil
}

// Message is the part of Podium's message the connector reads.
type Message struct {
	UID            string `json:"uid"`
	DeliveryStatus string `json:"deliveryStatus"`
	FailureReason  string `json:"failureReason"`
}

// SendMessage sends a text to a phone number from a location.
func (c *Client) SendMessage(ctx context.Context, m podiumapi.SMS) (Message, error) {
	body := map[string]any{
		"locationUid": m.LocationUID, "body": m.Body,
		"channel": map[string]string{"type": "phone", "identifier": m.Phone},
	}
	if m.ContactName != "" {
		body["contactName"] = m.ContactName
	}
	var out Message
	return out, c.Do(ctx, http.MethodPost, "/v4/messages", body, &out)
}

// EnsureWebhook makes sure Podium delivers eventTypes for a location to
// url, signed with secret: it updates a webhook already pointing at url and
// creates one otherwise. It returns the webhook's uid.
func (c *Client) EnsureWebhook(ctx context.Context, webhookURL, secret, locationUID string, eventTypes []string) (string, error) {
	var hooks []struct {
		UID         string `json:"uid"`
		URL         string `json:"url"`
		LocationUID string `json:"locationUid"`
	}
	if err := c.Do(ctx, http.MethodGet, "/v4/webhooks", nil, &hooks); err != nil {
		return "", err
	}
	var out struct {
		UID string `json:"uid"`
	}
	for _, h := range hooks {
		if h.URL == webhookURL && h.LocationUID == locationUID {
			body := map[string]any{"eventTypes": eventTypes, "secret": secret, "disabled": false}
			return h.UID, c.Do(ctx, http.MethodPut, "/v4/webhooks/"+url.PathEscape(h.UID), body, &out)
		}
	}
	body := map[string]any{"url": webhookURL, "eventTypes": eventTypes, "secret": secret, "locationUid": locationUID}
	if err := c.Do(ctx, http.MethodPost, "/v4/webhooks", body, &out); err != nil {
		return "", err
	}
	return out.UID, nil
}
