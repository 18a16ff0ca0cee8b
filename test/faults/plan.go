// Package faults makes edgesync fail the way deployments do, with every
// role its own process (test/fleet): kill -9 of each role, the NATS server
// a role is on dying under R3 streams, partners answering 5xx, 429 storms,
// slow answers and dropped connections, and the Edge simulator's
// connection cut mid-snapshot. Edge changes and partner-side edits flow
// the whole time. After each trial the partners' and the simulator's own
// records are compared, and lost or duplicated effects fail the test with
// the seed that reruns it.
//
// CI runs one trial of each fault; `go tool task faults` (-tags faults)
// runs the full suite: 20 kills per role, each partner fault at full
// length, and at least 50,000 events.
package faults

import "time"

// plan is how much of each fault a run makes.
type plan struct {
	kills       int           // per role
	natsKills   int           // of a NATS server
	partnerFor  time.Duration // how long a partner keeps failing
	latency     time.Duration // of the slow partner
	stormFor    time.Duration // how long a partner answers every call 429
	drops       int           // answers dropped mid-response per trial
	cuts        int           // snapshots cut
	minEvents   int           // Edge changes the whole run makes at least
	changeEvery time.Duration // the load: one round of changes per interval
	perRound    int           // Edge changes in a round
	ciPicks     int           // CI: trials picked at random besides the snapshot cut
}

// ciPlan is the bounded subset CI runs; fullPlan (faults tag) the rest.
var ciPlan = plan{kills: 1, natsKills: 1, partnerFor: 10 * time.Second, latency: 10 * time.Second, stormFor: 15 * time.Second, drops: 10, cuts: 1,
	minEvents: 1000, changeEvery: 100 * time.Millisecond, perRound: 10, ciPicks: 4}
