package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/writer"
)

type webhooksCmd struct {
	Addr         string        `help:"Address to listen on." default:":8443"`
	TLSCert      string        `name:"tls-cert" help:"Certificate for HTTPS (a reverse proxy may terminate TLS instead)." type:"existingfile"`
	TLSKey       string        `name:"tls-key" help:"Key for HTTPS." type:"existingfile"`
	PodiumSecret string        `name:"podium-webhook-secret" secret:"" help:"Secret Podium signs deliveries with (prefer EDGESYNC_PODIUM_WEBHOOK_SECRET); enables /webhooks/podium."`
	CBSecret     string        `name:"clientbook-webhook-secret" secret:"" help:"Secret Clientbook signs deliveries with (prefer EDGESYNC_CLIENTBOOK_WEBHOOK_SECRET); enables /webhooks/clientbook."`
	Tolerance    time.Duration `min:"1s" help:"How far a delivery's timestamp may be ahead of this clock (skew)." default:"5m"`
	MaxAge       time.Duration `min:"1m" help:"How old a delivery's timestamp may be: Podium retries for about 8 hours and holds events for about 10 days while a webhook is disabled, and does not say whether a retry is signed afresh; a replay changes nothing (its event id is stored once)." default:"264h"`
	MaxBody      int64         `min:"0" help:"Largest delivery accepted, in bytes; 0 takes the largest the NATS server's max payload leaves for the envelope (16 KiB less), and a larger value is lowered to that." default:"0"`
	Spool        string        `help:"Directory (on the gateway's own volume) where deliveries that NATS does not take within the partner's answer time are kept, answered, and handed on once it can; without it they are answered 503 and the partner retries, late." type:"path"`
}

