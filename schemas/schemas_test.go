package schemas_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
)

func TestEdgeSubjects(t *testing.T) {
	tests := []struct {
		entity  schemas.Entity
		key     string
		subject string
		wantErr string
	}{
		{schemas.EntityCustomer, "001-000652", "edge.customer.001.000652", ""},
		{schemas.EntityItem, "002-100-05199", "edge.item.002.100-05199", ""},
		{schemas.EntityService, "001-126396-002", "edge.service.001.126396-002", ""},
		{schemas.EntityCustomer, "000652", "", "want <store>-<id>"},
		{schemas.EntityCustomer, "01-000652", "", "three digits"},
		{schemas.EntityNote, "001-1.2", "", "not allowed"},
		{schemas.EntityCustomer, "001-" + strings.Repeat("9", 6000), "", "at most 256"},
		{"bogus", "001-1", "", "unknown entity"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			s, err := schemas.EdgeSubjectFor(tt.entity, tt.key)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.subject, s.String())
			back, err := schemas.ParseEdgeSubject(s.String())
			require.NoError(t, err)
			assert.Equal(t, tt.key, back.Key())
		})
	}
	for _, bad := range []string{"edge.customer.001", "partner.podium.contact.x", "edge.customer.001.a.b", "edge.customer.1.x"} {
		_, err := schemas.ParseEdgeSubject(bad)
		assert.Error(t, err, bad)
	}
}

func TestCustomerOf(t *testing.T) {
	tests := []struct {
		name, subject, body, want string
	}{
		{"a customer is its own", "edge.customer.001.000652", `{"data":{"customerKey":"001-9"}}`, "001-000652"},
		{"a sale is its customer's", "edge.sale.001.000077", `{"key":"001-77","data":{"customerKey":"001-000652"}}`, "001-000652"},
		{"a sold item is its buyer's", "edge.item.002.000010", `{"data":{"soldToCustomerKey":"002-000003"}}`, "002-000003"},
		{"a cash sale is its own", "edge.sale.001.000078", `{"data":{"customerKey":""}}`, "edge.sale.001.000078"},
		{"a delete is its own", "edge.note.001.000005", `{"type":"edge.note.deleted","data":null}`, "edge.note.001.000005"},
		{"a body that does not decode is its own", "edge.note.001.000006", `{"data":`, "edge.note.001.000006"},
		{"a subject that is not Edge's is itself", "partner.podium.contact.x", `{}`, "partner.podium.contact.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, schemas.CustomerOf(tt.subject, []byte(tt.body)))
		})
	}
}

func TestPartnerSubjects(t *testing.T) {
	s, err := schemas.NewPartnerSubject("podium", "contact", "6f1c2b1e-0000-4000-8000-000000000001")
	require.NoError(t, err)
	assert.Equal(t, "partner.podium.contact.6f1c2b1e-0000-4000-8000-000000000001", s.String())
	back, err := schemas.ParsePartnerSubject(s.String())
	require.NoError(t, err)
	assert.Equal(t, s, back)
	_, err = schemas.NewPartnerSubject("podium", "contact", "ada@example.com")
	assert.ErrorContains(t, err, "not allowed")
	// A 6,000-byte id would make a protocol line over the server's 4 KiB
	// max_control_line, and the server would close the connection.
	_, err = schemas.NewPartnerSubject("podium", "contact", strings.Repeat("a", 6000))
	assert.ErrorContains(t, err, "at most 256")
}

func validCustomerEvent(t *testing.T) []byte {
	t.Helper()
	c := schemas.Customer{
		Key: "001-000001", Store: "001", FirstName: "Ada", SyncEnabled: true, DateEntered: time.Now(),
		ContactMethods: []schemas.ContactMethod{{ID: 1, Method: schemas.MethodEmail, Value: "ada@example.com", Preferred: true}},
		CustomFields:   map[string]string{"Key1": "7"},
	}
	env, err := schemas.NewEdgeEnvelope("edgesync/capture/test", schemas.EntityCustomer, c.Key, 9, "", time.Now(), &c)
	require.NoError(t, err)
	body, err := json.Marshal(env)
	require.NoError(t, err)
	return body
}

// The schemas are strict: a broken event fails validation with a reason.
func TestValidateRejectsBrokenEvents(t *testing.T) {
	require.NoError(t, schemas.Validate(validCustomerEvent(t)))
	tests := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"missing key", func(m map[string]any) { delete(m, "key") }},
		{"unknown envelope field", func(m map[string]any) { m["extra"] = 1 }},
		{"bad store", func(m map[string]any) { m["store"] = "1" }},
		{"type of another entity", func(m map[string]any) { m["type"] = "edge.customer.exploded" }},
		{"no first name", func(m map[string]any) { delete(m["data"].(map[string]any), "firstName") }},
		{"custom field out of range", func(m map[string]any) {
			m["data"].(map[string]any)["customFields"] = map[string]any{"Key9": "x"}
		}},
		{"unknown contact method", func(m map[string]any) {
			m["data"].(map[string]any)["contactMethods"].([]any)[0].(map[string]any)["method"] = "FAX"
		}},
		{"time not a date-time", func(m map[string]any) { m["time"] = "yesterday" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(validCustomerEvent(t), &m))
			tt.mutate(m)
			body, _ := json.Marshal(m)
			assert.Error(t, schemas.Validate(body))
		})
	}
	assert.Error(t, schemas.Validate([]byte(`{"type":"partner.podium.contact"}`)))
	assert.Error(t, schemas.Validate([]byte(`not json`)))
}

func TestEnvelopeHeaders(t *testing.T) {
	env, err := schemas.NewEdgeEnvelope("src", schemas.EntityNote, "001-5", 3, "clientbook", time.Unix(0, 0), nil)
	require.NoError(t, err)
	assert.True(t, env.Deleted())
	assert.Equal(t, "edge.note.deleted", env.Type)
	m, err := env.Msg("edge.note.001.5")
	require.NoError(t, err)
	assert.Equal(t, "note:001-5:3", m.Header.Get("Nats-Msg-Id"))
	assert.Equal(t, "note:001-5:3", m.Header.Get(schemas.HeaderID))
	assert.Equal(t, "clientbook", m.Header.Get(schemas.HeaderOrigin))
	require.NoError(t, schemas.Validate(m.Data))
}

func FuzzParseEdgeSubject(f *testing.F) {
	for _, s := range []string{"edge.customer.001.000652", "edge.item.002.100-05199", "edge..001.x", "edge.customer.001.>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		subj, err := schemas.ParseEdgeSubject(s)
		if err != nil {
			return
		}
		if subj.String() != s {
			t.Fatalf("round trip %q -> %q", s, subj.String())
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"id":"customer:001-1:1","type":"edge.customer.changed","source":"s","time":"2026-01-01T00:00:00Z","store":"001","key":"001-1","version":1,"data":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := schemas.DecodeEnvelope(body)
		if err == nil && (env.ID == "" || env.Key == "") {
			t.Fatal("decoded an envelope without id or key")
		}
		_ = schemas.Validate(body) // must not panic
	})
}
