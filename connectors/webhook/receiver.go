package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxBody bounds a delivery a Receiver reads: an Edge aggregate is far
// smaller (capture refuses rows beyond schemas' bounds).
const maxBody = 4 << 20

// Receiver is the receiving end for a Go program: it verifies each
// delivery (signature, timestamp within Tolerance), decodes the
// CloudEvent and hands it to Take. A delivery may come twice (a retry
// after a lost answer): Take keeps an event once by its ID.
type Receiver struct {
	Secrets   []string      // the secret; two during a rotation
	Tolerance time.Duration // 5 minutes when zero
	// Take keeps one event; an error answers 500, and the connector
	// retries it.
	Take func(r *http.Request, ev Event) error
}

func (rc Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, fmt.Sprintf("read the delivery: %v", err), http.StatusRequestEntityTooLarge)
		return
	}
	tol := rc.Tolerance
	if tol == 0 {
		tol = 5 * time.Minute
	}
	if err := Verify(r.Header, body, time.Now(), tol, rc.Secrets...); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	ev, err := decodeEvent(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := rc.Take(r, ev); err != nil {
		http.Error(w, "the receiver could not keep the event; it is sent again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func decodeEvent(body []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, fmt.Errorf("not a CloudEvent: %w", err)
	}
	if ev.SpecVersion != "1.0" || ev.ID == "" || ev.Type == "" || ev.Source == "" {
		return ev, errors.New("not a CloudEvent 1.0: specversion, id, type and source are required")
	}
	return ev, nil
}
