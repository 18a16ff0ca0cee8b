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
	// HeaderLane is LaneBulk on what capture's snapshots publish (a
	// store's initial upload, a re-snapshot) and absent on live changes:
	// connectors serve live changes first. A subscriber that does not
	// care ignores it.
	HeaderLane = "edgesync-lane"
)

// LaneBulk is HeaderLane's value for bulk work.
const LaneBulk = "bulk"

// Envelope wraps every event. For Edge events Data holds the whole aggregate.
type Envelope struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`   // edge.<entity>.changed | edge.<entity>.deleted
	Source  string          `json:"source"` // edgesync/capture/<site>
	Time    time.Time       `json:"time"`
	Store   string          `json:"store"`
	Key     string          `json:"key"`
	Version int64           `json:"version"`          // Edge change version of this state
	Epoch   int64           `json:"epoch,omitempty"`  // capture epoch: 0, then one more at each restore of the Edge database
	Origin  string          `json:"origin,omitempty"` // partner whose write caused the change; empty for Edge users
	Data    json.RawMessage `json:"data"`
}

// EdgeEventID is the deterministic identity of one state of one aggregate. It
// doubles as Nats-Msg-Id, so republishing the same change is a no-op. After
// a restore of the Edge database, change versions start again from the
// backup's; the epoch keeps those new states from being taken for
// duplicates of the old ones: "<entity>:<key>:<version>" in epoch 0,
// "<entity>:<key>:<version>@<epoch>" after.
func EdgeEventID(entity Entity, key string, version, epoch int64) string {
	id := string(entity) + ":" + key + ":" + strconv.FormatInt(version, 10)
	if epoch > 0 {
		id += "@" + strconv.FormatInt(epoch, 10)
	}
	return id
}

// Supersedes reports whether the event is a later state of its aggregate
// than the one at (epoch, version): a later epoch always is, whatever its
// version, because a restore took versions back.
func (e Envelope) Supersedes(epoch, version int64) bool {
	return e.Epoch > epoch || e.Epoch == epoch && e.Version > version
}

// EdgeEventType returns "edge.<entity>.<op>".
func EdgeEventType(entity Entity, deleted bool) string {
	if deleted {
		return EdgePrefix + "." + string(entity) + "." + OpDeleted
	}
	return EdgePrefix + "." + string(entity) + "." + OpChanged
}

// EdgeEvent is one state of one aggregate as capture publishes it.
type EdgeEvent struct {
	Source  string
	Entity  Entity
	Key     string
	Version int64
	Epoch   int64
	Origin  string
	Time    time.Time
	Data    any // the aggregate; nil for a deletion
}

// edgeWire is the envelope as it is encoded: Data is encoded straight from
// the aggregate, so each event is marshalled once, not into a RawMessage
// first and compacted again inside the envelope.
type edgeWire struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Source  string    `json:"source"`
	Time    time.Time `json:"time"`
	Store   string    `json:"store"`
	Key     string    `json:"key"`
	Version int64     `json:"version"`
	Epoch   int64     `json:"epoch,omitempty"`
	Origin  string    `json:"origin,omitempty"`
	Data    any       `json:"data"`
}

// Msg encodes the event as the NATS message capture publishes on its
// subject, with the CloudEvents headers and Nats-Msg-Id.
func (e EdgeEvent) Msg() (*nats.Msg, error) {
	subj, err := EdgeSubjectFor(e.Entity, e.Key)
	if err != nil {
		return nil, err
	}
	w := edgeWire{
		ID: EdgeEventID(e.Entity, e.Key, e.Version, e.Epoch), Type: EdgeEventType(e.Entity, e.Data == nil),
		Source: e.Source, Time: e.Time.UTC(), Store: subj.Store, Key: e.Key, Version: e.Version, Epoch: e.Epoch,
		Origin: e.Origin, Data: e.Data,
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", e.Entity, e.Key, err)
	}
	return newMsg(subj.String(), body, w.ID, w.Type, w.Source, w.Time, w.Origin), nil
}

// NewEdgeEnvelope builds the envelope of one aggregate state in epoch 0.
// data is nil for a deletion.
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
		ID:      EdgeEventID(entity, key, version, 0),
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
	return newMsg(subject, body, e.ID, e.Type, e.Source, e.Time, e.Origin), nil
}

func newMsg(subject string, body []byte, id, typ, source string, at time.Time, origin string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set(HeaderSpecVersion, SpecVersion)
	m.Header.Set(HeaderID, id)
	m.Header.Set(HeaderType, typ)
	m.Header.Set(HeaderSource, source)
	m.Header.Set(HeaderTime, at.Format(time.RFC3339Nano))
	m.Header.Set(HeaderMsgID, id)
	if origin != "" {
		m.Header.Set(HeaderOrigin, origin)
	}
	return m
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
