package connconformance_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
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
		return connconformance.Partner{
			Name: podium.Durable, API: emu.Handler(), Origin: projectors.PartnerPodium, Echo: schemas.EntitySale,
			Run: func(ctx context.Context, js jetstream.JetStream, url string) error {
				client, err := podium.NewClient(podium.ClientConfig{BaseURL: url, TokenURL: url + "/oauth/token", ClientID: "cid", ClientSecret: "secret",
					RefreshToken: rt, RatePerMinute: -1}, quiet())
				if err != nil {
					return err
				}
				c, err := podium.NewConnector(ctx, js, client, podium.Config{Options: projectors.PodiumOptions{Locations: map[string]string{"001": loc}},
					AckWait: connconformance.AckWait}, quiet())
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

// receiver is a store's endpoint for the webhook connector: it verifies
// each delivery and keeps each event once, by its CloudEvent id.
type receiver struct {
	secret string
	mu     sync.Mutex
	events map[string]webhook.Event
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(req.Header, body, time.Now(), 5*time.Minute, r.secret); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.SpecVersion != "1.0" || ev.ID == "" {
		http.Error(w, "not a CloudEvent", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.events[ev.ID] = ev
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhook(t *testing.T) {
	connconformance.Run(t, func(t *testing.T) connconformance.Partner {
		recv := &receiver{secret: "a-secret-of-the-store", events: map[string]webhook.Event{}}
		return connconformance.Partner{
			Name: "marketing", API: recv,
			Run: func(ctx context.Context, js jetstream.JetStream, url string) error {
				c, err := webhook.New(ctx, js, webhook.Config{Name: "marketing", URL: url, Secret: recv.secret, PerMinute: -1, AckWait: connconformance.AckWait}, quiet())
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
