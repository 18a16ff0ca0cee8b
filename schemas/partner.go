package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// PartnerEnvelope wraps every event on partner.<partner>.<entity>.<id>: a
// partner's webhook as received, or an outcome a connector reports back
// (a text sent or failed).
type PartnerEnvelope struct {
	ID        string          `json:"id"`        // the partner's event id, or a deterministic one; also Nats-Msg-Id
	Type      string          `json:"type"`      // partner event type: contact.updated, message.sent, notification.outcome...
	Source    string          `json:"source"`    // edgesync/webhooks/podium, edgesync/connector/podium...
	Time      time.Time       `json:"time"`      // when edgesync received or produced it
	Partner   string          `json:"partner"`   // podium, clientbook
	Entity    string          `json:"entity"`    // the subject's entity token
	PartnerID string          `json:"partnerId"` // the subject's id token
	Data      json.RawMessage `json:"data"`
}

// Msg builds the NATS message of the envelope on its subject.
func (e PartnerEnvelope) Msg() (*nats.Msg, error) {
	subj, err := NewPartnerSubject(e.Partner, e.Entity, e.PartnerID)
	if err != nil {
		return nil, err
	}
	// Without HTML escaping: json.Marshal would write each <, > and & of
	// the partner's data as six bytes, and a delivery that fitted NATS's
	// max payload could then no longer fit in its envelope.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode partner event %s: %w", e.ID, err)
	}
	m := nats.NewMsg(subj.String())
	m.Data = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	m.Header.Set(HeaderSpecVersion, SpecVersion)
	m.Header.Set(HeaderID, e.ID)
	m.Header.Set(HeaderType, e.Type)
	m.Header.Set(HeaderSource, e.Source)
	m.Header.Set(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	m.Header.Set(HeaderMsgID, e.ID)
	return m, nil
}

// DecodePartnerEnvelope decodes and checks a partner event.
func DecodePartnerEnvelope(body []byte) (PartnerEnvelope, error) {
	var e PartnerEnvelope
	if err := json.Unmarshal(body, &e); err != nil {
		return PartnerEnvelope{}, fmt.Errorf("decode partner event: %w", err)
	}
	if e.ID == "" || e.Type == "" || e.Partner == "" {
		return PartnerEnvelope{}, fmt.Errorf("decode partner event: id, type and partner are required")
	}
	return e, nil
}

// NotificationOutcome is what a provider connector reports for an Edge
// text notification, so the Edge writer can record it.
type NotificationOutcome struct {
	NotificationKey string    `json:"notificationKey"`
	Status          string    `json:"status"` // SENT or FAILED
	Reason          string    `json:"reason,omitempty"`
	ProviderID      string    `json:"providerId,omitempty"` // the partner's message id
	At              time.Time `json:"at"`
}

// OutcomeEnvelope is the partner event a provider connector publishes for
// the outcome of the Edge notification event eventID, on
// partner.<partner>.notification.<key>.
func OutcomeEnvelope(partner, eventID string, o NotificationOutcome) PartnerEnvelope {
	data, _ := json.Marshal(o)
	return PartnerEnvelope{
		ID: partner + ":notification:" + eventID, Type: "notification.outcome", Source: "edgesync/connector/" + partner, Time: o.At,
		Partner: partner, Entity: "notification", PartnerID: o.NotificationKey, Data: data,
	}
}
