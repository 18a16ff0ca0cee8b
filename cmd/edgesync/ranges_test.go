package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A number out of its range is refused before the role starts, wherever
// it was set: a gateway with --tolerance 0 would refuse every genuine
// delivery, one with --max-body -1 every delivery.
func TestNumbersOutOfRangeAreRefusedAtStart(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		args    []string
		wantErr string
	}{
		{"zero tolerance", nil, []string{"webhooks", "--podium-webhook-secret", "s", "--tolerance", "0s"}, "--tolerance 0s: want at least 1s"},
		{"negative tolerance", nil, []string{"webhooks", "--podium-webhook-secret", "s", "--tolerance=-5m"}, "--tolerance -5m0s: want at least 1s"},
		{"negative max body", nil, []string{"webhooks", "--podium-webhook-secret", "s", "--max-body=-1"}, "--max-body -1: want at least 0"},
		{"from the environment", []string{"EDGESYNC_CLIENTBOOK_WORKERS=-3"}, []string{"connector", "clientbook", "--clientbook-api-key", "k"}, "--clientbook-workers -3: want at least 1"},
		{"a zero rate", nil, []string{"connector", "podium", "--podium-client-id", "i", "--podium-client-secret", "s", "--podium-refresh-token", "t", "--podium-location", "001=loc", "--podium-rate=-2"}, "--podium-rate -2: want at least -1"},
		{"in range", nil, []string{"webhooks", "--podium-webhook-secret", "s", "--tolerance", "1m", "--max-body", "0"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range tt.env {
				k, v, _ := strings.Cut(e, "=")
				t.Setenv(k, v)
			}
			var c cli
			parser, err := newParser(&c)
			require.NoError(t, err)
			_, err = parse(parser, &c, tt.args)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// `config check` says what the schema cannot: a value under its flag's
// range, a map entry with an empty side, and a secret written in the file
// (a warning, or a problem with --strict), each with the key.
func TestConfigCheckRangesEmptyEntriesAndSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		return path
	}
	check := func(args ...string) (string, error) {
		var c cli
		parser, err := newParser(&c)
		require.NoError(t, err)
		kctx, err := parse(parser, &c, append([]string{"config", "check"}, args...))
		require.NoError(t, err)
		return captureStdout(t, func() error { return c.Config.Check.Run(kctx.Kong) })
	}
	bad := write("bad.yaml", "clientbook-workers: -3\ntolerance: 0s\npodium-location:\n  \"001\": \"\"\npoll: 250ms\n")
	out, err := check(bad)
	assert.Error(t, err)
	for _, want := range []string{"3 problem(s)", "clientbook-workers: -3: want at least 1", "tolerance: 0s: want at least 1s", `podium-location: entry "001" has an empty side`} {
		assert.Contains(t, out, want)
	}
	secrets := write("secrets.yaml", "nats-password: hunter2\nmssql-dsn: sqlserver://sa:pw@db\npoll: 1s\n")
	out, err = check(secrets)
	require.NoError(t, err, out)
	assert.Contains(t, out, "warning: nats-password: a secret written in the file; set EDGESYNC_NATS_PASSWORD in the environment instead")
	assert.Contains(t, out, "warning: mssql-dsn: a secret written in the file; set EDGESYNC_MSSQL_DSN")
	assert.NotContains(t, out, "hunter2")
	assert.Equal(t, 1, strings.Count(out, "valid"), "the verdict is printed once")
	out, err = check("--strict", secrets)
	assert.Error(t, err)
	assert.Contains(t, out, "2 problem(s)")
}

// captureStdout runs fn with os.Stdout sent to a pipe and returns what it
// printed.
func captureStdout(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stdout
	os.Stdout = w
	ferr := fn()
	os.Stdout = old
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(out), ferr
}
