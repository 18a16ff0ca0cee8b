package partnerapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A failing streak starts at the first answer that fails every call alike
// and ends at the next success; one record's refusal neither starts nor
// ends it.
func TestCallsFailingSince(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		failing  bool
	}{
		{"all ok", []int{200, 201}, false},
		{"5xx", []int{200, 500}, true},
		{"no answer", []int{0}, true},
		{"401", []int{401}, true},
		{"429", []int{429}, true},
		{"a record refused", []int{200, 422, 404}, false},
		{"refusal inside a streak", []int{500, 409}, true},
		{"recovered", []int{500, 503, 200}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Calls
			for _, s := range tt.statuses {
				c.record(s, "x")
			}
			assert.Equal(t, tt.failing, !c.Stats().FailingSince.IsZero())
		})
	}
}
