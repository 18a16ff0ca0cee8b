package schemas

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Event type suffixes: an Edge aggregate is either changed (the event holds its
// whole current state) or deleted (Data is null).
const (
	OpChanged = "changed"
	OpDeleted = "deleted"
)

// SpecVersion is the CloudEvents version the headers follow.
const SpecVersion = "1.0"

// CloudEvents NATS binding headers, plus JetStream's dedupe header.
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderType        = "ce-type"
	HeaderSource      = "ce-source"
	HeaderTime        = "ce-time"
	HeaderOrigin      = "edgesync-origin"
	HeaderMsgID       = nats.MsgIdHdr
)

// Envelope wraps every event. For Edge events Data holds the whole aggregate.
type Envelope struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`   // edge.<entity>.changed | edge.<entity>.deleted
	Source  string          `json:"source"` // edgesync/capture/<site>
	Time    time.Time       `json:"time"`
	Store   string          `json:"store"`
	Key     string          `json:"key"`
	Version int64           `json:"version"`          // Edge change version of this state
	Origin  string          `json:"origin,omitempty"` // partner whose write caused the change; empty for Edge users
	Data    json.RawMessage `json:"data"`
}

// EdgeEventID is the deterministic identity of one state of one aggregate. It
// doubles as Nats-Msg-Id, so republishing the same change is a no-op.
func EdgeEventID(entity Entity, key string, version int64) string {
	return string(entity) + ":" + key + ":" + strconv.FormatInt(version, 10)
}

// EdgeEventType returns "edge.<entity>.<op>".
func EdgeEventType(entity Entity, deleted bool) string {
	if deleted {
		return EdgePrefix + "." + string(entity) + "." + OpDeleted
	}
	return EdgePrefix + "." + string(entity) + "." + OpChanged
}

// NewEdgeEnvelope builds the envelope of one aggregate state. data is nil for a
// deletion.
func NewEdgeEnvelope(source string, entity Entity, key string, version int64, origin string, at time.Time, data any) (Envelope, error) {
	subj, err := EdgeSubjectFor(entity, key)
	if err != nil {
		return Envelope{}, err
	}
	raw := json.RawMessage("null")
	if data != nil {
		if raw, err = json.Marshal(data); err != nil {
			return Envelope{}, fmt.Errorf("encode %s %s: %w", entity, key, err)
		}
	}
	return Envelope{
		ID:      EdgeEventID(entity, key, version),
		Type:    EdgeEventType(entity, data == nil),
		Source:  source,
		Time:    at.UTC(),
		Store:   subj.Store,
		Key:     key,
		Version: version,
		Origin:  origin,
		Data:    raw,
	}, nil
}

// Deleted reports whether the envelope records a deletion.
func (e Envelope) Deleted() bool {
	return len(e.Data) == 0 || string(e.Data) == "null"
}

// Msg builds the NATS message of the envelope for subject.
func (e Envelope) Msg(subject string) (*nats.Msg, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode envelope %s: %w", e.ID, err)
	}
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set(HeaderSpecVersion, SpecVersion)
	m.Header.Set(HeaderID, e.ID)
	m.Header.Set(HeaderType, e.Type)
	m.Header.Set(HeaderSource, e.Source)
	m.Header.Set(HeaderTime, e.Time.Format(time.RFC3339Nano))
	m.Header.Set(HeaderMsgID, e.ID)
	if e.Origin != "" {
		m.Header.Set(HeaderOrigin, e.Origin)
	}
	return m, nil
}

// DecodeEnvelope decodes a message body into an envelope and checks the
// fields every consumer relies on.
func DecodeEnvelope(body []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return Envelope{}, fmt.Errorf("decode envelope: %w", err)
	}
	if e.ID == "" || e.Type == "" || e.Key == "" {
		return Envelope{}, fmt.Errorf("decode envelope: id, type and key are required")
	}
	return e, nil
}

// Aggregate decodes the aggregate an event carries; nil for a delete.
func Aggregate[T any](e Envelope) (*T, error) {
	if e.Deleted() {
		return nil, nil
	}
	v := new(T)
	if err := e.DecodeData(v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeData decodes the aggregate of an envelope into v.
func (e Envelope) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s data: %w", e.Type, err)
	}
	return nil
}
