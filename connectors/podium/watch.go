package podium

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

// Partner changes reach Edge through Podium's webhooks, and a webhook can
// stop: Podium disables it after about 15 failed tries over 8 hours (a
// gateway down over a weekend, a rotated secret answered 401), someone
// deletes it, a DNS mistake points it elsewhere. The Watch checks the
// webhooks every few minutes and repairs them, and lists what Podium
// changed since the last listing (GET /v4/contacts?updated_at, cursor
// pagination, at the client's rate limit) to publish it into PARTNER as
// the gateway would: the writer's merge rules apply to it like to a
// delivery, and applying a change it already has writes nothing.

// Hook is one webhook edgesync needs: its URL, secret, location and events.
type Hook struct {
	URL, Secret, LocationUID string
	EventTypes               []string
}

// WatchConfig configures a Watch.
type WatchConfig struct {
	Hooks []Hook
	// CheckEvery is how often the webhooks are checked (5 min when zero);
	// CatchUpEvery how often changes are listed even when every webhook
	// looks right (1 h when zero): the safety net.
	CheckEvery, CatchUpEvery time.Duration
	// Namespace keys the catch-up's watermark in the projection bucket
	// (the connector's name).
	Namespace string
}

// overlap is how far before the last listing the next one starts: a
// change made while a listing ran, or stamped by a clock a little behind.
const overlap = 2 * time.Minute

// Watch keeps Podium's webhooks and catches up what they missed.
type Watch struct {
	client *Client
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	cfg    WatchConfig
	log    *slog.Logger

	mu      sync.Mutex
	report  streams.WebhookReport
	trigger chan struct{}
}

// NewWatch returns a Watch; the streams and buckets must exist.
func NewWatch(ctx context.Context, client *Client, js jetstream.JetStream, cfg WatchConfig, log *slog.Logger) (*Watch, error) {
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 5 * time.Minute
	}
	if cfg.CatchUpEvery <= 0 {
		cfg.CatchUpEvery = time.Hour
	}
	if cfg.Namespace == "" {
		cfg.Namespace = Durable
	}
	kv, err := js.KeyValue(ctx, streams.BucketProjection)
	if err != nil {
		return nil, fmt.Errorf("podium watch: open bucket %s: %w", streams.BucketProjection, err)
	}
	return &Watch{client: client, js: js, kv: kv, cfg: cfg, log: log, trigger: make(chan struct{}, 1)}, nil
}

// Report reads what the Watch did, for the status page.
func (w *Watch) Report() streams.WebhookReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.report
}

// CatchUpNow asks for a catch-up at once (a gap seen elsewhere).
func (w *Watch) CatchUpNow() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Run checks and catches up until ctx ends. A failed check or catch-up is
// logged and tried again at the next tick: the watermark only moves once a
// listing was published whole.
func (w *Watch) Run(ctx context.Context) {
	if _, err := w.watermark(ctx); err != nil {
		w.log.Warn("podium watch: no catch-up watermark yet", "err", err)
	}
	check := time.NewTicker(w.cfg.CheckEvery)
	defer check.Stop()
	catchUp := time.NewTicker(w.cfg.CatchUpEvery)
	defer catchUp.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			repaired, err := w.Check(ctx)
			if err != nil {
				w.log.Warn("podium webhooks could not be checked; trying again", "err", err, "retry_in", w.cfg.CheckEvery)
				continue
			}
			if !repaired {
				continue
			}
		case <-catchUp.C:
		case <-w.trigger:
		}
		if err := w.CatchUp(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("podium catch-up failed; trying again at the next check", "err", err)
		}
	}
}

