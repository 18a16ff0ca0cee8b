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
	// Tolerance is how far the delivery's timestamp may be from now; older
	// deliveries are refused as replays.
	Tolerance time.Duration
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
	ErrStale            = errors.New("timestamp outside the tolerance window (a replayed delivery?)")
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
	if d := now.Sub(at); d > v.Tolerance || d < -v.Tolerance {
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
