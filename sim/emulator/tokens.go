package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// Tokens issues and checks OAuth access and refresh tokens.
type Tokens struct {
	mu      sync.Mutex
	now     func() time.Time
	ttl     time.Duration
	access  map[string]grant
	refresh map[string]grant
	clients map[string]client
}

type grant struct {
	account string
	scopes  map[string]bool
	expires time.Time
	apiKey  bool // never expires
}

type client struct {
	secret  string
	account string
	scopes  []string
}

func newTokens(now func() time.Time) *Tokens {
	return &Tokens{now: now, ttl: 10 * time.Hour, access: map[string]grant{}, refresh: map[string]grant{}, clients: map[string]client{}}
}

// SetTTL sets the lifetime of access tokens issued from now on.
func (t *Tokens) SetTTL(d time.Duration) {
	t.mu.Lock()
	t.ttl = d
	t.mu.Unlock()
}

// TTL returns the access token lifetime.
func (t *Tokens) TTL() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ttl
}

// RegisterClient adds an OAuth client for account with scopes and returns a
// refresh token for it, as the installer gets after the consent screen. A
// non-empty refreshToken is used as given, so a restarted emulator honours
// the token an installed connector already holds.
func (t *Tokens) RegisterClient(id, secret, account string, scopes []string, refreshToken string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clients[id] = client{secret: secret, account: account, scopes: scopes}
	rt := refreshToken
	if rt == "" {
		rt = newToken()
	}
	t.refresh[rt] = grant{account: account, scopes: set(scopes)}
	return rt
}

// Refresh exchanges a refresh token for a new access token. The refresh
// token stays valid (Podium does not document rotation).
func (t *Tokens) Refresh(clientID, secret, refreshToken string) (access string, ttl time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, found := t.clients[clientID]
	g, valid := t.refresh[refreshToken]
	if !found || c.secret != secret || !valid || g.account != c.account {
		return "", 0, false
	}
	access = newToken()
	g.expires = t.now().Add(t.ttl)
	t.access[access] = g
	return access, t.ttl, true
}

// Check validates "Bearer <token>" and returns the account and scopes.
func (t *Tokens) Check(header string) (account string, scopes map[string]bool, ok bool) {
	tok, found := strings.CutPrefix(header, "Bearer ")
	if !found {
		return "", nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g, found := t.access[tok]
	if !found || (!g.apiKey && !t.now().Before(g.expires)) {
		return "", nil, false
	}
	return g.account, g.scopes, true
}

// RegisterAPIKey adds a key that never expires, for partners that
// authenticate with API keys rather than OAuth.
func (t *Tokens) RegisterAPIKey(key, account string, scopes []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.access[key] = grant{account: account, scopes: set(scopes), apiKey: true}
}

// Revoke makes a token or key invalid.
func (t *Tokens) Revoke(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.access, token)
}

func (t *Tokens) expireAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, g := range t.access {
		if g.apiKey {
			continue
		}
		g.expires = time.Time{}
		t.access[k] = g
	}
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
