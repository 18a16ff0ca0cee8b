package chain

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shipped deploy/nats-hub.conf is what `chain add-store` writes for
// stores 001 and 002: the example and the generator never drift apart.
func TestTheShippedHubConfigIsTheGeneratedOne(t *testing.T) {
	want, err := HubConfig("001", "002")
	require.NoError(t, err)
	shipped, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nats-hub.conf"))
	require.NoError(t, err)
	assert.Equal(t, want, string(shipped), "regenerate deploy/nats-hub.conf: go run ./cmd/edgesync chain hub-config --store 001 --store 002 > deploy/nats-hub.conf")
}

// A chain grows store by store: each gets a password of its own, in the
// hub's environment and in the store's settings only, and the hub's
// configuration names each with its own subjects.
func TestAddStore(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Init(dir, []string{"tls://hub.example.com:7422"}, []string{"hub.example.com", "127.0.0.1"}))
	assert.ErrorContains(t, Init(dir, []string{"tls://hub.example.com:7422"}, []string{"hub.example.com"}), "already holds a chain")
	for _, f := range []string{CAFile, CAKey, HubCert, HubKey} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	stores, err := AddStore(dir, "003")
	require.NoError(t, err)
	assert.Equal(t, []string{"003"}, stores)
	stores, err = AddStore(dir, "001")
	require.NoError(t, err)
	assert.Equal(t, []string{"001", "003"}, stores)
	_, err = AddStore(dir, "003")
	assert.ErrorContains(t, err, "in the chain already")
	_, err = AddStore(dir, "3")
	assert.ErrorContains(t, err, "want three digits")

	conf, err := os.ReadFile(filepath.Join(dir, HubConf))
	require.NoError(t, err)
	for _, want := range []string{"user: store001,", "user: store003,", `"deliver.store003.>"`, `"$JS.store003.API.>"`, "edge-writer-003", "$EDGESYNC_LEAF_STORE003_PASSWORD"} {
		assert.Contains(t, string(conf), want)
	}
	hubEnv, err := ReadEnv(filepath.Join(dir, HubEnv))
	require.NoError(t, err)
	store, err := ReadEnv(filepath.Join(dir, StoreEnv("003")))
	require.NoError(t, err)
	assert.Len(t, hubEnv[PasswordVar("003")], 48)
	assert.Equal(t, hubEnv[PasswordVar("003")], store["EDGESYNC_HUB_PASSWORD"], "the store logs in with the password the hub knows")
	assert.NotEqual(t, hubEnv[PasswordVar("001")], hubEnv[PasswordVar("003")])
	assert.Equal(t, "store003", store["EDGESYNC_HUB_USER"])
	assert.Equal(t, "tls://hub.example.com:7422", store["EDGESYNC_HUB_URL"])
	for _, secret := range []string{HubEnv, StoreEnv("003"), CAKey, HubKey} {
		info, err := os.Stat(filepath.Join(dir, secret))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "%s is a secret", secret)
	}
}
