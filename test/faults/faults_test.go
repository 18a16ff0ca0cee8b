package faults

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/sim/emulator"
	"github.com/edgesync/edgesync/test/fleet"
)

// tally is one fault's outcome over its trials.
type tally struct {
	trials, lost, duplicated, unmatched, edgeDuplicates, deadLetters int
	recovery                                                         []time.Duration
}

func (t tally) worst() time.Duration {
	var w time.Duration
	for _, r := range t.recovery {
		w = max(w, r)
	}
	return w
}

func (t tally) median() time.Duration {
	if len(t.recovery) == 0 {
		return 0
	}
	rs := append([]time.Duration(nil), t.recovery...)
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	return rs[len(rs)/2]
}

// suite is one run.
type suite struct {
	t        *testing.T
	f        *fleet.Fleet
	rng      *rand.Rand
	seed     uint64
	p        plan
	tallies  map[string]*tally
	order    []string
	baseline int // Edge duplicate emails the generated chain has

	loadMu  sync.Mutex
	changes int // Edge changes asked for
	edits   int // partner-side edits asked for
}

func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes many times; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("EDGESYNC_FAULTS_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "EDGESYNC_FAULTS_SEED")
	}
	p := ciPlan
	if full {
		p = fullPlan
	}
	t.Logf("seed %d (rerun with EDGESYNC_FAULTS_SEED=%d)", seed, seed)
	s := &suite{t: t, rng: rand.New(rand.NewPCG(seed, 1)), seed: seed, p: p, tallies: map[string]*tally{}}
	start := time.Now()
	// The emulators are never killed here (the crash suite kills them), so
	// they keep their state in memory: written whole before every answer,
	// as a killed one needs, it grew with the run until the emulators, not
	// the pipeline, set the pace (docs/faults.md, "Recovery times").
	s.f = fleet.Start(t, fleet.Options{Servers: 3, CustomersPerStore: 150, Seed: seed, NoPersist: true})
	ctx := context.Background()
	chk, took := s.f.WaitCaughtUp(ctx, catchUp)
	s.baseline = chk.EdgeDuplicates
	t.Logf("initial upload on a 3-server cluster: %s, in %s", chk, took.Round(time.Millisecond))

	trials := []trialSpec{{name: "edge connection cut mid-snapshot", n: s.p.cuts, run: s.cutSnapshot}}
	for _, role := range fleet.Roles {
		trials = append(trials, trialSpec{name: "kill -9 " + role, n: s.p.kills, run: func(ctx context.Context) (time.Time, error) { return s.kill(ctx, role) }})
	}
	trials = append(trials, trialSpec{name: "kill -9 the NATS server a role is on (R3)", n: s.p.natsKills, run: s.killNATS})
	for _, partner := range []string{"podium", "clientbook"} {
		for _, pf := range []struct {
			name string
			f    emulator.FaultsJSON
			d    time.Duration
		}{
			{"5xx for " + s.p.partnerFor.String(), emulator.FaultsJSON{ErrorRate: 1}, s.p.partnerFor},
			{"429 storm for " + s.p.stormFor.String(), emulator.FaultsJSON{Burst429: 1 << 30, RetryAfter: 1}, s.p.stormFor},
			{s.p.latency.String() + " latency", emulator.FaultsJSON{Latency: s.p.latency.String()}, s.p.latency * 2},
			{"connections dropped mid-answer", emulator.FaultsJSON{Drop: s.p.drops}, 0},
		} {
			// The load goes on through the fault: what the partner did not
			// take queues, at the load's rate, and drains at the
			// connector's, about a third of it on this bed.
			// Dropped answers are retried with a growing backoff, one
			// call at a time for Podium: each drop costs about 10 s.
			patience := catchUp + 4*pf.d + time.Duration(pf.f.Drop)*10*time.Second
			trials = append(trials, trialSpec{name: partner + " " + pf.name, n: 1, run: s.partnerFault(partner, pf.f, pf.d), patience: patience})
		}
	}
	if only := os.Getenv("EDGESYNC_FAULTS_ONLY"); only != "" {
		// Rerun some faults only: a regular expression on their names.
		re, err := regexp.Compile(only)
		require.NoError(t, err, "EDGESYNC_FAULTS_ONLY")
		trials = slices.DeleteFunc(trials, func(tr trialSpec) bool { return !re.MatchString(tr.name) })
		s.p.minEvents = 0
	} else if !full {
		// CI: the cut, then a seeded pick of the others, one trial each;
		// across runs every fault gets its turn.
		s.rng.Shuffle(len(trials)-1, func(i, j int) { trials[i+1], trials[j+1] = trials[j+1], trials[i+1] })
		trials = trials[:1+s.p.ciPicks]
	}
	for _, tr := range trials {
		s.trial(ctx, tr)
	}
	// The rest of the events the plan asks for, under random kills.
	for extra := 0; s.changesMade() < s.p.minEvents; extra++ {
		role := fleet.Roles[s.rng.IntN(len(fleet.Roles))]
		s.trial(ctx, trialSpec{name: "kill -9 " + role, n: 1, run: func(ctx context.Context) (time.Time, error) { return s.kill(ctx, role) }})
	}
	s.report(time.Since(start))
	// Every role did its work as its own NATS user (deploy/nats-server.conf)
	// without being refused anything: a refusal a role survives (capture
	// once re-snapshotted at every restart for one) shows only here.
	for name, p := range s.f.Procs() {
		assert.NotContains(t, p.Logs(), "Permissions Violation", "%s was refused by NATS", name)
	}
}

