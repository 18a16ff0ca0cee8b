package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/connectors/podium"
	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/sim/clientbookemu"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/podiumemu"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/writer"
)

// roleUsers are deploy/nats-server.conf's users.
var roleUsers = []string{"admin", "capture", "connector-podium", "connector-clientbook", "gateway-podium", "gateway-clientbook", "writer"}

// deployedNATS runs nats-server with deploy/nats-server.conf as shipped, but
// for its port and data directory, with a random password per role user.
func deployedNATS(t *testing.T) (url string, passwords map[string]string) {
	body, err := os.ReadFile("../../deploy/nats-server.conf")
	require.NoError(t, err)
	passwords = map[string]string{}
	var env []string
	for _, u := range roleUsers {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		passwords[u] = hex.EncodeToString(b)
		env = append(env, "EDGESYNC_NATS_"+strings.ToUpper(strings.ReplaceAll(u, "-", "_"))+"_PASSWORD="+passwords[u])
	}
	url = natstest.StartProcessConf(t, func(port int, dir string) string {
		conf := string(body)
		for old, repl := range map[string]string{
			"port: 4222":       fmt.Sprintf("listen: 127.0.0.1:%d", port),
			"http_port: 8222":  "",
			"store_dir: /data": fmt.Sprintf("store_dir: %q", dir),
		} {
			require.Contains(t, conf, old, "deploy/nats-server.conf changed shape")
			conf = strings.Replace(conf, old, repl, 1)
		}
		return conf
	}, env)
	return url, passwords
}

// roleConn is one role's connection, with the permission errors the server
// reported to it.
type roleConn struct {
	user   string
	nc     *nats.Conn
	js     jetstream.JetStream
	denied chan string
}

func connectAs(t *testing.T, url, user, password string) *roleConn {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := broker.Connect(ctx, broker.ConnectConfig{URL: url, Name: user, User: user, Password: password}, logger())
	require.NoError(t, err, "connect as %s", user)
	t.Cleanup(nc.Close)
	rc := &roleConn{user: user, nc: nc, denied: make(chan string, 64)}
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			select {
			case rc.denied <- err.Error():
			default:
			}
		}
	})
	rc.js, err = jetstream.New(nc, jetstream.WithDefaultTimeout(2*time.Second))
	require.NoError(t, err)
	return rc
}

// refused runs what a role must not be allowed to do and checks that the
// server refused it for permissions (and that it did not succeed).
func (rc *roleConn) refused(t *testing.T, what string, fn func(ctx context.Context) error) {
	t.Helper()
	for len(rc.denied) > 0 {
		<-rc.denied
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond) // a refused request gets no answer
	defer cancel()
	err := fn(ctx)
	require.Error(t, err, "%s: %s succeeded", rc.user, what)
	select {
	case v := <-rc.denied:
		t.Logf("%s: %s: %s", rc.user, what, v)
	case <-time.After(3 * time.Second):
		t.Fatalf("%s: %s failed (%v) but the server reported no permissions violation", rc.user, what, err)
	}
}

func publish(rc *roleConn, subject string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := rc.js.Publish(ctx, subject, []byte(`{}`))
		return err
	}
}

func subscribe(rc *roleConn, subject string) func(context.Context) error {
	return func(ctx context.Context) error {
		sub, err := rc.nc.SubscribeSync(subject)
		if err != nil {
			return err
		}
		_, err = sub.NextMsgWithContext(ctx) // the refusal comes asynchronously; nothing is delivered
		return err
	}
}

func consumer(rc *roleConn, stream, durable string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := rc.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: durable, AckPolicy: jetstream.AckExplicitPolicy})
		return err
	}
}

func kvPut(rc *roleConn, bucket, key string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := rc.js.Publish(ctx, "$KV."+bucket+"."+key, []byte(`{}`))
		return err
	}
}

