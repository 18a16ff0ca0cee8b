package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/edgesync/edgesync/connectors/webhook"
	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

type webhookCmd struct {
	consumerFlags
	Name     string        `name:"webhook-name" help:"Connector name: its durable consumer and the prefix of its state; each URL runs under a name of its own." default:"webhook"`
	URL      string        `name:"webhook-url" aliases:"url" help:"URL that receives each event as a signed CloudEvent (docs/webhook-connector.md)." required:""`
	Secret   string        `name:"webhook-secret" aliases:"secret" secret:"" help:"Secret each request is signed with, at least 16 characters (prefer EDGESYNC_WEBHOOK_SECRET)." required:""`
	Entities []string      `name:"webhook-entity" help:"Edge events sent (customer, wishlist, note, sale, appointment, service, item, notification); repeat; every one when none."`
	Rate     int           `name:"webhook-rate" min:"-1" help:"Requests per minute at most (-1: no bound)." default:"600"`
	Timeout  time.Duration `name:"webhook-timeout" min:"1s" help:"Timeout of one request." default:"10s"`
	Workers  int           `name:"webhook-workers" min:"1" help:"Requests at once, within --webhook-rate; one customer's events still go one after the other, in order." default:"4"`
}

func (c *webhookCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	entities := make([]schemas.Entity, len(c.Entities))
	for i, e := range c.Entities {
		entities[i] = schemas.Entity(e)
	}
	cfg := webhook.Config{Name: c.Name, URL: c.URL, Secret: c.Secret, Entities: entities, PerMinute: c.Rate, Timeout: c.Timeout, Workers: c.Workers, AckWait: c.AckWait}
	if err := cfg.Check(); err != nil {
		return err
	}
	nc, js, err := connect(ctx, g, log, "edgesync-connector-"+c.Name)
	if err != nil {
		return err
	}
	defer nc.Close()
	reg := metricsRegistry(ctx, g, log, health.NATS(nc), health.Consumer(js, streams.StreamEdge, c.Name))
	cfg.Metrics = streams.NewConsumerMetrics(reg)
	conn, err := webhook.New(ctx, js, cfg, log)
	if err != nil {
		return err
	}
	log.Info("webhook connector running", "connector", c.Name, "subjects", conn.Subjects(), "url", conn.Target())
	return conn.Run(ctx)
}
