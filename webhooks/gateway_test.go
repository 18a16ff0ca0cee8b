package webhooks_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
	"github.com/edgesync/edgesync/webhooks"
)

const secret = "whsec-test"

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func sign(body []byte, at time.Time) http.Header {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	h := http.Header{}
	h.Set("podium-timestamp", ts)
	h.Set("podium-signature", hex.EncodeToString(mac.Sum(nil)))
	return h
}

func gateway(t *testing.T) (*natstest.Server, *httptest.Server) {
	srv := natstest.Start(t)
	v := webhooks.PodiumVerifier(secret, 5*time.Minute)
	g, err := webhooks.New(srv.JS, webhooks.Config{Podium: &v, MaxBody: 4096, Now: func() time.Time { return now }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	hs := httptest.NewServer(g.Handler())
	t.Cleanup(hs.Close)
	return srv, hs
}

func post(t *testing.T, url string, body []byte, h http.Header) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/podium", bytes.NewReader(body))
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var contactUpdated = []byte(`{"data":{"before":{"uid":"c-1","emails":["a@example.com"]},"after":{"uid":"c-1","name":"Ada","emails":["ada@example.com"]},"errors":[]},"metadata":{"event_type":"contact.updated","event_uid":"evt-1","version":"2021.04.01"}}`)

func TestDeliveredFiveTimesStoredOnce(t *testing.T) {
	srv, hs := gateway(t)
	for range 5 {
		status, body := post(t, hs.URL, contactUpdated, sign(contactUpdated, now.Add(-time.Minute)))
		require.Equal(t, http.StatusOK, status, body)
	}
	msgs := natstest.Messages(t, srv.JS, streams.StreamPartner)
	require.Len(t, msgs, 1)
	assert.Equal(t, "partner.podium.contact.c-1", msgs[0].Subject)
	assert.Equal(t, "podium:evt-1", msgs[0].Header.Get("Nats-Msg-Id"))
	require.NoError(t, schemas.ValidatePartner(msgs[0].Data))
	pe, err := schemas.DecodePartnerEnvelope(msgs[0].Data)
	require.NoError(t, err)
	assert.Equal(t, "contact.updated", pe.Type)
	assert.JSONEq(t, `{"before":{"uid":"c-1","emails":["a@example.com"]},"after":{"uid":"c-1","name":"Ada","emails":["ada@example.com"]},"errors":[]}`, string(pe.Data))
}

func TestRefusals(t *testing.T) {
	srv, hs := gateway(t)
	forged := sign(contactUpdated, now)
	forged.Set("podium-signature", hex.EncodeToString(make([]byte, 32)))
	noTS := sign(contactUpdated, now)
	noTS.Del("podium-timestamp")
	big := append(bytes.Repeat([]byte(" "), 5000), contactUpdated...)
	bad := []byte(`{"data": [}`)
	noID := []byte(`{"data":{"after":{}},"metadata":{"event_type":"contact.created"}}`)
	call := []byte(`{"data":{"uid":"x"},"metadata":{"event_type":"call.completed"}}`)
	tests := []struct {
		name   string
		body   []byte
		h      http.Header
		status int
		dlq    bool
	}{
		{"forged signature", contactUpdated, forged, http.StatusUnauthorized, false},
		{"replayed old delivery", contactUpdated, sign(contactUpdated, now.Add(-time.Hour)), http.StatusUnauthorized, false},
		{"from the future", contactUpdated, sign(contactUpdated, now.Add(time.Hour)), http.StatusUnauthorized, false},
		{"no timestamp", contactUpdated, noTS, http.StatusUnauthorized, false},
		{"unsigned", contactUpdated, http.Header{}, http.StatusUnauthorized, false},
		{"body over the limit", big, sign(big, now), http.StatusRequestEntityTooLarge, false},
		{"malformed body, signed", bad, sign(bad, now), http.StatusBadRequest, true},
		{"contact without uid", noID, sign(noID, now), http.StatusBadRequest, true},
		{"unknown event type is acknowledged and ignored", call, sign(call, now), http.StatusOK, false},
	}
	dead := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, hs.URL, tt.body, tt.h)
			assert.Equal(t, tt.status, status, body)
			assert.NotContains(t, body, secret)
			if tt.dlq {
				dead++
			}
			assert.Len(t, natstest.Messages(t, srv.JS, streams.StreamDLQ), dead, "signed but unreadable deliveries are dead-lettered with the reason")
		})
	}
	assert.Empty(t, natstest.Messages(t, srv.JS, streams.StreamPartner), "nothing refused reaches the PARTNER stream")
	for _, m := range natstest.Messages(t, srv.JS, streams.StreamDLQ) {
		assert.NotEmpty(t, m.Header.Get(streams.HeaderDLQReason))
	}
}

// A delivery JetStream cannot store is answered 503 so the partner retries;
// it is never acknowledged.
func TestUnstoredDeliveryIsRetried(t *testing.T) {
	srv, hs := gateway(t)
	require.NoError(t, srv.JS.DeleteStream(context.Background(), streams.StreamPartner))
	status, _ := post(t, hs.URL, contactUpdated, sign(contactUpdated, now))
	assert.Equal(t, http.StatusServiceUnavailable, status)
}

func TestNewRequiresASecret(t *testing.T) {
	srv := natstest.Start(t)
	_, err := webhooks.New(srv.JS, webhooks.Config{}, slog.Default())
	assert.ErrorContains(t, err, "no partner configured")
	v := webhooks.PodiumVerifier("", time.Minute)
	_, err = webhooks.New(srv.JS, webhooks.Config{Podium: &v}, slog.Default())
	assert.ErrorContains(t, err, "secret is required")
}

func TestVerifyAcceptsBase64AndThePodiumVector(t *testing.T) {
	body := []byte(`{"data":{"bar":"apples","foo":"1"},"metadata":{"event_type":"test.event","version":"2021.04.01"}}`)
	v := webhooks.PodiumVerifier("something-no-one-will-know", time.Hour)
	at := time.UnixMilli(1620771659663)
	for _, sig := range []string{
		"4d09f22dd01181ccf651c1236f4bec9e6226c472b39cb9dbdcf5dfa633dda982",
		"TQnyLdARgcz2UcEjb0vsnmImxHKznLnb3PXfpjPdqYI=",
		"sha256=4d09f22dd01181ccf651c1236f4bec9e6226c472b39cb9dbdcf5dfa633dda982",
	} {
		h := http.Header{}
		h.Set("podium-timestamp", "1620771659663")
		h.Set("podium-signature", sig)
		assert.NoError(t, v.Verify(h, body, at), sig)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("1700000000000", "00", []byte(`{}`))
	f.Add("", "", []byte(nil))
	f.Add("-1", "sha256=zz", []byte("x"))
	v := webhooks.PodiumVerifier(secret, time.Hour)
	at := time.UnixMilli(1700000000000)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("podium-timestamp", ts)
		h.Set("podium-signature", sig)
		if v.Verify(h, body, at) != nil {
			return
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		sig = strings.TrimPrefix(strings.TrimSpace(sig), "sha256=")
		got, err := hex.DecodeString(sig)
		if err != nil || !hmac.Equal(got, want) {
			got, err = base64.StdEncoding.DecodeString(sig)
		}
		if err != nil || !hmac.Equal(got, want) {
			t.Fatalf("accepted a signature that is not the HMAC of %q", ts)
		}
	})
}
