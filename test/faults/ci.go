//go:build !faults

package faults

// full is false: CI runs the bounded subset (ciPlan).
const full = false

var fullPlan = ciPlan
