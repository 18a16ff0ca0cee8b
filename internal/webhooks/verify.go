package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Verifier checks a delivery's signature against a shared secret.
type Verifier struct {
	Secret string
	// Tolerance is how far the delivery's timestamp may be ahead of now
	// (clock skew), and behind it when MaxAge is zero.
	Tolerance time.Duration
	// MaxAge is how old a delivery's timestamp may be. Podium documents
	// neither whether a retry is signed afresh nor a replay window, and it
	// retries for about 8 hours and queues events for about 10 days while
	// a webhook is disabled: a retry may carry its first timestamp. An old
	// delivery is therefore accepted up to MaxAge, and a replay of one
	// changes nothing: it has the same event id (Nats-Msg-Id), which the
	// stream's dedupe window and the Edge writer's ledger refuse a second
	// time (docs/invariants.md, invariant 12).
	MaxAge time.Duration
	// TimestampHeader and SignatureHeader name the headers; Millis says the
	// timestamp counts milliseconds (Podium) rather than seconds.
	TimestampHeader string
	SignatureHeader string
	Millis          bool
	// AcceptBase64 also accepts a base64 digest: Podium does not document
	// the encoding, and lowercase hex is what its examples suggest.
	AcceptBase64 bool
}

// PodiumVerifier verifies podium-timestamp and podium-signature: HMAC-SHA256
// over "<timestamp>.<body>".
func PodiumVerifier(secret string, tolerance time.Duration) Verifier {
	return Verifier{Secret: secret, Tolerance: tolerance, TimestampHeader: "podium-timestamp", SignatureHeader: "podium-signature", Millis: true, AcceptBase64: true}
}

// ClientbookVerifier verifies clientbook-timestamp (seconds) and
// clientbook-signature, the same construction (docs/clientbook-api.md).
func ClientbookVerifier(secret string, tolerance time.Duration) Verifier {
	return Verifier{Secret: secret, Tolerance: tolerance, TimestampHeader: "clientbook-timestamp", SignatureHeader: "clientbook-signature"}
}

// Verification failures; none of them repeats the secret or the expected
// signature.
var (
	ErrMissingSignature = errors.New("missing signature or timestamp header")
	ErrBadTimestamp     = errors.New("timestamp is not a number")
	ErrStale            = errors.New("timestamp older than the max age or ahead of the clock tolerance")
	ErrBadSignature     = errors.New("signature does not match")
)

// Verify checks h and body at time now.
func (v Verifier) Verify(h http.Header, body []byte, now time.Time) error {
	ts, sig := h.Get(v.TimestampHeader), strings.TrimSpace(h.Get(v.SignatureHeader))
	if ts == "" || sig == "" {
		return ErrMissingSignature
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	at := time.Unix(n, 0)
	if v.Millis {
		at = time.UnixMilli(n)
	}
	maxAge := v.MaxAge
	if maxAge <= 0 {
		maxAge = v.Tolerance
	}
	if d := now.Sub(at); d > maxAge || d < -v.Tolerance {
		return fmt.Errorf("%w: %s off", ErrStale, d.Round(time.Second))
	}
	mac := hmac.New(sha256.New, []byte(v.Secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	sig = strings.TrimPrefix(sig, "sha256=")
	if got, err := hex.DecodeString(sig); err == nil && hmac.Equal(got, want) {
		return nil
	}
	if v.AcceptBase64 {
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}
