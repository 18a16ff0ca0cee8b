// Package chain sets up a chain of stores around one hub (docs/chain.md):
// the hub's NATS configuration with one leaf node user per store, each
// store's credential and settings, and the certificates of the hub's leaf
// node port. What it writes is what an installer would otherwise copy and
// edit by hand, block by block.
package chain

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

//go:embed hub.conf.tmpl
var hubTemplate string

var hubConf = template.Must(template.New("nats-hub.conf").Parse(hubTemplate))

// HubConfig is the hub's nats-server configuration for stores (three
// digits each): deploy/nats-hub.conf is HubConfig("001", "002").
func HubConfig(stores ...string) (string, error) {
	for _, s := range stores {
		if err := CheckStore(s); err != nil {
			return "", err
		}
	}
	var b bytes.Buffer
	if err := hubConf.Execute(&b, struct{ Stores []string }{stores}); err != nil {
		return "", fmt.Errorf("hub configuration: %w", err)
	}
	return b.String(), nil
}

// CheckStore checks a store number: three digits, as Edge numbers stores.
func CheckStore(s string) error {
	if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
		return fmt.Errorf("store %q: want three digits, as Edge numbers stores (001)", s)
	}
	return nil
}

// Files in a chain's directory.
const (
	StateFile = "chain.json"    // the stores and the hub's address
	HubConf   = "nats-hub.conf" // for every hub server, at /etc/nats/nats-hub.conf
	HubEnv    = "hub.env"       // the stores' leaf passwords, for the hub servers' environment (secret)
	CAFile    = "ca.pem"        // the stores trust it (--hub-ca)
	CAKey     = "ca-key.pem"    // keep it off the hub and the stores (secret)
	HubCert   = "hub.pem"       // the leaf node port's, at /etc/nats/tls/hub.pem
	HubKey    = "hub-key.pem"   // at /etc/nats/tls/hub-key.pem (secret)
)

// StoreEnv is the settings file of a store: what `edgesync store` needs to
// reach the hub (secret: it holds the store's password).
func StoreEnv(store string) string { return "store" + store + ".env" }

// State is what chain.json holds.
type State struct {
	// HubURLs are the leaf node URLs the stores dial
	// (tls://hub.example.com:7422), one per hub server or one name for all.
	HubURLs []string `json:"hubUrls"`
	Stores  []string `json:"stores"`
}

// Init makes a chain's directory: its state, and the certificates of the
// hub's leaf node port for names (the host names and addresses the stores
// dial), signed by a CA of the chain's own. An existing directory is left
// as it is: its CA has signed what the stores trust.
func Init(dir string, hubURLs, names []string) error {
	if len(hubURLs) == 0 || len(names) == 0 {
		return errors.New("chain init: name the hub's leaf node URL(s) and the certificate's host name(s)")
	}
	for _, u := range hubURLs {
		if !strings.HasPrefix(u, "tls://") {
			return fmt.Errorf("chain init: hub URL %q: want tls://host:7422 (the leaf node port takes TLS only)", u)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
		return fmt.Errorf("chain init: %s already holds a chain; add stores with `edgesync chain add-store`", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("chain init: %w", err)
	}
	if err := writeCerts(dir, names); err != nil {
		return fmt.Errorf("chain init: %w", err)
	}
	return save(dir, State{HubURLs: hubURLs}, nil)
}

// AddStore adds a store to the chain in dir: a password of its own, the
// hub's configuration and environment written again with it, and the
// store's settings file. It returns the chain's stores.
func AddStore(dir, store string) ([]string, error) {
	if err := CheckStore(store); err != nil {
		return nil, err
	}
	st, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if slices.Contains(st.Stores, store) {
		return nil, fmt.Errorf("store %s is in the chain already (%s)", store, filepath.Join(dir, StoreEnv(store)))
	}
	passwords, err := ReadEnv(filepath.Join(dir, HubEnv))
	if err != nil {
		return nil, err
	}
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	passwords[PasswordVar(store)] = hex.EncodeToString(pw)
	st.Stores = append(st.Stores, store)
	slices.Sort(st.Stores)
	return st.Stores, save(dir, st, passwords)
}

// PasswordVar is the hub's environment variable of a store's password.
func PasswordVar(store string) string { return "EDGESYNC_LEAF_STORE" + store + "_PASSWORD" }

// Load reads a chain's state.
func Load(dir string) (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("%s holds no chain: run `edgesync chain init --dir %s` first", dir, dir)
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", StateFile, err)
	}
	return st, nil
}

// save writes the state, the hub's configuration and environment, and each
// store's settings; passwords is nil when no store has one yet.
func save(dir string, st State, passwords map[string]string) error {
	conf, err := HubConfig(st.Stores...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, HubConf), []byte(conf), 0o644); err != nil {
		return err
	}
	var hubEnv strings.Builder
	hubEnv.WriteString("# The stores' leaf node passwords, for every hub server's environment (with the role users' passwords).\n")
	for _, s := range st.Stores {
		fmt.Fprintf(&hubEnv, "%s=%s\n", PasswordVar(s), passwords[PasswordVar(s)])
		env := fmt.Sprintf("# Store %s of the chain: `edgesync store` reads these (with its Edge and writer settings).\n"+
			"# Copy %s beside it: the CA the hub's certificate is signed with.\n"+
			"EDGESYNC_STORE=%s\nEDGESYNC_HUB_URL=%s\nEDGESYNC_HUB_USER=store%s\nEDGESYNC_HUB_PASSWORD=%s\nEDGESYNC_HUB_CA=%s\n",
			s, CAFile, s, strings.Join(st.HubURLs, ","), s, passwords[PasswordVar(s)], CAFile)
		if err := os.WriteFile(filepath.Join(dir, StoreEnv(s)), []byte(env), 0o600); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, HubEnv), []byte(hubEnv.String()), 0o600); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	return os.WriteFile(filepath.Join(dir, StateFile), append(b, '\n'), 0o644)
}

// ReadEnv reads a KEY=VALUE file as the chain writes them; a missing file
// is empty.
func ReadEnv(path string) (map[string]string, error) {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out, nil
}

// Environ is a settings file the chain wrote, as a process environment
// (KEY=VALUE entries), for a program that starts a store's process.
func Environ(path string) ([]string, error) {
	m, err := ReadEnv(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}
