package demo

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/streams"
)

func startPodium(cfg Config) (*podiumemu.Emulator, error) {
	locations := map[string]string{}
	for n := 1; n <= max(cfg.Spec.Stores, 1); n++ {
		locations[fmt.Sprintf("%03d", n)] = ""
	}
	emu, err := openPodium(cfg.Dir, cfg.PodiumRate, locations, true)
	if err != nil {
		return nil, err
	}
	emu.Start()
	return emu, nil
}

// openPodium returns the Podium emulator kept in dir (with persist), not yet serving, with
// a location "Store <store>" for each of locations (store -> uid; an empty
// uid picks one) and the demo's OAuth client.
func openPodium(dir string, rate int, locations map[string]string, persist bool) (*podiumemu.Emulator, error) {
	emu := podiumemu.New(podiumemu.WithRateLimit(rate))
	if err := readEmulatorState(dir, podiumFile, "podium emulator", emu.UnmarshalState); err != nil {
		return nil, err
	}
	for _, store := range slices.Sorted(maps.Keys(locations)) {
		if uid := locations[store]; uid != "" {
			emu.AddLocationUID("Store "+store, uid)
		} else {
			emu.AddLocation("Store " + store)
		}
	}
	if persist {
		emu.Persist(filepath.Join(dir, podiumFile))
	}
	emu.Tokens().RegisterClient(PodiumClientID, PodiumClientSecret, "demo-account",
		[]string{"read_contacts", "write_contacts", "read_locations", "write_messages", "write_reviews", "write_data_feed_event"}, PodiumRefreshToken)
	return emu, nil
}

// podiumRoles builds the Podium connector for the emulator's locations
// ("Store 001" is store 001's), subscribes the gateway to each location's
// contact webhooks and returns the writer's Podium settings and the
// locations by store.
func podiumRoles(ctx context.Context, cfg Config, js jetstream.JetStream, emu *podiumemu.Emulator, hookURL, secret string,
	metrics *streams.ConsumerMetrics, calls *partnerapi.CallMetrics, log *slog.Logger) (*podium.Connector, projectors.MergeOptions, map[string]string, error) {
	merge := projectors.MergeOptions{Download: true, Stores: map[string]string{}}
	client, err := podium.NewClient(podium.ClientConfig{
		BaseURL: emu.URL(), TokenURL: emu.URL() + "/oauth/token", ClientID: PodiumClientID, ClientSecret: PodiumClientSecret,
		RefreshToken: PodiumRefreshToken, RatePerMinute: cfg.PodiumRate, CallMetrics: calls,
	}, log)
	if err != nil {
		return nil, merge, nil, err
	}
	locs, err := client.Locations(ctx)
	if err != nil {
		return nil, merge, nil, fmt.Errorf("demo: list podium locations: %w", err)
	}
	opts := projectors.PodiumOptions{
		Locations: map[string]string{}, Tier: projectors.TierClientelingPlus,
		ExcludeStockTypes: []string{"MEMO", "CONSIGNMENT"}, ReviewCooldown: 30 * 24 * time.Hour, ReviewWindow: 48 * time.Hour,
	}
	for _, l := range locs {
		if store, ok := strings.CutPrefix(l.Name, "Store "); ok {
			opts.Locations[store] = l.UID
		}
	}
	conn, err := podium.NewConnector(ctx, js, client, podium.Config{
		Options: opts, DataFeed: emu.AddDataFeed("edgesync"), AcquisitionLabel: "Acquisition", Metrics: metrics,
	}, log)
	if err != nil {
		return nil, merge, nil, err
	}
	for store, loc := range opts.Locations {
		merge.Stores[loc] = store
		if _, err := client.EnsureWebhook(ctx, hookURL, secret, loc, []string{"contact.created", "contact.updated", "contact.deleted"}); err != nil {
			return nil, merge, nil, fmt.Errorf("demo: subscribe podium webhook: %w", err)
		}
	}
	return conn, merge, opts.Locations, nil
}

// podiumUser makes one change in Podium's app: a new contact, or an email
// changed on an existing one. It reports whether it did.
func podiumUser(emu *podiumemu.Emulator, n int, locations map[string]string) bool {
	contacts := emu.Contacts()
	if n%20 == 0 || len(contacts) == 0 {
		loc := locations["001"]
		if loc == "" {
			return false
		}
		emu.CreateContactInApp(fmt.Sprintf("Walk-in %d", n), "", fmt.Sprintf("walkin.%d.%d@podium.example.com", n, time.Now().UnixNano()), loc)
		return true
	}
	c := contacts[n%len(contacts)]
	if len(c.Emails) == 0 {
		return false
	}
	return emu.EditContact(c.Conversations[0].UID, func(c *podiumemu.Contact) {
		c.Emails = []string{fmt.Sprintf("podium.%d.%s", n, c.Emails[0])}
	})
}
