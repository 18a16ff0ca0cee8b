package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/streams"
)

var errNotInSync = errors.New("the demo ended with Podium not in sync with Edge (see the summary)")

type connectorCmd struct {
	Podium     podiumCmd     `cmd:"" help:"Keep Podium equal to Edge: contacts, purchases, timeline, products, review invitations, texts."`
	Clientbook clientbookCmd `cmd:"" help:"Keep Clientbook equal to Edge: clients, the Edge collection, notes, purchases, products, texts."`
	Webhook    webhookCmd    `cmd:"" help:"POST each chosen Edge event as a signed CloudEvent to a URL the store chooses (its own marketing tool, a spreadsheet service)."`
}

// consumerFlags are the flags of a role that runs a durable consumer.
type consumerFlags struct {
	AckWait time.Duration `min:"1s" help:"How long a message may go unacknowledged before JetStream gives it to another process: how long a crashed role's messages wait (a handler at work keeps telling the server it is alive)." default:"30s"`
}

type podiumCmd struct {
	consumerFlags
	Name         string            `help:"Connector name: its durable consumer and the prefix of its state; another Podium account runs under another name (outbound only)." default:"podium"`
	BaseURL      string            `name:"podium-base-url" help:"Podium API base URL." default:"https://api.podium.com"`
	TokenURL     string            `name:"podium-token-url" help:"Podium OAuth token URL." default:"https://accounts.podium.com/oauth/token"`
	ClientID     string            `name:"podium-client-id" help:"OAuth client id of the edgesync app." required:""`
	ClientSecret string            `name:"podium-client-secret" secret:"" help:"OAuth client secret (prefer EDGESYNC_PODIUM_CLIENT_SECRET)." required:""`
	RefreshToken string            `name:"podium-refresh-token" secret:"" help:"OAuth refresh token from the store's consent (prefer EDGESYNC_PODIUM_REFRESH_TOKEN)." required:""`
	Locations    map[string]string `name:"podium-location" help:"Edge store to Podium location uid, e.g. 001=<uid>; repeat per store." required:""`
	Rate         int               `name:"podium-rate" min:"-1" help:"Requests per minute for the account; Podium documents 300 (-1 lifts the limit: emulators only)." default:"300"`
	Tier         string            `name:"podium-tier" help:"The account's tier: clienteling, or clienteling-plus (adds items as products)." enum:"clienteling,clienteling-plus" default:"clienteling"`
	DataFeed     string            `name:"podium-data-feed" help:"Uid of the Podium data feed for purchases, timeline entries and products."`
	AcqLabel     string            `name:"podium-acquisition-label" help:"Label of the contact attribute that holds the acquisition (created when missing); empty to not send it." default:"Acquisition"`
	ExcludeCats  []int             `name:"podium-exclude-category" help:"Edge category ids whose items are never uploaded."`
	ExcludeVend  []string          `name:"podium-exclude-vendor" help:"Edge vendor ids whose items are never uploaded."`
	ExcludeTypes []string          `name:"podium-exclude-stock-type" enum:"STOCK,MEMO,CONSIGNMENT,TRADE,SAMPLE,ASSEMBLED,BUILT" help:"Stock types never uploaded (MEMO, CONSIGNMENT, TRADE, SAMPLE, ASSEMBLED, BUILT)." default:"MEMO,CONSIGNMENT,TRADE"`
	Cooldown     time.Duration     `name:"podium-review-cooldown" min:"0s" help:"Least time between two review invitations to one customer." default:"720h"`
	ReviewWindow time.Duration     `name:"podium-review-window" min:"0s" help:"How recent a sale, appointment or pickup first seen must be to invite a review (so a backfill of history invites nobody)." default:"48h"`
	Timeout      time.Duration     `name:"podium-timeout" min:"1s" help:"Timeout of one HTTP call." default:"15s"`
	WebhookURL   string            `name:"podium-webhook-url" help:"Public URL of the webhook gateway's Podium route; when set, Podium is subscribed to contact events for every mapped location."`
	WebhookSec   string            `name:"podium-webhook-secret" secret:"" help:"Secret Podium signs deliveries with (the gateway's --podium-webhook-secret)."`
	CheckEvery   time.Duration     `name:"podium-webhook-check-every" min:"10s" help:"How often Podium's webhooks are checked and repaired (present, enabled, right URL and events)." default:"5m"`
	CatchUpEvery time.Duration     `name:"podium-catch-up-every" min:"1m" help:"How often the contacts Podium changed are listed and published even when every webhook looks right (the safety net); a repaired webhook is caught up at once." default:"1h"`
}

func (c *podiumCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	if err := checkStores("--podium-location", slices.Collect(maps.Keys(c.Locations))); err != nil {
		return err
	}
	calls := partnerapi.NewCallMetrics()
	client, err := podium.NewClient(podium.ClientConfig{
		BaseURL: c.BaseURL, TokenURL: c.TokenURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		RefreshToken: c.RefreshToken, RatePerMinute: c.Rate, Timeout: c.Timeout, CallMetrics: calls,
	}, log)
	if err != nil {
		return err
	}
	nc, js, err := connect(ctx, g, log, "edgesync-connector-podium")
	if err != nil {
		return err
	}
	defer nc.Close()
	opts := projectors.PodiumOptions{
		Locations: c.Locations, Tier: c.Tier, ExcludeCategories: c.ExcludeCats, ExcludeVendors: c.ExcludeVend,
		ExcludeStockTypes: c.ExcludeTypes, ReviewCooldown: c.Cooldown, ReviewWindow: c.ReviewWindow,
	}
	reg := metricsRegistry(ctx, g, log, health.NATS(nc), health.Consumer(js, streams.StreamEdge, c.Name))
	watchMetrics := kit.NewWatchMetrics()
	reg.MustRegister(calls, watchMetrics)
	conn, err := podium.NewConnector(ctx, js, client, podium.Config{Name: c.Name, AckWait: c.AckWait, Options: opts, DataFeed: c.DataFeed, AcquisitionLabel: c.AcqLabel,
		Metrics: streams.NewConsumerMetrics(reg)}, log)
	if err != nil {
		return err
	}
	if c.WebhookURL != "" {
		if c.WebhookSec == "" {
			return errors.New("--podium-webhook-url needs --podium-webhook-secret")
		}
		events := []string{"contact.created", "contact.updated", "contact.deleted"}
		var hooks []podium.Hook
		for store, loc := range c.Locations {
			uid, err := client.EnsureWebhook(ctx, c.WebhookURL, c.WebhookSec, loc, events)
			if err != nil {
				return fmt.Errorf("subscribe podium webhook for store %s: %w", store, err)
			}
			log.Info("podium webhook subscribed", "store", store, "webhook", uid)
			hooks = append(hooks, podium.Hook{URL: c.WebhookURL, Secret: c.WebhookSec, LocationUID: loc, EventTypes: events})
		}
		// Webhooks stop (disabled after hours of failed deliveries,
		// deleted by hand): checked and repaired, and what they missed
		// caught up, while the connector runs.
		watch, err := podium.NewWatch(ctx, client, js, hooks, kit.WatchConfig{CheckEvery: c.CheckEvery, CatchUpEvery: c.CatchUpEvery, Namespace: c.Name, Metrics: watchMetrics}, log)
		if err != nil {
			return err
		}
		conn.Watching(watch)
		defer watch.Start(ctx)()
	}
	log.Info("podium connector running", "subjects", podium.Subjects(opts), "stores", len(c.Locations), "tier", c.Tier)
	return conn.Run(ctx)
}
