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

	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
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
	return gatewayWith(t, webhooks.Config{MaxBody: 4096})
}

// gatewayWith starts a gateway for Podium with cfg (the verifier and the
// clock set here).
func gatewayWith(t *testing.T, cfg webhooks.Config) (*natstest.Server, *httptest.Server) {
	srv := natstest.Start(t)
	v := webhooks.PodiumVerifier(secret, 5*time.Minute)
	if cfg.Podium != nil {
		v.MaxAge = cfg.Podium.MaxAge
	}
	cfg.Podium, cfg.Now = &v, func() time.Time { return now }
	g, err := webhooks.New(srv.JS, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	hs := httptest.NewServer(g.Handler())
	t.Cleanup(hs.Close)
	return srv, hs
}

// contactDelivery is a signed-to-be contact.updated delivery for uid, its
// data padded with pad bytes of white space.
func contactDelivery(uid, eventUID string, pad int) []byte {
	return []byte(`{"data":{"after":{"uid":"` + uid + `","name":"Ada"` + strings.Repeat(" ", pad) + `},"errors":[]},"metadata":{"event_type":"contact.updated","event_uid":"` + eventUID + `"}}`)
}

// One delivery whose contact uid is too long for a subject token would
// have made a protocol line over the server's max_control_line: the server
// closes the connection, and every later delivery failed behind it. It is
// dead-lettered with its reason and answered 200, and the next delivery is
// stored as usual.
func TestAnOverlongIDIsDeadLetteredAndTheNextIsStored(t *testing.T) {
	srv, hs := gatewayWith(t, webhooks.Config{})
	long := contactDelivery(strings.Repeat("u", 6000), "evt-long", 0)
	status, body := post(t, hs.URL, long, sign(long, now))
	assert.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "dead-lettered")
	next := contactDelivery("c-2", "evt-2", 0)
	status, body = post(t, hs.URL, next, sign(next, now))
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "stored")
	msgs := natstest.Messages(t, srv.JS, streams.StreamPartner)
	require.Len(t, msgs, 1)
	assert.Equal(t, "partner.podium.contact.c-2", msgs[0].Subject)
	dead := natstest.Messages(t, srv.JS, streams.StreamDLQ)
	require.Len(t, dead, 1)
	assert.Contains(t, dead[0].Header.Get(streams.HeaderDLQReason), "at most")
	assert.Equal(t, long, dead[0].Data, "the delivery is kept as the partner sent it")
}

// The body limit is what NATS's max payload leaves once the delivery is
// wrapped in its envelope: a delivery at the limit is stored, one byte
// over it is refused while the partner waits (413), never answered 200
// and then found unpublishable.
func TestTheBodyLimitLeavesRoomForTheEnvelope(t *testing.T) {
	srv, hs := gatewayWith(t, webhooks.Config{})
	limit := int(srv.NC.MaxPayload()) - webhooks.Envelope
	base := len(contactDelivery("c-1", "evt-1", 0))
	atLimit := contactDelivery("c-1", "evt-1", limit-base)
	require.Len(t, atLimit, limit)
	status, body := post(t, hs.URL, atLimit, sign(atLimit, now))
	assert.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "stored")
	over := contactDelivery("c-2", "evt-2", limit-base+1)
	status, body = post(t, hs.URL, over, sign(over, now))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, body)
	// NATS's own limit, the old default, is refused too.
	full := contactDelivery("c-3", "evt-3", int(srv.NC.MaxPayload())-base)
	status, _ = post(t, hs.URL, full, sign(full, now))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Len(t, natstest.Messages(t, srv.JS, streams.StreamPartner), 1)
}

// Podium does not document whether a retry is signed afresh: a retry that
// keeps its first timestamp, hours old, is stored (within MaxAge), and a
// replay of it changes nothing, since its event id is stored once.
func TestARetryWithItsFirstTimestampIsStoredOnce(t *testing.T) {
	srv, hs := gatewayWith(t, webhooks.Config{Podium: &webhooks.Verifier{MaxAge: 11 * 24 * time.Hour}})
	for _, age := range []time.Duration{8 * time.Hour, 8 * time.Hour, 9 * 24 * time.Hour} {
		status, body := post(t, hs.URL, contactUpdated, sign(contactUpdated, now.Add(-age)))
		assert.Equal(t, http.StatusOK, status, body)
	}
	status, _ := post(t, hs.URL, contactUpdated, sign(contactUpdated, now.Add(-12*24*time.Hour)))
	assert.Equal(t, http.StatusUnauthorized, status, "older than the max age")
	status, _ = post(t, hs.URL, contactUpdated, sign(contactUpdated, now.Add(time.Hour)))
	assert.Equal(t, http.StatusUnauthorized, status, "ahead of the clock by more than the tolerance")
	assert.Len(t, natstest.Messages(t, srv.JS, streams.StreamPartner), 1)
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
		// Signed but unusable: kept in the DLQ and answered 200, since any
		// other answer has Podium pause the webhook's later events behind it.
		{"malformed body, signed", bad, sign(bad, now), http.StatusOK, true},
		{"contact without uid", noID, sign(noID, now), http.StatusOK, true},
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

// The gateway's /healthz fails once its NATS connection is closed: it can
// no longer store a delivery.
func TestHealthzFailsOnAClosedConnection(t *testing.T) {
	srv, hs := gateway(t)
	resp, err := http.Get(hs.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	srv.NC.Close()
	resp, err = http.Get(hs.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}
