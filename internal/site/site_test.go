package site_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/internal/site"
	"github.com/edgesync/edgesync/internal/status"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/writer"
)

// store is one store of the chain: its Edge database, its site, and the
// link (a proxy) between its leaf node and the hub.
type store struct {
	t    *testing.T
	code string
	db   *edgesim.DB
	dir  string
	link *natstest.Proxy // the link to the hub, through a proxy the test can cut
	hub  broker.Leaf     // or a direct link, when link is nil
	// writer, when set, runs the store's Edge writer in its site too.
	writer *writer.Config
	s      *site.Site
	stop   context.CancelFunc
	done   chan error
	rng    *rand.Rand
	keys   []string
}

func (st *store) start() {
	ctx, cancel := context.WithCancel(context.Background())
	hub := st.hub
	if st.link != nil {
		hub = broker.Leaf{URLs: []string{"nats-leaf://" + st.link.Addr()}}
	}
	s, err := site.Start(ctx, site.Config{
		Store: st.code, Dir: st.dir, Hub: hub,
		Capture: capture.Config{Site: "store" + st.code, PollInterval: 50 * time.Millisecond},
		Writer:  st.writer,
	}, st.db, slog.New(slog.DiscardHandler))
	require.NoError(st.t, err)
	st.s, st.stop, st.done = s, cancel, make(chan error, 1)
	go func() { st.done <- s.Run(ctx) }()
}

// shut stops the store's process; again, it does nothing.
func (st *store) shut() {
	if st.s == nil {
		return
	}
	st.stop()
	<-st.done
	st.s.Close()
	st.s = nil
}

// restart stops the store's process and starts it again on its data, as a
// reboot of the back-office server does.
func (st *store) restart() {
	st.shut()
	st.start()
}

// change makes n changes in the store's Edge: new customers and renames.
func (st *store) change(n int) {
	for range n {
		_, err := st.db.Update("", func(tx *edgesim.Tx) error {
			if len(st.keys) < 10 || st.rng.IntN(3) == 0 {
				k, err := tx.NewCustomer(st.code, edgesim.NewCustomerData(st.rng, len(st.keys)+int(st.code[2]-'0')*100000, time.Now()))
				st.keys = append(st.keys, k)
				return err
			}
			c := tx.Customer(st.keys[st.rng.IntN(len(st.keys))])
			c.FirstName += "x"
			return tx.PutCustomer(c)
		})
		require.NoError(st.t, err)
	}
}

