package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeyedBy(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		edge func(string) bool
		want map[string]string
	}{
		{"connector's orientation", map[string]string{"001": "st_1", "002": "st_2"}, isStore, map[string]string{"st_1": "001", "st_2": "002"}},
		{"writer's orientation", map[string]string{"st_1": "001"}, isStore, map[string]string{"st_1": "001"}},
		{"a bad store stays for checkStores to report", map[string]string{"loc": "12"}, isStore, map[string]string{"loc": "12"}},
		{"preferences", map[string]string{"Key1": "Ring Size", "Metal": "Key2"}, isCustomField, map[string]string{"Ring Size": "Key1", "Metal": "Key2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, keyedBy(tt.in, tt.edge))
		})
	}
}
