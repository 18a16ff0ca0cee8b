package podiumemu_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/sim/podiumemu"
)

// The vector computed in podium-api.md from the docs' example timestamp and
// body with the spec's example secret.
func TestSignMatchesTheDocumentedVector(t *testing.T) {
	body := []byte(`{"data":{"bar":"apples","foo":"1"},"metadata":{"event_type":"test.event","version":"2021.04.01"}}`)
	h := podiumemu.Sign("something-no-one-will-know", time.UnixMilli(1620771659663), body)
	assert.Equal(t, "1620771659663", h.Get("podium-timestamp"))
	assert.Equal(t, "4d09f22dd01181ccf651c1236f4bec9e6226c472b39cb9dbdcf5dfa633dda982", h.Get("podium-signature"))
}

type client struct {
	t    *testing.T
	base string
	tok  string
}

func (c client) do(method, path string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func start(t *testing.T) (*podiumemu.Emulator, client, string) {
	emu := podiumemu.New()
	loc := emu.AddLocation("Store 001")
	rt := emu.Tokens().RegisterClient("cid", "sec", "acct", []string{"read_contacts", "write_contacts"}, "")
	base := emu.Start()
	t.Cleanup(emu.Close)
	b, _ := json.Marshal(map[string]string{"client_id": "cid", "client_secret": "sec", "grant_type": "refresh_token", "refresh_token": rt})
	resp, err := http.Post(base+"/oauth/token", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	emu.Webhooks().Backoff = 10 * time.Millisecond
	return emu, client{t: t, base: base, tok: tok.AccessToken}, loc
}

func TestWebhookDeliveriesAreSignedOrderedAndRetried(t *testing.T) {
	emu, c, loc := start(t)
	var mu sync.Mutex
	var got []string
	var fail atomic.Int32
	fail.Store(2) // the first two deliveries fail
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("podium-timestamp")
		want := podiumemu.Sign("s3cret", time.Time{}, nil) // shape only
		assert.Len(t, r.Header.Get("podium-signature"), len(want.Get("podium-signature")))
		var at int64
		require.NoError(t, json.Unmarshal([]byte(ts), &at))
		assert.Equal(t, podiumemu.Sign("s3cret", time.UnixMilli(at), body).Get("podium-signature"), r.Header.Get("podium-signature"))
		if fail.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var ev struct {
			Data struct {
				After struct {
					Name string `json:"name"`
				} `json:"after"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(body, &ev))
		mu.Lock()
		got = append(got, ev.Data.After.Name)
		mu.Unlock()
	}))
	defer receiver.Close()

	status, _ := c.do("POST", "/v4/webhooks", map[string]any{"url": receiver.URL, "eventTypes": []string{"contact.created"}, "secret": "s3cret", "locationUid": loc})
	require.Equal(t, http.StatusOK, status)
	for _, name := range []string{"first", "second", "third"} {
		status, _ := c.do("POST", "/v4/contacts", map[string]any{"name": name, "locations": []string{loc}, "email": name + "@example.com"})
		require.Equal(t, http.StatusAccepted, status)
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"first", "second", "third"}, got, "later events wait while one is retried")
	assert.Len(t, emu.Webhooks().Deliveries(), 5)
}

func TestWebhookIsDisabledAfterMaxAttempts(t *testing.T) {
	emu, c, loc := start(t)
	emu.Webhooks().MaxAttempts = 3
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer receiver.Close()
	_, hook := c.do("POST", "/v4/webhooks", map[string]any{"url": receiver.URL, "eventTypes": []string{"contact.created"}, "secret": "x", "locationUid": loc})
	uid := hook["data"].(map[string]any)["uid"].(string)
	c.do("POST", "/v4/contacts", map[string]any{"name": "a", "locations": []string{loc}, "email": "a@example.com"})
	require.Eventually(t, func() bool { h, _ := emu.Webhooks().Get(uid); return h.Disabled }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, emu.Webhooks().Pending(), "the event stays queued for when the webhook is enabled again")
}

func TestAPIErrorsFollowTheDocs(t *testing.T) {
	emu, c, loc := start(t)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"unknown route", "GET", "/v4/nothing", nil, http.StatusNotFound, "route_not_found"},
		{"name and locations required", "POST", "/v4/contacts", map[string]any{"email": "a@example.com"}, http.StatusBadRequest, "invalid_request_values"},
		{"unknown field", "POST", "/v4/contacts", map[string]any{"name": "a", "locations": []string{loc}, "email": "a@example.com", "shoeSize": 9}, http.StatusBadRequest, "invalid_request_values"},
		{"bad phone", "POST", "/v4/contacts", map[string]any{"name": "a", "locations": []string{loc}, "phoneNumber": "555-0101"}, http.StatusBadRequest, "invalid_request_values"},
		{"missing contact", "GET", "/v4/contacts/nobody@example.com", nil, http.StatusNotFound, "resource_not_found"},
		{"bad cursor", "GET", "/v4/contacts?cursor=@@@", nil, http.StatusBadRequest, "invalid_cursor"},
		{"missing scope", "POST", "/v4/messages", map[string]any{}, http.StatusForbidden, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.do(tt.method, tt.path, tt.body)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.code, body["code"])
		})
	}
	bad := c
	bad.tok = "forged"
	status, body := bad.do("GET", "/v4/contacts", nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "unauthenticated", body["code"])

	emu.SetLimit(2)
	c.do("GET", "/v4/contacts", nil)
	c.do("GET", "/v4/contacts", nil)
	status, body = c.do("GET", "/v4/contacts", nil)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "rate_limit", body["code"])
}
