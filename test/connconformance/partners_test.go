package connconformance_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/connectors/webhook"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/test/connconformance"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPodium(t *testing.T) {
	connconformance.Run(t, func(t *testing.T) connconformance.Partner {
		emu := podiumemu.New(podiumemu.WithRateLimit(0))
		loc := emu.AddLocation("Store 001")
		rt := emu.Tokens().RegisterClient("cid", "secret", "acct",
			[]string{"read_contacts", "write_contacts", "read_locations", "write_messages", "write_reviews", "read_reviews", "write_data_feed_event"}, "")
		feed := emu.AddDataFeed("edgesync")
		return connconformance.Partner{
			Name: podium.Durable, API: emu.Handler(), Origin: projectors.PartnerPodium, Echo: schemas.EntitySale,
			Batched: &connconformance.Batched{
				Entity: schemas.EntitySale,
				Event: func(key, customer, mark string) any {
					return &schemas.Sale{Key: key, Store: "001", SaleNo: 1, Date: time.Now(), CustomerKey: customer, Subtotal: 1000, Total: 1000,
						Lines: []schemas.SaleLine{{LineNo: 1, Type: "MERCH", Qty: 1, Amount: 1000, Description: mark}}}
				},
				Holds: func(key string) bool {
					return slices.ContainsFunc(emu.FeedEvents("purchase"), func(fe podiumemu.FeedEvent) bool { return strings.Contains(fe.EventID, ":"+key+":") })
				},
			},
			Run: func(ctx context.Context, js jetstream.JetStream, url string) error {
				client, err := podium.NewClient(podium.ClientConfig{BaseURL: url, TokenURL: url + "/oauth/token", ClientID: "cid", ClientSecret: "secret",
					RefreshToken: rt, RatePerMinute: -1}, quiet())
				if err != nil {
					return err
				}
				c, err := podium.NewConnector(ctx, js, client, podium.Config{Options: projectors.PodiumOptions{Locations: map[string]string{"001": loc}},
					DataFeed: feed, AckWait: connconformance.AckWait}, quiet())
				if err != nil {
					return err
				}
				return c.Run(ctx)
			},
			Records: func(key string) int {
				n := 0
				for _, c := range emu.Contacts() {
					if slices.Contains(c.Emails, connconformance.Email(key)) {
						n++
					}
				}
				return n
			},
		}
	})
}

func TestClientbook(t *testing.T) {
	connconformance.Run(t, func(t *testing.T) connconformance.Partner {
		emu := clientbookemu.New()
		emu.AddAPIKey("key")
		return connconformance.Partner{
			Name: clientbook.Durable, API: emu.Handler(), Origin: projectors.PartnerClientbook, Echo: schemas.EntityNote,
			Run: func(ctx context.Context, js jetstream.JetStream, url string) error {
				client, err := clientbook.NewClient(clientbook.ClientConfig{BaseURL: url, APIKey: "key", RatePerMinute: -1}, quiet())
				if err != nil {
					return err
				}
				c, err := clientbook.NewConnector(ctx, js, client, clientbook.Config{AckWait: connconformance.AckWait}, quiet())
				if err != nil {
					return err
				}
				return c.Run(ctx)
			},
			Records: func(key string) int {
				n := 0
				for _, c := range emu.Clients() {
					if slices.ContainsFunc(c.Emails, func(e clientbookemu.Contact) bool { return e.Value == connconformance.Email(key) }) {
						n++
					}
				}
				return n
			},
		}
	})
}

// receiver is a store's endpoint: each event kept once, by its id.
type receiver struct {
	mu     sync.Mutex
	events map[string]webhook.Event
}

func (r *receiver) take(_ *http.Request, ev webhook.Event) error {
	r.mu.Lock()
	r.events[ev.ID] = ev
	r.mu.Unlock()
	return nil
}

func TestWebhook(t *testing.T) {
	connconformance.Run(t, func(t *testing.T) connconformance.Partner {
		const secret = "a-secret-of-the-store"
		recv := &receiver{events: map[string]webhook.Event{}}
		return connconformance.Partner{
			Name: "marketing", API: webhook.Receiver{Secrets: []string{secret}, Take: recv.take},
			Run: func(ctx context.Context, js jetstream.JetStream, url string) error {
				c, err := webhook.New(ctx, js, webhook.Config{Name: "marketing", URL: url, Secret: secret, PerMinute: -1, AckWait: connconformance.AckWait}, quiet())
				if err != nil {
					return err
				}
				return c.Run(ctx)
			},
			Records: func(key string) int {
				recv.mu.Lock()
				defer recv.mu.Unlock()
				n := 0
				for _, ev := range recv.events {
					if ev.Subject == string(schemas.EntityCustomer)+"/"+key {
						n++
					}
				}
				return n
			},
		}
	})
}
