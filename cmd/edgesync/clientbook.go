package main

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/streams"
)

type clientbookCmd struct {
	consumerFlags
	BaseURL      string            `name:"clientbook-url" help:"Clientbook API base URL (docs/clientbook-api.md)." default:"https://api.clientbook.com"`
	APIKey       string            `name:"clientbook-api-key" secret:"" help:"API key of the merchant account (prefer EDGESYNC_CLIENTBOOK_API_KEY)." required:""`
	Stores       map[string]string `name:"clientbook-store" help:"Edge store to Clientbook store id, e.g. 001=<id>; repeat per store. Stores without one sync without a store."`
	Preferences  map[string]string `name:"clientbook-preference" help:"Edge custom field to Clientbook preference, e.g. Key1='Ring Size'; repeat per field."`
	AcqPref      string            `name:"clientbook-acquisition-preference" help:"Preference that holds the acquisition." default:"Acquisition"`
	Associates   map[int]string    `name:"clientbook-associate" help:"Edge associate id to Clientbook user id, e.g. 12=<user>; unmapped associates sync without an associate."`
	SMS          bool              `name:"clientbook-sms" help:"Clientbook is the Edge SMS provider: send notifications whose provider is CLIENTBOOK."`
	Rate         int               `name:"clientbook-rate" min:"-1" help:"Requests per minute for the API key (-1 lifts the limit: emulators only)." default:"120"`
	Timeout      time.Duration     `name:"clientbook-timeout" min:"1s" help:"Timeout of one HTTP call." default:"15s"`
	Workers      int               `name:"clientbook-workers" min:"1" help:"Calls made at once, within --clientbook-rate; one customer's events are still sent one after the other, in order." default:"${clientbook_workers}"`
	WebhookURL   string            `name:"clientbook-webhook-url" help:"Public URL of the webhook gateway's Clientbook route; when set, Clientbook is subscribed to client, collection, activity and message events."`
	WebhookSec   string            `name:"clientbook-webhook-secret" secret:"" help:"Secret Clientbook signs deliveries with (the gateway's --clientbook-webhook-secret)."`
	CheckEvery   time.Duration     `name:"clientbook-webhook-check-every" min:"10s" help:"How often Clientbook's webhook is checked and repaired (present, enabled, right events)." default:"5m"`
	CatchUpEvery time.Duration     `name:"clientbook-catch-up-every" min:"1m" help:"How often the clients Clientbook changed are listed and published even when the webhook looks right (the safety net); a repaired webhook is caught up at once." default:"1h"`
}

func (c *clientbookCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	if err := checkStores("--clientbook-store", slices.Collect(maps.Keys(c.Stores))); err != nil {
		return err
	}
	if c.WebhookURL != "" && c.WebhookSec == "" {
		return errors.New("--clientbook-webhook-url needs --clientbook-webhook-secret")
	}
	opts := projectors.ClientbookOptions{Stores: c.Stores, Preferences: c.Preferences, AcquisitionPreference: c.AcqPref, Associates: c.Associates, SMS: c.SMS}
	if err := opts.Check(); err != nil {
		return err
	}
	calls := partnerapi.NewCallMetrics()
	client, err := clientbook.NewClient(clientbook.ClientConfig{BaseURL: c.BaseURL, APIKey: c.APIKey, RatePerMinute: c.Rate, Timeout: c.Timeout, CallMetrics: calls}, log)
	if err != nil {
		return err
	}
	nc, js, err := connect(ctx, g, log, "edgesync-connector-clientbook")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := client.Check(ctx); err != nil {
		return err
	}
	reg := metricsRegistry(ctx, g, log, health.NATS(nc), health.Consumer(js, streams.StreamEdge, clientbook.Durable))
	watchMetrics := kit.NewWatchMetrics()
	reg.MustRegister(calls, watchMetrics)
	conn, err := clientbook.NewConnector(ctx, js, client, clientbook.Config{Options: opts, AckWait: c.AckWait, Workers: c.Workers,
		Metrics: streams.NewConsumerMetrics(reg)}, log)
	if err != nil {
		return err
	}
	if c.WebhookURL != "" {
		id, err := client.EnsureWebhook(ctx, c.WebhookURL, c.WebhookSec, clientbook.WebhookEvents)
		if err != nil {
			return err
		}
		log.Info("clientbook webhook subscribed", "webhook", id)
		watch, err := clientbook.NewWatch(ctx, client, js, c.WebhookURL, c.WebhookSec, kit.WatchConfig{CheckEvery: c.CheckEvery, CatchUpEvery: c.CatchUpEvery, Metrics: watchMetrics}, log)
		if err != nil {
			return err
		}
		conn.Watching(watch)
		defer watch.Start(ctx)()
	}
	log.Info("clientbook connector running", "subjects", clientbook.Subjects(), "stores", len(c.Stores),
		"preferences", len(c.Preferences), "associates", len(c.Associates), "sms", c.SMS)
	return conn.Run(ctx)
}
