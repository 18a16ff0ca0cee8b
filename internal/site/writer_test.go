package site_test

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/clientbook/clientbookapi"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/writer"
)

// partnerChanges are what the partners' users do for one store: new Podium
// contacts at its location, each then given three more emails, and new
// Clientbook clients at its store, each with two notes. from and to pick
// a part of them, so a test can send them in rounds.
func partnerChanges(t *testing.T, store string, from, to int) []schemas.PartnerEnvelope {
	var out []schemas.PartnerEnvelope
	ev := func(partner, entity, id, typ string, data any) {
		body, err := json.Marshal(data)
		require.NoError(t, err)
		out = append(out, schemas.PartnerEnvelope{ID: fmt.Sprintf("%s:ev-%s-%d", partner, id, len(out)+from*100), Type: typ, Source: "test",
			Time: time.Now(), Partner: partner, Entity: entity, PartnerID: id, Data: body})
	}
	for i := from; i < to; i++ {
		uid := fmt.Sprintf("contact-%s-%d", store, i)
		var emails []string
		for k := range 4 {
			emails = append(emails, fmt.Sprintf("p%s.%d.%d@example.com", store, i, k))
			typ := "contact.updated"
			if k == 0 {
				typ = "contact.created"
			}
			ev("podium", "contact", uid, typ, map[string]any{"after": map[string]any{"uid": uid, "name": "Podium " + uid,
				"emails": slices.Clone(emails), "locations": []map[string]string{{"uid": "loc-" + store}}}})
		}
		client := fmt.Sprintf("cl-%s-%d", store, i)
		ev("clientbook", "client", client, "client.created", clientbookapi.Client{ID: client, StoreID: "st_" + store,
			FirstName: "Client", LastName: client, Emails: []clientbookapi.Contact{{Value: client + "@example.com"}}})
		for n := range 2 {
			ev("clientbook", "activity", fmt.Sprintf("ac-%s-%d-%d", store, i, n), "activity.created", projectors.ClientbookActivityEvent{
				ID: fmt.Sprintf("ac-%s-%d-%d", store, i, n), ClientID: client, Type: "note", Text: fmt.Sprintf("note %d", n), OccurredAt: time.Now()})
		}
	}
	return out
}

// publishPartner stores partner events in the hub's PARTNER stream, as the
// webhook gateways do.
func publishPartner(t *testing.T, js jetstream.JetStream, evs []schemas.PartnerEnvelope) {
	for _, pe := range evs {
		m, err := pe.Msg()
		require.NoError(t, err)
		_, err = js.PublishMsg(context.Background(), m)
		require.NoError(t, err)
	}
}

// chainWriter is a writer's settings at a store of the chain: every
// store's Podium location and Clientbook store.
func chainWriter() *writer.Config {
	opts := func(partner string, stores map[string]string) projectors.MergeOptions {
		return projectors.MergeOptions{Partner: partner, Download: true, Stores: stores}
	}
	return &writer.Config{AckWait: 2 * time.Second,
		Podium:     opts(projectors.PartnerPodium, map[string]string{"loc-001": "001", "loc-002": "002"}),
		Clientbook: opts(projectors.PartnerClientbook, map[string]string{"st_001": "001", "st_002": "002"}),
	}
}

// A chain's partner changes reach each store's Edge through the store's
// leaf node link, to the writer in its site: each writer writes its own
// store's changes and leaves the others' to theirs. While store 001's link
// is down, and its process restarts, its changes wait at the hub and store
// 002 keeps receiving its own; once the link is back, 001 gets every change
// once, in order per customer.
func TestEachStoreWritesItsOwnPartnerChangesThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	js, leafURLs := startHub(t, 1)
	stores := map[string]*store{}
	for i, code := range []string{"001", "002"} {
		st := &store{t: t, code: code, db: edgesim.New(), dir: t.TempDir(), rng: mrand.New(mrand.NewPCG(uint64(i), 9)),
			link: natstest.StartProxy(t, strings.TrimPrefix(leafURLs[0], "nats-leaf://")), writer: chainWriter()}
		st.start()
		t.Cleanup(st.shut)
		stores[code] = st
	}
	publish := func(evs []schemas.PartnerEnvelope) { publishPartner(t, js, evs) }
	// has reports whether a store's Edge holds n rounds of its partner
	// changes: n contacts and n clients, two notes each client.
	has := func(code string, n int) func() bool {
		return func() bool {
			db := stores[code].db
			notes, err := db.Count(ctx, schemas.EntityNote)
			return err == nil && len(db.CustomerKeys()) == 2*n && notes == int64(2*n)
		}
	}

	publish(partnerChanges(t, "001", 0, 3))
	publish(partnerChanges(t, "002", 0, 3))
	require.Eventually(t, func() bool { return has("001", 3)() && has("002", 3)() }, 30*time.Second, 50*time.Millisecond,
		"each store's Edge gets its own partner changes")

	s1 := stores["001"]
	s1.link.Cut()
	publish(partnerChanges(t, "001", 3, 6))
	publish(partnerChanges(t, "002", 3, 6))
	require.Eventually(t, has("002", 6), 30*time.Second, 50*time.Millisecond, "store 002 gets its changes while 001 is cut off")
	time.Sleep(3 * time.Second) // longer than a pull's heartbeats: the writer's pulls fail meanwhile
	s1.restart()                // and the store's server reboots during the outage
	assert.Len(t, s1.db.CustomerKeys(), 6, "nothing reaches store 001 while its link is down")
	s1.link.Restore()
	back := time.Now()
	require.Eventually(t, has("001", 6), time.Minute, 50*time.Millisecond, "store 001 gets what waited at the hub once its link is back")
	t.Logf("store 001 had the %d partner changes made during its outage %s after the link came back",
		len(partnerChanges(t, "001", 3, 6)), time.Since(back).Round(time.Millisecond))

	for code, sw := range stores {
		other := "002"
		if code == "002" {
			other = "001"
		}
		for _, key := range sw.db.CustomerKeys() {
			c := sw.db.Customer(key)
			assert.Equal(t, code, c.Store, "customer %s", key)
			var emails []string
			for _, m := range c.ContactMethods {
				assert.NotContains(t, m.Value, other, "store %s got store %s's change", code, other)
				if m.Method == schemas.MethodEmail {
					emails = append(emails, m.Value)
				}
			}
			if c.LastName != "" && c.FirstName == "Client" {
				assert.Len(t, emails, 1, "client %s once", key)
				continue
			}
			require.Len(t, emails, 4, "contact %s: each email once", key)
			assert.True(t, slices.IsSorted(emails), "contact %s: the emails in the order Podium's user added them: %v", key, emails)
		}
	}
}
