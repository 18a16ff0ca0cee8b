package partnerapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/connectors/partnerapi"
	"github.com/edgesync/edgesync/internal/lane"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestRetry(t *testing.T) {
	apiErr := func(status int) error { return &partnerapi.Error{Partner: "p", Status: status} }
	tests := []struct {
		name     string
		answers  []error
		attempts int
		ok       bool
	}{
		{"success first time", []error{nil}, 1, true},
		{"5xx then success", []error{apiErr(503), apiErr(500), nil}, 3, true},
		{"429 then success", []error{apiErr(429), nil}, 2, true},
		{"a network error is retried", []error{errors.New("connection reset"), nil}, 2, true},
		{"a 401 is retried once to refresh the token", []error{apiErr(401), nil}, 2, true},
		{"a second 401 is final", []error{apiErr(401), apiErr(401), nil}, 2, false},
		{"a refused request is final", []error{apiErr(400), nil}, 1, false},
		{"a 404 is final", []error{apiErr(404), nil}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := partnerapi.Retry(context.Background(), quiet, "test call", 10*time.Second, func(context.Context) (time.Duration, error) {
				n++
				return 0, tt.answers[n-1]
			})
			assert.Equal(t, tt.attempts, n)
			assert.Equal(t, tt.ok, err == nil, "err: %v", err)
		})
	}
}

func TestRetryHonoursRetryAfterAndContext(t *testing.T) {
	start, n := time.Now(), 0
	err := partnerapi.Retry(context.Background(), quiet, "test call", 10*time.Second, func(context.Context) (time.Duration, error) {
		if n++; n == 1 {
			return 1500 * time.Millisecond, &partnerapi.Error{Status: http.StatusTooManyRequests}
		}
		return 0, nil
	})
	assert.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 1500*time.Millisecond, "waits at least as long as Retry-After says")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = partnerapi.Retry(ctx, quiet, "test call", 10*time.Second, func(context.Context) (time.Duration, error) {
		return 0, errors.New("down")
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "test call")
}

func TestRetryAfterHeader(t *testing.T) {
	h := http.Header{}
	assert.Zero(t, partnerapi.RetryAfter(h))
	h.Set("Retry-After", "7")
	assert.Equal(t, 7*time.Second, partnerapi.RetryAfter(h))
	h.Set("Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT")
	assert.Zero(t, partnerapi.RetryAfter(h), "an HTTP date falls back to the backoff")
}

// A partner answering a redirect (a base URL on http://, an old host) is a
// configuration error: the call is not followed, since Go's client would
// turn the POST into a GET, nor retried, and the error says what to fix.
func TestARedirectIsNeverFollowedNorRetried(t *testing.T) {
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.Method+" "+r.URL.Path)
		http.Redirect(w, r, "https://api.example.com/v4/contacts?token=x", http.StatusMovedPermanently)
	}))
	defer srv.Close()
	err := partnerapi.Retry(context.Background(), quiet, "podium POST /v4/contacts", 10*time.Second, func(ctx context.Context) (time.Duration, error) {
		_, _, _, err := partnerapi.Send(ctx, http.DefaultClient, partnerapi.Request{Partner: "podium", Method: http.MethodPost, URL: srv.URL + "/v4/contacts",
			Path: "/v4/contacts", Body: []byte(`{}`), Timeout: time.Second})
		return 0, err
	})
	var redirect *partnerapi.RedirectError
	require.ErrorAs(t, err, &redirect)
	assert.Equal(t, []string{"POST /v4/contacts"}, calls, "one call, not followed as a GET, not retried")
	assert.EqualError(t, err, "podium POST /v4/contacts: answered 301 Moved Permanently to https://api.example.com/v4/contacts: "+
		"API calls do not follow redirects; set the podium base URL to the address it points to")
}

// Four workers carrying bulk work never put more than one reservation
// ahead of a live call, and leave the bucket's burst to live calls:
// counted in tokens granted, not in time.
func TestALiveCallFindsAtMostOneBulkCallAhead(t *testing.T) {
	lim := partnerapi.NewLimiter(120, 6*time.Second) // a token every ~50ms
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	bulk := lane.WithBulk(ctx)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for lim.Wait(bulk) == nil {
				granted.Add(1)
			}
		})
	}
	require.Eventually(t, func() bool { return granted.Load() > 8 }, 10*time.Second, time.Millisecond, "the burst is spent")
	for range 5 {
		before := granted.Load()
		require.NoError(t, lim.Wait(context.Background()))
		// One bulk call may have reserved before the live one asked, and
		// one may have been granted without yet counting itself.
		assert.LessOrEqual(t, granted.Load()-before, int64(2))
	}
	// A live change's few calls find the burst left to them: three in a
	// row, and the bulk work gets no token in between.
	time.Sleep(300 * time.Millisecond) // the bucket refills; bulk takes only a full bucket's token
	before := granted.Load()
	for range 3 {
		require.NoError(t, lim.Wait(context.Background()))
	}
	assert.LessOrEqual(t, granted.Load()-before, int64(1), "bulk took tokens the live calls needed")
	stop()
	wg.Wait()
}
