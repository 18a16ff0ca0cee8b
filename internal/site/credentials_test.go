package site_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// The hub as deploy/nats-hub.conf ships it (on one server instead of
// three): its leaf node port takes TLS only, and each store's credential
// lets a store do its own store's part and nothing of another's. Stores
// 001 and 002 sync through TLS, each with its own credential; a server
// that takes 002's place with 001's credential gets none of the hub's
// requests for 002's stream, so nothing of it reaches the hub, and cannot
// deliver on 002's subjects.
func TestEachStoreIsLetInOnlyAsItself(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nats-server as a process with the shipped hub configuration")
	}
	ctx := context.Background()
	hub := startDeployedHub(t)
	admin, err := broker.Connect(ctx, broker.ConnectConfig{URL: hub.url, User: "admin", Password: hub.passwords["admin"]}, quiet())
	require.NoError(t, err)
	defer admin.Close()
	js, err := jetstream.New(admin)
	require.NoError(t, err)
	cfg := streams.DefaultConfig()
	cfg.Stores = []string{"001", "002"}
	require.NoError(t, streams.Provision(ctx, js, cfg))

	newStore := func(code, user string, seed uint64) *store {
		st := &store{t: t, code: code, db: edgesim.New(), dir: t.TempDir(), rng: mrand.New(mrand.NewPCG(seed, 7)),
			hub:    broker.Leaf{URLs: []string{hub.leafURL}, User: user, Password: hub.passwords[user], CAFile: hub.caFile},
			writer: chainWriter()}
		st.change(20)
		st.start()
		t.Cleanup(st.shut)
		return st
	}
	synced := func(st *store) bool {
		n, err := st.s.Stored(ctx)
		return err == nil && n > 0 && atHub(t, js, st.code) == n
	}

	s1, s2 := newStore("001", "store001", 1), newStore("002", "store002", 2)
	require.Eventually(t, func() bool { return synced(s1) && synced(s2) }, time.Minute, 100*time.Millisecond,
		"each store syncs over TLS with its own credential")
	// Partner changes come down the same link to each store's writer.
	before := map[*store]int{s1: len(s1.db.CustomerKeys()), s2: len(s2.db.CustomerKeys())}
	publishPartner(t, js, append(partnerChanges(t, "001", 0, 1), partnerChanges(t, "002", 0, 1)...))
	for _, st := range []*store{s1, s2} {
		require.Eventually(t, func() bool {
			n, err := st.db.Count(ctx, schemas.EntityNote)
			return err == nil && n == 2
		}, time.Minute, 100*time.Millisecond, "store %s's writer gets its partner changes through the link", st.code)
		assert.Len(t, st.db.CustomerKeys(), before[st]+2, "store %s: its own contact and client, and nothing of the other store", st.code)
	}
	s2.shut()
	had := atHub(t, js, "002")

	// Another server takes store 002's place with 001's credential.
	impostor := newStore("002", "store001", 3)
	require.Eventually(t, impostor.s.Connected, 10*time.Second, 50*time.Millisecond, "the link itself is up")
	// The hub's deliveries subject for store 002 gets nothing from this
	// leaf, while the same leaf's 001 subject gets through.
	probe, err := admin.SubscribeSync("deliver.>")
	require.NoError(t, err)
	require.NoError(t, admin.Flush())
	local := impostor.s.JetStream().Conn()
	require.Eventually(t, func() bool {
		require.NoError(t, local.Publish(streams.StoreDeliverPrefix("001")+".probe", []byte("own")))
		m, err := probe.NextMsg(200 * time.Millisecond)
		return err == nil && strings.HasPrefix(m.Subject, streams.StoreDeliverPrefix("001"))
	}, 10*time.Second, 10*time.Millisecond, "the leaf's own store's subject reaches the hub")
	require.NoError(t, local.Publish(streams.StoreDeliverPrefix("002")+".S.forged", []byte("forged")))
	// Nor does it get store 002's partner changes: its writer may not read
	// 002's consumer.
	publishPartner(t, js, partnerChanges(t, "002", 1, 2))
	s1.change(10)
	require.Eventually(t, func() bool { return synced(s1) }, time.Minute, 100*time.Millisecond, "store 001 keeps syncing meanwhile")
	var st002 streams.StoreStatus
	require.Eventually(t, func() bool {
		for _, st := range storeStatus(t, js) {
			if st.Store == "002" {
				st002 = st
			}
		}
		return !st002.Connected
	}, time.Minute, 200*time.Millisecond, "the hub does not show 002 connected: %+v", st002)
	t.Logf("store 002's place taken with 001's credential, as the hub shows it: %+v", st002)
	for {
		m, err := probe.NextMsg(100 * time.Millisecond)
		if err != nil {
			break
		}
		assert.NotContains(t, m.Subject, streams.StoreDeliverPrefix("002"), "a delivery in store 002's name reached the hub")
	}
	assert.Equal(t, had, atHub(t, js, "002"), "nothing of a store logged in with another store's credential reaches the hub")
	notes, err := impostor.db.Count(ctx, schemas.EntityNote)
	require.NoError(t, err)
	assert.Zero(t, notes, "no partner change of store 002 reaches a store logged in with 001's credential")

	// The port takes TLS only, and only a known store.
	for name, leaf := range map[string]broker.Leaf{
		"no TLS":         {URLs: []string{strings.Replace(hub.leafURL, "tls://", "nats-leaf://", 1)}, User: "store001", Password: hub.passwords["store001"]},
		"wrong password": {URLs: []string{hub.leafURL}, User: "store001", Password: "guess", CAFile: hub.caFile},
	} {
		srv, err := broker.StartEmbedded(broker.EmbeddedConfig{Dir: t.TempDir(), Name: "refused", Domain: "store009", Hub: &leaf})
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		assert.False(t, srv.LeafConnected(), "%s: the hub refuses the link", name)
		srv.Shutdown()
	}
}

