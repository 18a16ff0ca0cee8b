package webhooks

import (
	"errors"
	"testing"
)

func FuzzParsePodium(f *testing.F) {
	f.Add([]byte(`{"data":{"after":{"uid":"c-1"}},"metadata":{"event_type":"contact.updated","event_uid":"e"}}`))
	f.Add([]byte(`{"data":{"uid":"m-1","body":"hi"},"metadata":{"event_type":"message.sent"}}`))
	f.Add([]byte(`{"data":null,"metadata":{}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parsePodium(body)
		if err != nil {
			return
		}
		if d.id == "" || d.entity == "" || d.typ == "" {
			t.Fatalf("parsed a delivery without id, entity or type: %+v", d)
		}
	})
}

func FuzzParseClientbook(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","type":"client.updated","data":{"id":"cl_1"}}`))
	f.Add([]byte(`{"id":"evt_2","type":"invoice.paid","data":{"id":"x"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseClientbook(body)
		if err != nil {
			if errors.Is(err, errUnknownType) {
				return
			}
			return
		}
		if d.id == "" || d.eventID == "" || d.entity == "" {
			t.Fatalf("parsed a delivery without ids: %+v", d)
		}
	})
}
