package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/writer"
)

// reconcileCmd compares a partner with Edge, and repairs on demand. It
// needs the partner's API as the connector does (its flags, same names).
type reconcileCmd struct {
	Partner string `required:"" enum:"podium,clientbook" help:"The partner to compare with Edge: podium or clientbook."`
	Store   string `help:"Only this store's Edge customers (records found only at the partner are then not reported)."`
	Repair  bool   `help:"Put both sides back by the rules (the connector and the writer must be running); without it nothing changes."`
	JSON    bool   `name:"json" help:"Print the report as JSON."`
	Name    string `help:"The Podium connector's name (its state and links)." default:"podium"`

	PodiumBaseURL      string        `name:"podium-base-url" default:"https://api.podium.com" help:"Podium API base URL."`
	PodiumTokenURL     string        `name:"podium-token-url" default:"https://accounts.podium.com/oauth/token" help:"Podium OAuth token URL."`
	PodiumClientID     string        `name:"podium-client-id" help:"OAuth client id (with --partner podium)."`
	PodiumClientSecret string        `name:"podium-client-secret" secret:"" help:"OAuth client secret (prefer EDGESYNC_PODIUM_CLIENT_SECRET)."`
	PodiumRefreshToken string        `name:"podium-refresh-token" secret:"" help:"OAuth refresh token (prefer EDGESYNC_PODIUM_REFRESH_TOKEN)."`
	PodiumRate         int           `name:"podium-rate" min:"-1" default:"300" help:"Requests per minute: the reconcile shares the account's limit with the connector, so give it a part of it."`
	ClientbookURL      string        `name:"clientbook-url" default:"https://api.clientbook.com" help:"Clientbook API base URL."`
	ClientbookAPIKey   string        `name:"clientbook-api-key" secret:"" help:"API key (with --partner clientbook; prefer EDGESYNC_CLIENTBOOK_API_KEY)."`
	ClientbookRate     int           `name:"clientbook-rate" min:"-1" default:"60" help:"Requests per minute, out of the key's 120 the connector shares."`
	Timeout            time.Duration `min:"1s" default:"15s" help:"Timeout of one HTTP call."`
}

// Validate makes a partner's missing credentials a usage error (exit 2).
func (c *reconcileCmd) Validate() error {
	switch {
	case c.Partner == "podium" && (c.PodiumClientID == "" || c.PodiumClientSecret == "" || c.PodiumRefreshToken == ""):
		return errors.New("--partner podium needs --podium-client-id, --podium-client-secret and --podium-refresh-token")
	case c.Partner == "clientbook" && c.ClientbookAPIKey == "":
		return errors.New("--partner clientbook needs --clientbook-api-key")
	}
	return nil
}

func (c *reconcileCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	var (
		recs               kit.Records
		durable, namespace string
	)
	switch c.Partner {
	case "podium":
		client, err := podium.NewClient(podium.ClientConfig{BaseURL: c.PodiumBaseURL, TokenURL: c.PodiumTokenURL, ClientID: c.PodiumClientID,
			ClientSecret: c.PodiumClientSecret, RefreshToken: c.PodiumRefreshToken, RatePerMinute: c.PodiumRate, Timeout: c.Timeout}, log)
		if err != nil {
			return err
		}
		recs, durable, namespace = podium.Records{Client: client}, c.Name, c.Name
	default:
		client, err := clientbook.NewClient(clientbook.ClientConfig{BaseURL: c.ClientbookURL, APIKey: c.ClientbookAPIKey, RatePerMinute: c.ClientbookRate, Timeout: c.Timeout}, log)
		if err != nil {
			return err
		}
		recs, durable, namespace = clientbook.Records{Client: client}, clientbook.Durable, clientbook.Durable
	}
	nc, js, err := connect(ctx, g, log, "edgesync-reconcile")
	if err != nil {
		return err
	}
	defer nc.Close()
	start := time.Now()
	rep, err := kit.Reconcile(ctx, js, recs, c.Partner, namespace, c.Store, log)
	if err != nil {
		return err
	}
	log.Info("compared", "partner", c.Partner, "customers", rep.Customers, "records", rep.Records, "drift", len(rep.Drift), "took", time.Since(start).Round(time.Millisecond))
	if c.Repair && len(rep.Drift) > 0 {
		if err := kit.Repair(ctx, js, &rep, kit.RepairConfig{Durable: durable, Namespace: namespace, WriterDurable: writer.Durable}); err != nil {
			return err
		}
	}
	if c.JSON {
		b, err := rep.MarshalIndent()
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	fmt.Printf("%s: %d linked customers and %d records compared; %d difference(s)%s\n", c.Partner, rep.Customers, rep.Records, len(rep.Drift),
		map[bool]string{true: ", repaired (the connector and the writer are taking it)", false: ""}[rep.Repaired])
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	if len(rep.Drift) > 0 {
		fmt.Fprintln(tw, "KIND\tEDGE\tPARTNER ID\tDETAIL")
	}
	for _, d := range rep.Drift {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Kind, d.EdgeKey, d.ID, d.Detail)
	}
	return tw.Flush()
}
