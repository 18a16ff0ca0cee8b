package webhook

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"specversion":"1.0"}`)
	signed := func(secret string, at time.Time, b []byte) http.Header {
		return http.Header{HeaderTimestamp: {strconv.FormatInt(at.Unix(), 10)}, HeaderSignature: {Sign(secret, at.Unix(), b)}}
	}
	tests := []struct {
		name    string
		header  http.Header
		secrets []string
		wantErr string
	}{
		{"signed now", signed("s1-sixteen-chars", now, body), []string{"s1-sixteen-chars"}, ""},
		{"the old secret during a rotation", signed("s0-sixteen-chars", now, body), []string{"s1-sixteen-chars", "s0-sixteen-chars"}, ""},
		{"another secret", signed("s2-sixteen-chars", now, body), []string{"s1-sixteen-chars"}, "does not verify"},
		{"another body", signed("s1-sixteen-chars", now, []byte(`{}`)), []string{"s1-sixteen-chars"}, "does not verify"},
		{"replayed later", signed("s1-sixteen-chars", now.Add(-6*time.Minute), body), []string{"s1-sixteen-chars"}, "beyond 5m0s"},
		{"no timestamp", http.Header{HeaderSignature: {Sign("s1-sixteen-chars", now.Unix(), body)}}, []string{"s1-sixteen-chars"}, "not a Unix time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.header, body, now, 5*time.Minute, tt.secrets...)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrSignature)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestConfigCheck(t *testing.T) {
	const secret = "sixteen-chars-ok"
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{URL: "https://hooks.example.com/x", Secret: secret}, ""},
		{"a URL without a scheme", Config{URL: "hooks.example.com/x", Secret: secret}, "want an absolute http:// or https:// URL"},
		{"a token in the path is not repeated", Config{URL: "ftp://hooks.example.com/catch/TOKEN", Secret: secret}, "ftp://hooks.example.com/…"},
		{"a short secret", Config{URL: "https://hooks.example.com", Secret: "short"}, "secret: 5 characters, want at least 16"},
		{"an unknown entity", Config{URL: "https://hooks.example.com", Secret: secret, Entities: []schemas.Entity{"invoice"}}, `entity "invoice"`},
		{"another connector's name", Config{Name: "podium", URL: "https://hooks.example.com", Secret: secret}, "is the podium connector's"},
		{"a name that is no subject token", Config{Name: "my tool", URL: "https://hooks.example.com", Secret: secret}, "connector name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Check()
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, DefaultName, tt.cfg.Name)
				assert.Equal(t, schemas.Entities, tt.cfg.Entities)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), "TOKEN")
		})
	}
}