// TestEachRoleHasOnlyWhatItNeeds runs the real nats-server with
// deploy/nats-server.conf, every role as its own user doing its real work
// (an Edge customer reaches Podium and Clientbook, a contact made in Podium
// reaches Edge), then has each role try what it must not do.
func TestEachRoleHasOnlyWhatItNeeds(t *testing.T) {
	url, pw := deployedNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	role := map[string]*roleConn{}
	for _, u := range roleUsers {
		role[u] = connectAs(t, url, u, pw[u])
	}
	require.NoError(t, streams.Provision(ctx, role["admin"].js, streams.DefaultConfig()))

	db := edgesim.New()
	pemu := podiumemu.New(podiumemu.WithRateLimit(0))
	pemu.Webhooks().Backoff = 20 * time.Millisecond
	loc := pemu.AddLocation("Store 001")
	rt := pemu.Tokens().RegisterClient("cid", "secret", "acct",
		[]string{"read_contacts", "write_contacts", "read_locations", "read_webhooks", "write_data_feed_event"}, "")
	purl := pemu.Start()
	t.Cleanup(pemu.Close)
	cbemu := clientbookemu.New()
	cbemu.SetLimit(0)
	cbemu.AddAPIKey("cb-key")
	cburl := cbemu.Start()
	t.Cleanup(cbemu.Close)

	cpt, err := capture.New(ctx, db, role["capture"].js, capture.Config{Site: "priv", PollInterval: 20 * time.Millisecond}, logger())
	require.NoError(t, err)
	pclient, err := podium.NewClient(podium.ClientConfig{BaseURL: purl, TokenURL: purl + "/oauth/token", ClientID: "cid", ClientSecret: "secret",
		RefreshToken: rt, RatePerMinute: -1, Timeout: 2 * time.Second, RetryFor: 30 * time.Second}, logger())
	require.NoError(t, err)
	pconn, err := podium.NewConnector(ctx, role["connector-podium"].js, pclient, podium.Config{
		Options:  projectors.PodiumOptions{Locations: map[string]string{"001": loc}, Tier: projectors.TierClienteling},
		DataFeed: pemu.AddDataFeed("edgesync"), AcquisitionLabel: "Acquisition"}, logger())
	require.NoError(t, err)
	cbclient, err := clientbook.NewClient(clientbook.ClientConfig{BaseURL: cburl, APIKey: "cb-key", RatePerMinute: -1, Timeout: 2 * time.Second, RetryFor: 30 * time.Second}, logger())
	require.NoError(t, err)
	cbconn, err := clientbook.NewConnector(ctx, role["connector-clientbook"].js, cbclient, clientbook.Config{
		Options: projectors.ClientbookOptions{Stores: map[string]string{"001": cbStore}}}, logger())
	require.NoError(t, err)
	v := webhooks.PodiumVerifier(webhookSecret, 5*time.Minute)
	gw, err := webhooks.New(role["gateway-podium"].js, webhooks.Config{Podium: &v}, logger())
	require.NoError(t, err)
	gsrv := httptest.NewServer(gw.Handler())
	t.Cleanup(gsrv.Close)
	_, err = pclient.EnsureWebhook(ctx, gsrv.URL+"/webhooks/podium", webhookSecret, loc, []string{"contact.created", "contact.updated"})
	require.NoError(t, err)
	wr, err := writer.New(ctx, role["writer"].js, db, writer.Config{
		Podium: projectors.MergeOptions{Download: true, Stores: map[string]string{loc: "001"}}, PodiumAcquisitionLabel: "Acquisition"}, logger())
	require.NoError(t, err)
	runs := []func(context.Context) error{cpt.Run, pconn.Run, cbconn.Run, wr.Run,
		func(ctx context.Context) error { gw.RunReports(ctx, 100*time.Millisecond); return nil }}
	done := make(chan struct{}, len(runs))
	for _, run := range runs {
		go func() { _ = run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range runs {
			<-done
		}
	})

	// Each role does its work.
	_, err = db.Update("", func(tx *edgesim.Tx) error {
		newCustomer(tx, "001", "Ada", "ada@example.com", "")
		return nil
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, inPodium := pemu.ContactByIdentifier("ada@example.com")
		return inPodium && len(cbemu.Clients()) == 1
	}, 20*time.Second, 20*time.Millisecond, "capture and both connectors work under their users")
	pemu.CreateContactInApp("Grace Hopper", "", "grace@example.com", loc)
	require.Eventually(t, func() bool {
		var key string
		_, _ = db.Update("", func(tx *edgesim.Tx) error { key = tx.CustomerByEmail("grace@example.com"); return nil })
		return key != ""
	}, 20*time.Second, 20*time.Millisecond, "the gateway and the writer work under their users")

	// Each connector reports to the status page under its own user.
	require.Eventually(t, func() bool {
		reports, err := streams.Reports(ctx, role["admin"].js)
		return err == nil && reports[podium.Durable].CallsLastMinute > 0 && reports[clientbook.Durable].CallsLastMinute > 0
	}, 20*time.Second, 100*time.Millisecond, "both connectors' status reports")
	require.Eventually(t, func() bool {
		captures, err := streams.ReadReports[capture.Report](ctx, role["admin"].js, streams.ReportCapture)
		gateways, gerr := streams.ReadReports[webhooks.Report](ctx, role["admin"].js, streams.ReportGateway)
		return err == nil && gerr == nil && captures["priv"].EdgeVersion > 0 && gateways["podium"].Answers["stored"] > 0
	}, 20*time.Second, 100*time.Millisecond, "capture's and the gateway's status reports, each under its own user")

	// What capture reads after a restore of the Edge database, it may read.
	var subjects []string
	require.NoError(t, streams.LastPerSubject(ctx, role["capture"].js, streams.StreamEdge, "edge.customer.>", func(subject string, _ nats.Header) error {
		subjects = append(subjects, subject)
		return nil
	}))
	assert.Len(t, subjects, 2, "Ada and Grace")

	// What capture reads as it starts again (each entity's newest event, to
	// tell a stream that went back), it may read: a restarted capture
	// carries on from its checkpoints instead of re-snapshotting (found by
	// the fault suite: every capture restart re-sent every table).
	again, err := capture.New(ctx, db, role["capture"].js, capture.Config{Site: "priv", PollInterval: 20 * time.Millisecond}, logger())
	require.NoError(t, err)
	require.NoError(t, again.Cycle(ctx))
	assert.Zero(t, again.Stats().Snapshots, "a restart takes no snapshot")

	// And none may do what another role does.
	c, p, cb, g, gcb, w := role["capture"], role["connector-podium"], role["connector-clientbook"], role["gateway-podium"], role["gateway-clientbook"], role["writer"]
	edgeSubject := "edge.customer.001.999999"
	cases := []struct {
		rc   *roleConn
		what string
		fn   func(context.Context) error
	}{
		{c, "publish a partner event", publish(c, "partner.podium.contact.x")},
		{c, "write a link", kvPut(c, streams.BucketLinks, "podium.customer.001-000001")},
		{c, "take over the Podium connector's consumer", consumer(c, streams.StreamEdge, podium.Durable)},
		{c, "delete the Clientbook connector's consumer", func(ctx context.Context) error {
			return c.js.DeleteConsumer(ctx, streams.StreamEdge, clientbook.Durable)
		}},
		{c, "read the PARTNER stream", consumer(c, streams.StreamPartner, "peek")},
		{p, "publish an Edge event", publish(p, edgeSubject)},
		{p, "write the Clientbook connector's state", kvPut(p, streams.BucketProjection, "clientbook.customer.001-000001")},
		{p, "take over the Clientbook connector's consumer", consumer(p, streams.StreamEdge, clientbook.Durable)},
		{p, "publish a partner event other than its outcomes and caught-up contacts", publish(p, "partner.podium.message.x")},
		{p, "publish the other partner's events", publish(p, "partner.clientbook.client.x")},
		{p, "write a checkpoint", kvPut(p, streams.BucketCheckpoints, "priv.customer")},
		{cb, "write the Podium connector's links", kvPut(cb, streams.BucketLinks, "podium.customer.001-000001")},
		{cb, "take over the Podium connector's consumer", consumer(cb, streams.StreamEdge, podium.Durable)},
		{cb, "report as the Podium connector", kvPut(cb, streams.BucketStatus, streams.ReportKey(podium.Durable))},
		{g, "publish the other partner's events", publish(g, "partner.clientbook.client.x")},
		{g, "publish an Edge event", publish(g, edgeSubject)},
		{g, "read the EDGE stream", consumer(g, streams.StreamEdge, "peek")},
		{gcb, "publish Podium's events", publish(gcb, "partner.podium.contact.x")},
		{w, "read anything on EDGE", consumer(w, streams.StreamEdge, writer.Durable)},
		{w, "subscribe to Edge events", subscribe(w, "edge.>")},
		{w, "publish an Edge event", publish(w, edgeSubject)},
		{w, "write a checkpoint", kvPut(w, streams.BucketCheckpoints, "priv.customer")},
		{w, "read another role's replies", subscribe(w, broker.InboxPrefix("connector-podium")+".>")},
	}
	for _, tc := range cases {
		t.Run(tc.rc.user+"/"+tc.what, func(t *testing.T) { tc.rc.refused(t, tc.what, tc.fn) })
	}
	// What the gateway for Clientbook may do, it can: its partner's subjects.
	_, err = gcb.js.Publish(ctx, "partner.clientbook.client.x", []byte(`{}`))
	assert.NoError(t, err)
	msgs, err := streams.Pending(ctx, role["admin"].js, streams.StreamEdge, podium.Durable)
	require.NoError(t, err)
	assert.Zero(t, msgs, "nothing a refused role tried reached the Podium connector")
}