// trialSpec is a fault and how many trials of it to make.
type trialSpec struct {
	name string
	n    int
	run  func(context.Context) (time.Time, error) // makes the fault and repairs it; returns when repaired
	// patience is how long the pipeline may take to catch up after the
	// repair before the trial fails; catchUp when zero.
	patience time.Duration
}

// catchUp is how long a trial waits for the pipeline after a repair.
const catchUp = 3 * time.Minute

// trial runs fault n times, each under load, and tallies what the
// records show once the pipeline caught up.
func (s *suite) trial(ctx context.Context, tr trialSpec) {
	name, fault := tr.name, tr.run
	tl := s.tallies[name]
	if tl == nil {
		tl = &tally{}
		s.tallies[name] = tl
		s.order = append(s.order, name)
	}
	for range tr.n {
		loadCtx, stopLoad := context.WithCancel(ctx)
		loadDone := make(chan struct{})
		go func() { defer close(loadDone); s.load(loadCtx) }()
		s.sleep(300, 2000)
		repaired, err := fault(ctx)
		s.sleep(200, 1000)
		stopLoad()
		<-loadDone
		require.NoError(s.t, err, "%s (seed %d)", name, s.seed)
		chk, _ := s.f.WaitCaughtUp(ctx, cmp.Or(tr.patience, catchUp))
		tl.trials++
		tl.recovery = append(tl.recovery, time.Since(repaired))
		s.t.Logf("%s, trial %d: caught up %s after the repair; %d Edge changes so far", name, tl.trials,
			time.Since(repaired).Round(100*time.Millisecond), s.changesMade())
		for _, e := range []*struct{ lost, dup, un int }{
			{chk.Podium.Lost, chk.Podium.Duplicated, chk.Podium.Unmatched},
			{chk.Clientbook.Lost, chk.Clientbook.Duplicated, chk.Clientbook.Unmatched},
			{chk.ClientbookPurchases.Lost + chk.ClientbookPurchases.Stale, 0, 0},
		} {
			tl.lost += e.lost
			tl.duplicated += e.dup
			tl.unmatched += e.un
		}
		tl.edgeDuplicates = chk.EdgeDuplicates - s.baseline
		tl.deadLetters = s.f.DeadLetters(ctx)
		if tl.lost+tl.duplicated+tl.unmatched+tl.edgeDuplicates+tl.deadLetters > 0 {
			s.report(0)
			s.t.Fatalf("%s, trial %d: %s, %d dead letters (rerun with EDGESYNC_FAULTS_SEED=%d)", name, tl.trials, chk, tl.deadLetters, s.seed)
		}
	}
}

// load makes Edge changes and partner-side edits at a steady pace until
// ctx ends; a failed request (the simulator being restarted) is retried
// on the next tick.
func (s *suite) load(ctx context.Context) {
	tick := time.NewTicker(s.p.changeEvery)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		edits := 0
		if n%10 == 0 {
			edits = 1
		}
		if err := s.f.Changes(ctx, s.p.perRound, edits, edits); err == nil {
			s.loadMu.Lock()
			s.changes += s.p.perRound
			s.edits += 2 * edits
			s.loadMu.Unlock()
		}
	}
}

