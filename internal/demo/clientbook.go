package demo

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/streams"
)

func startClientbook(cfg Config) (*clientbookemu.Emulator, error) {
	emu, err := openClientbook(cfg.Dir, cfg.CBRate, cbAPIKey, true)
	if err != nil {
		return nil, err
	}
	emu.Start()
	return emu, nil
}

// openClientbook returns the Clientbook emulator kept in dir (with persist), not yet
// serving, accepting apiKey.
func openClientbook(dir string, rate int, apiKey string, persist bool) (*clientbookemu.Emulator, error) {
	emu := clientbookemu.New()
	emu.SetLimit(rate)
	if err := readEmulatorState(dir, cbFile, "clientbook emulator", emu.UnmarshalState); err != nil {
		return nil, err
	}
	if persist {
		emu.Persist(filepath.Join(dir, cbFile))
	}
	emu.AddAPIKey(apiKey)
	return emu, nil
}

// clientbookRoles builds the Clientbook connector, subscribes the gateway
// to Clientbook's webhooks and returns the writer's Clientbook settings.
// Every store has a Clientbook store; associates 1 to 3 have users, the
// others show the unmapped-associate warning.
func clientbookRoles(ctx context.Context, cfg Config, js jetstream.JetStream, emu *clientbookemu.Emulator, hookURL, secret string,
	metrics *streams.ConsumerMetrics, calls *partnerapi.CallMetrics, log *slog.Logger) (*clientbook.Connector, projectors.MergeOptions, error) {
	opts := projectors.ClientbookOptions{
		Stores: map[string]string{}, Preferences: map[string]string{"Key1": "Ring Size", "Key2": "Metal"},
		Associates: map[int]string{1: "us_1", 2: "us_2", 3: "us_3"}, SMS: true,
	}
	merge := projectors.MergeOptions{Download: true, Stores: map[string]string{}, Preferences: map[string]string{"Ring Size": "Key1", "Metal": "Key2"}}
	for s := 1; s <= max(cfg.Spec.Stores, 1); s++ {
		store := fmt.Sprintf("%03d", s)
		opts.Stores[store] = cbStore + store
		merge.Stores[cbStore+store] = store
	}
	client, err := clientbook.NewClient(clientbook.ClientConfig{BaseURL: emu.URL(), APIKey: cbAPIKey, RatePerMinute: cfg.CBRate, CallMetrics: calls}, log)
	if err != nil {
		return nil, merge, err
	}
	conn, err := clientbook.NewConnector(ctx, js, client, clientbook.Config{Options: opts, Metrics: metrics, Workers: clientbook.DefaultWorkers}, log)
	if err != nil {
		return nil, merge, err
	}
	if _, err := client.EnsureWebhook(ctx, hookURL, secret, clientbook.WebhookEvents); err != nil {
		return nil, merge, fmt.Errorf("demo: subscribe clientbook webhook: %w", err)
	}
	return conn, merge, nil
}

// clientbookUser makes one change in Clientbook's app: a new client, a
// changed preference, a note, an item added to the Edge collection, or a
// text. It reports whether it did.
func clientbookUser(emu *clientbookemu.Emulator, n int) bool {
	clients := emu.Clients()
	if n%50 == 5 || len(clients) == 0 {
		emu.CreateClientInApp(clientbookemu.Client{FirstName: "Guest", LastName: fmt.Sprint(n), StoreID: cbStore + "001",
			Emails:      []clientbookemu.Contact{{Value: fmt.Sprintf("guest.%d.%d@clientbook.example.com", n, time.Now().UnixNano())}},
			Preferences: map[string]string{"Acquisition": "Clientbook"}})
		return true
	}
	c := clients[(n*7)%len(clients)]
	switch (n / 10) % 4 {
	case 0:
		return emu.EditClientInApp(c.ID, func(c *clientbookemu.Client) {
			if c.Preferences == nil {
				c.Preferences = map[string]string{}
			}
			c.Preferences["Ring Size"] = fmt.Sprintf("%d.5", 4+n%5)
		})
	case 1:
		_, ok := emu.AddActivityInApp(c.ID, fmt.Sprintf("Called about the holiday event (%d)", n))
		return ok
	case 2:
		return emu.EditCollectionInApp(c.ID, projectors.CollectionName, func(items []clientbookemu.CollectionItem) []clientbookemu.CollectionItem {
			return append(items, clientbookemu.CollectionItem{Name: fmt.Sprintf("Pearl studs %d", n)})
		})
	default:
		return emu.SendMessageInApp(c.ID, "sms", "", "Thanks for stopping by!")
	}
}