// atHub counts the hub's EDGE messages of the store's subjects.
func atHub(t *testing.T, js jetstream.JetStream, code string) uint64 {
	s, err := js.Stream(context.Background(), streams.StreamEdge)
	require.NoError(t, err)
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter("edge.*."+code+".>"))
	require.NoError(t, err)
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// startHub starts a hub of n servers, provisioned for stores 001 and 002
// with n replicas, and returns its JetStream and its leaf node URLs.
func startHub(t *testing.T, n int) (jetstream.JetStream, []string) {
	hub, leafURLs := natstest.StartHub(t, n)
	nc, err := nats.Connect(hub.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cfg := streams.DefaultConfig()
	cfg.Replicas, cfg.Stores = n, []string{"001", "002"}
	require.NoError(t, streams.Provision(context.Background(), js, cfg))
	return js, leafURLs
}

// A chain's store keeps capturing through an internet outage, and a
// restart of its process during it; once the link is back the hub takes
// every change once, in order per aggregate, and the other store is
// unaffected throughout.
func TestAStoreKeepsCapturingThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	js, leafURLs := startHub(t, 3)
	stores := map[string]*store{}
	for i, code := range []string{"001", "002"} {
		st := &store{t: t, code: code, db: edgesim.New(), dir: t.TempDir(), rng: rand.New(rand.NewPCG(uint64(i), 7)),
			link: natstest.StartProxy(t, strings.TrimPrefix(leafURLs[i], "nats-leaf://"))}
		st.change(20)
		st.start()
		t.Cleanup(st.shut)
		stores[code] = st
	}
	synced := func(code string) bool {
		n, err := stores[code].s.Stored(ctx)
		return err == nil && n > 0 && atHub(t, js, code) == n
	}
	require.Eventually(t, func() bool { return synced("001") && synced("002") }, 2*time.Minute, 100*time.Millisecond,
		"both stores' snapshots reach the hub")

	s1, s2 := stores["001"], stores["002"]
	s1.link.Cut()
	require.Eventually(t, func() bool { return !s1.s.Connected() }, 10*time.Second, 50*time.Millisecond)
	before := atHub(t, js, "001")
	for range 5 {
		s1.change(10)
		s2.change(10)
		time.Sleep(200 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return synced("002") }, 30*time.Second, 100*time.Millisecond,
		"store 002's changes reach the hub while 001 is cut off")
	s1.restart()
	s1.change(30)
	require.Eventually(t, func() bool {
		n, _ := s1.s.Stored(ctx)
		return n >= before+50
	}, 30*time.Second, 50*time.Millisecond, "store 001 keeps capturing into its own stream, across its restart")
	assert.Equal(t, before, atHub(t, js, "001"), "nothing of 001 reached the hub while cut off")
	var sts []streams.StoreStatus
	require.Eventually(t, func() bool {
		sts = storeStatus(t, js)
		return len(sts) == 2 && !sts[0].Connected && sts[1].Connected
	}, 60*time.Second, 200*time.Millisecond, "the hub shows 001 cut off and 002 connected: %+v", sts)
	t.Logf("during the outage the hub shows: %+v", sts)
	page := httptest.NewRecorder()
	status.Handler(status.NewReader(js), time.Second, slog.New(slog.DiscardHandler)).ServeHTTP(page, httptest.NewRequest("GET", "/", nil))
	assert.Contains(t, page.Body.String(), "<td>001</td><td class=\"stuck\">cut off</td>", "the status page shows the store cut off")

	stored, err := s1.s.Stored(ctx)
	require.NoError(t, err)
	buffered := stored - before
	s1.link.Restore()
	back := time.Now()
	require.Eventually(t, func() bool { return synced("001") }, 2*time.Minute, 50*time.Millisecond, "store 001's changes reach the hub once the link is back")
	require.Eventually(t, func() bool {
		sts = storeStatus(t, js)
		return len(sts) == 2 && sts[0].Connected && sts[0].Behind == 0
	}, 60*time.Second, 200*time.Millisecond, "the hub shows 001 connected again, nothing behind: %+v", sts)
	t.Logf("store 001 buffered %d changes through the outage and a restart; the hub had them all %s after the link came back",
		buffered, time.Since(back).Round(time.Millisecond))

	// Once each, in order per aggregate, and exactly what the store holds.
	for _, code := range []string{"001", "002"} {
		local := map[string]bool{}
		for _, m := range natstest.Messages(t, stores[code].s.JetStream(), streams.StreamEdge) {
			local[m.Header.Get(nats.MsgIdHdr)] = true
		}
		seen, last := map[string]bool{}, map[string]int64{}
		for _, m := range natstest.Messages(t, js, streams.StreamEdge) {
			if !strings.HasPrefix(m.Subject, "edge.customer."+code+".") {
				continue
			}
			id := m.Header.Get(nats.MsgIdHdr)
			require.False(t, seen[id], "%s stored twice at the hub", id)
			seen[id] = true
			v := version(t, id)
			require.Greater(t, v, last[m.Subject], "%s out of order at the hub", id)
			last[m.Subject] = v
		}
		assert.Equal(t, local, seen, "the hub holds exactly the events store %s captured", code)
	}
}

func storeStatus(t *testing.T, js jetstream.JetStream) []streams.StoreStatus {
	s, err := js.Stream(context.Background(), streams.StreamEdge)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return streams.StoreStatuses(info)
}

// version reads the change version out of a Nats-Msg-Id,
// <entity>:<key>:<version>.
func version(t *testing.T, id string) int64 {
	parts := strings.Split(id, ":")
	require.Len(t, parts, 3, "message id %q", id)
	v, err := strconv.ParseInt(strings.SplitN(parts[2], "@", 2)[0], 10, 64)
	require.NoError(t, err)
	return v
}