type deployedHub struct {
	url, leafURL, caFile string
	passwords            map[string]string
}

// startDeployedHub runs nats-server with deploy/nats-hub.conf, on one
// server: without its cluster block and server name, with ports and
// directories of the test's own, a certificate for 127.0.0.1 signed by a
// CA made here, and a random password per user.
func startDeployedHub(t *testing.T) deployedHub {
	dir := t.TempDir()
	h := deployedHub{caFile: filepath.Join(dir, "ca.pem"), passwords: map[string]string{}}
	writeCerts(t, dir)
	var env []string
	for _, u := range []string{"admin", "capture", "connector-podium", "connector-clientbook", "gateway-podium", "gateway-clientbook", "writer", "store001", "store002"} {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		h.passwords[u] = hex.EncodeToString(b)
		v := "EDGESYNC_NATS_" + strings.ToUpper(strings.ReplaceAll(u, "-", "_")) + "_PASSWORD"
		if strings.HasPrefix(u, "store") {
			v = "EDGESYNC_LEAF_" + strings.ToUpper(u) + "_PASSWORD"
		}
		env = append(env, v+"="+h.passwords[u])
	}
	leafPort := natstest.FreePort(t)
	h.leafURL = fmt.Sprintf("tls://127.0.0.1:%d", leafPort)
	h.url = natstest.StartProcessConf(t, func(port int, storeDir string) string {
		return natstest.HubOnOneServer(t, readDeploy(t, "nats-hub.conf"), port, storeDir, leafPort, filepath.Join(dir, "hub.pem"), filepath.Join(dir, "hub-key.pem"))
	}, env)
	return h
}

// writeCerts writes ca.pem, and hub.pem and hub-key.pem for 127.0.0.1
// signed by it, into dir.
func writeCerts(t *testing.T, dir string) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgesync test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "hub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	for name, block := range map[string]*pem.Block{
		"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "hub.pem": {Type: "CERTIFICATE", Bytes: der},
		"hub-key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600))
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func readDeploy(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", name))
	require.NoError(t, err)
	return string(b)
}

// The hub's configuration carries nats-server.conf's role users as they
// are (e2e.TestEachRoleHasOnlyWhatItNeeds tests them there), with the
// stores' users added: a change to one file is made in the other.
func TestTheHubKeepsTheRoleUsers(t *testing.T) {
	single, hub := readDeploy(t, "nats-server.conf"), readDeploy(t, "nats-hub.conf")
	accounts := single[strings.Index(single, "accounts {"):]
	users := strings.TrimSuffix(strings.TrimSpace(accounts), "]\n  }\n}")
	assert.Contains(t, hub, users, "deploy/nats-hub.conf's accounts block starts with nats-server.conf's, word for word")
}