func (c *webhooksCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	cfg := webhooks.Config{MaxBody: c.MaxBody}
	var routes []string
	if c.PodiumSecret != "" {
		v := webhooks.PodiumVerifier(c.PodiumSecret, c.Tolerance)
		v.MaxAge = c.MaxAge
		cfg.Podium, routes = &v, append(routes, "/webhooks/podium")
	}
	if c.CBSecret != "" {
		v := webhooks.ClientbookVerifier(c.CBSecret, c.Tolerance)
		v.MaxAge = c.MaxAge
		cfg.Clientbook, routes = &v, append(routes, "/webhooks/clientbook")
	}
	if len(routes) == 0 {
		return errors.New("no partner to receive: set --podium-webhook-secret, --clientbook-webhook-secret, or both")
	}
	// Serve, and spool, from the first second: a NATS outage that began
	// before the gateway started is covered like one that began after.
	connectGateway := connect
	if c.Spool != "" {
		connectGateway = connectInBackground
	}
	nc, js, err := connectGateway(ctx, g, log, "edgesync-webhooks")
	if err != nil {
		return err
	}
	defer nc.Close()
	cfg.Metrics = metricsRegistry(ctx, g, log, health.NATS(nc), health.Stream(js, streams.StreamPartner))
	if c.Spool != "" {
		if cfg.Spool, err = webhooks.OpenSpool(c.Spool); err != nil {
			return err
		}
		if n := cfg.Spool.Waiting(); n > 0 {
			log.Info("spooled webhooks from an earlier run wait to be handed on", "waiting", n, "dir", c.Spool)
		}
	}
	gw, err := webhooks.New(js, cfg, log)
	if err != nil {
		return err
	}
	go gw.Run(ctx)
	go gw.RunReports(ctx, 0)
	srv := &http.Server{Addr: c.Addr, Handler: gw.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	// Bind first, so "listening" is only said once it is true and a taken
	// port fails the role at once.
	l, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("webhook gateway: %w", err)
	}
	errc := make(chan error, 1)
	go func() {
		if c.TLSCert != "" {
			errc <- srv.ServeTLS(l, c.TLSCert, c.TLSKey)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	log.Info("webhook gateway listening", "addr", l.Addr().String(), "tls", c.TLSCert != "", "routes", routes)
	select {
	case err := <-errc:
		return fmt.Errorf("webhook gateway: %w", err)
	case <-ctx.Done():
	}
	// Finish deliveries in flight: a 2xx only follows a JetStream ack.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

type writerCmd struct {
	edgeDB
	consumerFlags
	mergeFlags
}

// mergeFlags are the Edge writer's settings, on the writer role and on a
// chain store's.
type mergeFlags struct {
	PodiumDownload bool              `name:"podium-download" help:"Download Podium's new and changed customers into Edge; --no-podium-download is the upload-only option." default:"true" negatable:""`
	PodiumStores   map[string]string `name:"podium-store" help:"Podium location uid and the Edge store that gets its new customers, e.g. <uid>=001 (001=<uid>, as the connector takes it, works too); repeat per location (in a chain: every store's)."`
	AcqLabel       string            `name:"podium-acquisition-label" help:"Label of the Podium contact attribute holding the acquisition." default:"Acquisition"`
	CBStores       map[string]string `name:"clientbook-store" help:"Clientbook store id and the Edge store that gets its new clients, e.g. 001=<id> as the connector takes it (or <id>=001); with one store, clients without a store go there too."`
	CBPreferences  map[string]string `name:"clientbook-preference" help:"Edge custom field and Clientbook preference, e.g. Key1='Ring Size' as the connector takes it (or 'Ring Size'=Key1); repeat per field."`
	CBAcqPref      string            `name:"clientbook-acquisition-preference" help:"Clientbook preference holding the acquisition (new clients only; never overwrites Edge)." default:"Acquisition"`
}

// writerConfig checks the flags and returns the writer's settings, or
// false when no partner is configured to write for.
func (m *mergeFlags) writerConfig() (writer.Config, bool, error) {
	// The same settings serve the connector and the writer, whichever way
	// round they are written: a store is three digits, a field is KeyN.
	m.PodiumStores = keyedBy(m.PodiumStores, isStore)
	m.CBStores = keyedBy(m.CBStores, isStore)
	m.CBPreferences = keyedBy(m.CBPreferences, isCustomField)
	if err := checkStores("--podium-store", slices.Collect(maps.Values(m.PodiumStores))); err != nil {
		return writer.Config{}, false, err
	}
	if err := checkStores("--clientbook-store", slices.Collect(maps.Values(m.CBStores))); err != nil {
		return writer.Config{}, false, err
	}
	return writer.Config{
		Podium: projectors.MergeOptions{Download: m.PodiumDownload && len(m.PodiumStores) > 0, Stores: m.PodiumStores}, PodiumAcquisitionLabel: m.AcqLabel,
		Clientbook: projectors.MergeOptions{Download: len(m.CBStores) > 0, Stores: m.CBStores, Preferences: m.CBPreferences, AcquisitionPreference: m.CBAcqPref},
	}, len(m.PodiumStores) > 0 || len(m.CBStores) > 0, nil
}

func (c *writerCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	cfg, ok, err := c.writerConfig()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("no partner to write for: set --podium-store, --clientbook-store, or both")
	}
	db, closeDB, err := c.source(ctx, log, "writer")
	if err != nil {
		return err
	}
	defer closeDB()
	nc, js, err := connect(ctx, g, log, "edgesync-writer")
	if err != nil {
		return err
	}
	defer nc.Close()
	cfg.AckWait = c.AckWait
	cfg.Metrics = streams.NewConsumerMetrics(metricsRegistry(ctx, g, log, health.NATS(nc), health.Consumer(js, streams.StreamPartner, writer.Durable),
		edgeReady(db)))
	w, err := writer.New(ctx, js, db, cfg, log)
	if err != nil {
		return err
	}
	log.Info("edge writer running", "podium_download", cfg.Podium.Download, "clientbook", cfg.Clientbook.Download)
	return w.Run(ctx)
}

// keyedBy returns m with every pair turned so that the side for which
// edgeSide is true is the value: the writer maps partner ids to Edge names.
func keyedBy(m map[string]string, edgeSide func(string) bool) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if edgeSide(k) && !edgeSide(v) {
			k, v = v, k
		}
		out[k] = v
	}
	return out
}

func isStore(s string) bool { return len(s) == 3 && strings.Trim(s, "0123456789") == "" }

func isCustomField(s string) bool {
	return len(s) == 4 && strings.HasPrefix(s, "Key") && s[3] >= '1' && s[3] <= '8'
}