// Check compares Podium's webhooks with those edgesync needs and repairs
// what differs: a missing webhook is created, a disabled one enabled, a
// wrong URL or event list set right, the secret set again with each
// repair (Podium does not show it back). It reports whether it repaired
// anything: deliveries may have been lost meanwhile.
func (w *Watch) Check(ctx context.Context) (bool, error) {
	var hooks []struct {
		UID         string   `json:"uid"`
		URL         string   `json:"url"`
		LocationUID string   `json:"locationUid"`
		EventTypes  []string `json:"eventTypes"`
		Disabled    bool     `json:"disabled"`
	}
	if err := w.client.Do(ctx, "GET", "/v4/webhooks", nil, &hooks); err != nil {
		return false, fmt.Errorf("list webhooks: %w", err)
	}
	repaired := false
	for _, want := range w.cfg.Hooks {
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
		if _, err := w.client.EnsureWebhook(ctx, want.URL, want.Secret, want.LocationUID, want.EventTypes); err != nil {
			return repaired, fmt.Errorf("repair the webhook of location %s: %w", want.LocationUID, err)
		}
		repaired = true
		w.log.Warn("podium webhook repaired: changes made in Podium meanwhile are caught up now", "location", want.LocationUID, "url", want.URL, "was", wrong)
		w.mu.Lock()
		w.report.Repairs++
		w.report.LastRepair, w.report.RepairedAt = wrong, time.Now().UTC()
		w.mu.Unlock()
	}
	return repaired, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func (w *Watch) watermarkKey() string { return w.cfg.Namespace + ".catchup" }

// watermark is when the last whole listing started; on the first run it
// is now: a catch-up fetches what webhooks missed, not Podium's history
// (the writer downloads that as contacts change).
func (w *Watch) watermark(ctx context.Context) (time.Time, error) {
	t, ok, err := streams.GetJSON[time.Time](ctx, w.kv, w.watermarkKey())
	if err != nil || ok {
		return t, err
	}
	now := time.Now().UTC()
	return now, streams.PutJSON(ctx, w.kv, w.watermarkKey(), now)
}

// CatchUp lists the contacts Podium changed since the watermark (less an
// overlap) and publishes each into PARTNER as a contact.updated event of
// its own id: a listing repeated within the dedupe window stores nothing
// twice, and the writer's ledger applies each change once.
func (w *Watch) CatchUp(ctx context.Context) error {
	since, err := w.watermark(ctx)
	if err != nil {
		return err
	}
	started := time.Now().UTC()
	n := 0
	cursor := ""
	for {
		q := url.Values{"limit": {"100"}, "updated_at": {since.Add(-overlap).UTC().Format(time.RFC3339)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page []json.RawMessage
		meta, err := w.client.list(ctx, "/v4/contacts?"+q.Encode(), &page)
		if err != nil {
			return fmt.Errorf("list contacts changed since %s: %w", since.Format(time.RFC3339), err)
		}
		for _, raw := range page {
			published, err := w.publish(ctx, raw)
			if err != nil {
				return err
			}
			if published {
				n++
			}
		}
		if meta.NextCursor == "" {
			break
		}
		cursor = meta.NextCursor
	}
	if err := streams.PutJSON(ctx, w.kv, w.watermarkKey(), started); err != nil {
		return err
	}
	w.mu.Lock()
	w.report.LastCatchUp, w.report.CaughtUp = started, n
	w.mu.Unlock()
	if n > 0 {
		w.log.Info("podium changes caught up", "contacts", n, "since", since.Add(-overlap).Format(time.RFC3339))
	}
	return nil
}

// publish puts one listed contact into PARTNER as the gateway puts a
// contact.updated delivery. It reports false for a contact that cannot be
// an event (logged with why, never holding the others back).
func (w *Watch) publish(ctx context.Context, raw json.RawMessage) (bool, error) {
	var c struct {
		UID       string    `json:"uid"`
		UpdatedAt time.Time `json:"updatedAt"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.UID == "" {
		w.log.Warn("podium catch-up: a listed contact without a uid or time is skipped", "err", err)
		return false, nil
	}
	if err := schemas.CheckToken("podium contact uid", c.UID); err != nil {
		w.log.Warn("podium catch-up: contact skipped", "contact", c.UID, "err", err)
		return false, nil
	}
	data, _ := json.Marshal(map[string]json.RawMessage{"after": raw})
	pe := schemas.PartnerEnvelope{
		ID:   projectors.PartnerPodium + ":catchup:" + c.UID + ":" + c.UpdatedAt.UTC().Format(time.RFC3339Nano),
		Type: "contact.updated", Source: "edgesync/catchup/" + projectors.PartnerPodium, Time: time.Now().UTC(),
		Partner: projectors.PartnerPodium, Entity: "contact", PartnerID: c.UID, Data: data,
	}
	m, err := pe.Msg()
	if err != nil {
		w.log.Warn("podium catch-up: contact skipped", "contact", c.UID, "err", err)
		return false, nil
	}
	if _, err := streams.PublishMsg(ctx, w.js, m); err != nil {
		if errors.Is(err, context.Canceled) {
			return false, err
		}
		return false, fmt.Errorf("publish caught-up contact %s: %w", c.UID, err)
	}
	return true, nil
}
