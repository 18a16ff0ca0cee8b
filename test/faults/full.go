//go:build faults

package faults

import "time"

// full: `go test -tags faults` (go tool task faults) runs the whole suite.
const full = true

var fullPlan = plan{kills: 20, natsKills: 10, partnerFor: 60 * time.Second, latency: 10 * time.Second, stormFor: 60 * time.Second, drops: 50, cuts: 5,
	minEvents: 50_000, changeEvery: 100 * time.Millisecond, perRound: 10}