func (s *suite) changesMade() int {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	return s.changes
}

func (s *suite) sleep(minMS, maxMS int) {
	time.Sleep(time.Duration(minMS+s.rng.IntN(maxMS-minMS)) * time.Millisecond)
}

// kill kills a role with SIGKILL at a random moment and starts it again
// after a random pause, as a supervisor would.
func (s *suite) kill(_ context.Context, role string) (time.Time, error) {
	p := s.f.Proc(role)
	p.Kill()
	s.sleep(0, 1500)
	return time.Now(), p.Start()
}

// killNATS kills the server a role (picked at random) is connected to;
// every stream and bucket has a replica on each of the three.
func (s *suite) killNATS(context.Context) (time.Time, error) {
	role := fleet.Roles[s.rng.IntN(len(fleet.Roles))]
	i := s.f.ServerOf(fleet.ConnName(role))
	if i < 0 {
		return time.Now(), fmt.Errorf("no server has %s's connection", role)
	}
	p := s.f.NATS[i]
	s.t.Logf("killing %s, the server %s is on", p.Name, role)
	p.Kill()
	s.sleep(2000, 6000)
	return time.Now(), p.Start()
}

// partnerFault makes a partner fail; for d, or until the burst is spent.
func (s *suite) partnerFault(partner string, f emulator.FaultsJSON, d time.Duration) func(context.Context) (time.Time, error) {
	return func(ctx context.Context) (time.Time, error) {
		admin := map[string]emulator.Admin{"podium": s.f.Podium, "clientbook": s.f.Clientbook}[partner]
		if err := admin.SetFaults(ctx, f); err != nil {
			return time.Now(), err
		}
		if d > 0 {
			time.Sleep(d) // the trial's load goes on while the partner fails
			return time.Now(), admin.SetFaults(ctx, emulator.FaultsJSON{})
		}
		return time.Now(), nil
	}
}

// cutSnapshot makes capture take a new snapshot (its checkpoints gone, as
// after a restore of its bucket) and cuts the simulator's connection to it
// partway through.
func (s *suite) cutSnapshot(ctx context.Context) (time.Time, error) {
	p := s.f.Proc(fleet.Capture)
	p.Stop()
	kv, err := s.f.JetStream().KeyValue(ctx, "edgesync-checkpoints")
	if err != nil {
		return time.Now(), fmt.Errorf("checkpoints bucket: %w", err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return time.Now(), err
	}
	for k := range keys.Keys() {
		if strings.HasPrefix(k, "fleet.") {
			if err := kv.Delete(ctx, k); err != nil {
				return time.Now(), err
			}
		}
	}
	if err := s.f.Edge.SetFaults(ctx, edgesim.ServeFaults{CutSnapshotAfter: 50 + s.rng.IntN(200)}); err != nil {
		return time.Now(), err
	}
	return time.Now(), p.Start()
}

// report prints, per fault: trials, effects lost and duplicated, Edge
// writes duplicated, dead letters, and the recovery time from the repair
// (a restart, the partner healthy again) to everything caught up.
func (s *suite) report(total time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-42s %6s %5s %10s %9s %10s %5s %9s %9s\n", "fault", "trials", "lost", "duplicated", "unmatched", "edge dups", "dlq", "recovery", "worst")
	for _, name := range s.order {
		tl := s.tallies[name]
		fmt.Fprintf(&b, "%-42s %6d %5d %10d %9d %10d %5d %9s %9s\n", name, tl.trials, tl.lost, tl.duplicated, tl.unmatched, tl.edgeDuplicates,
			tl.deadLetters, tl.median().Round(100*time.Millisecond), tl.worst().Round(100*time.Millisecond))
	}
	s.loadMu.Lock()
	fmt.Fprintf(&b, "Edge changes made: %d; partner-side edits: %d; seed %d", s.changes, s.edits, s.seed)
	s.loadMu.Unlock()
	if total > 0 {
		fmt.Fprintf(&b, "; run %s", total.Round(time.Second))
	}
	s.t.Log(b.String())
	assert.NotEmpty(s.t, s.order)
}
