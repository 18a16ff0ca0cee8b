package status

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/streams"
)

// Verdict is the page's headline. Level is "ok" only when every part that
// makes changes flow was heard from lately and says it works: capture
// reading Edge, each connector calling its partner, each gateway, each
// NATS server, each store's link.
type Verdict struct {
	Level    string   `json:"level"` // ok, warn (flows, with something to look at), down (something does not flow)
	Problems []string `json:"problems,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Notes are what runs as it should and takes a while: an initial
	// upload, a re-snapshot, a backlog being worked off.
	Notes []string `json:"notes,omitempty"`
}

// Server is one NATS server as the streams' replica groups see it.
type Server struct {
	Name    string   `json:"name"`
	Leads   []string `json:"leads,omitempty"` // the streams it leads
	Follows []string `json:"follows,omitempty"`
	// Offline: a group it belongs to has not heard from it lately.
	Offline bool `json:"offline,omitempty"`
	// Behind is the most operations it is behind a leader, while it
	// catches up.
	Behind   uint64        `json:"behind,omitempty"`
	LastSeen time.Duration `json:"lastSeen,omitempty"`
}

// Count is, for the store owner, how many of the customers captured from
// Edge a partner holds: "648 of 648 customers in Podium".
type Count struct {
	Connector string `json:"connector"`
	Partner   string `json:"partner"`
	// AtEdge counts the customers captured from Edge (deleted ones
	// included); InPartner those linked to a partner record.
	AtEdge    int `json:"atEdge"`
	InPartner int `json:"inPartner"`
}

// pipelineStreams are the streams whose replica groups the page reads.
var pipelineStreams = []string{streams.StreamEdge, streams.StreamPartner, streams.StreamDLQ}

// servers reads each pipeline stream's replica group: who leads it, who
// follows, who is offline or behind. A stream without a leader takes no
// writes at all, which the verdict says.
func servers(ctx context.Context, js jetstream.JetStream) ([]Server, error) {
	byName := map[string]*Server{}
	get := func(name string) *Server {
		if byName[name] == nil {
			byName[name] = &Server{Name: name}
		}
		return byName[name]
	}
	var errs []error
	for _, name := range pipelineStreams {
		str, err := js.Stream(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("stream %s: %w", name, err))
			continue
		}
		info := str.CachedInfo()
		if info.Cluster == nil {
			continue
		}
		if l := info.Cluster.Leader; l != "" {
			get(l).Leads = append(get(l).Leads, name)
		} else {
			get("(no leader)").Leads = append(get("(no leader)").Leads, name)
		}
		for _, p := range info.Cluster.Replicas {
			s := get(p.Name)
			s.Follows = append(s.Follows, name)
			s.Offline = s.Offline || p.Offline
			s.Behind = max(s.Behind, p.Lag)
			s.LastSeen = max(s.LastSeen, p.Active)
		}
	}
	out := make([]Server, 0, len(byName))
	for _, s := range byName {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(errs...)
}

// counts reads, per partner connector, its customers linked to partner
// records against the customers captured from Edge. Both are subject
// counts (the EDGE stream's customer subjects, the links bucket's keys of
// the connector), not reads of every message.
func counts(ctx context.Context, js jetstream.JetStream, consumers []Consumer) ([]Count, error) {
	var out []Count
	atEdge := -1
	for _, c := range consumers {
		if c.Report == nil || c.Report.Partner == "" {
			continue
		}
		if atEdge < 0 {
			n, err := subjectCount(ctx, js, streams.StreamEdge, "edge.customer.>")
			if err != nil {
				return out, fmt.Errorf("customers at Edge: %w", err)
			}
			atEdge = n
		}
		n, err := subjectCount(ctx, js, "KV_"+streams.BucketLinks, streams.LinkFilter(c.Name, "customer"))
		if err != nil {
			return out, fmt.Errorf("customers in %s: %w", c.Report.Partner, err)
		}
		out = append(out, Count{Connector: c.Name, Partner: c.Report.Partner, AtEdge: atEdge, InPartner: n})
	}
	return out, nil
}

func subjectCount(ctx context.Context, js jetstream.JetStream, stream, filter string) (int, error) {
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := str.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, err
	}
	return len(info.State.Subjects), nil
}

// judge sets each consumer's state and the snapshot's verdict.
func judge(s *Snapshot) {
	var v Verdict
	down := func(format string, a ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, a...)) }
	warn := func(format string, a ...any) { v.Warnings = append(v.Warnings, fmt.Sprintf(format, a...)) }
	note := func(format string, a ...any) { v.Notes = append(v.Notes, fmt.Sprintf(format, a...)) }
	at := s.At

	// Capture: each site that reported, and each that checkpointed
	// without reporting (stopped before the page first read it).
	capturing := false
	reported := map[string]bool{}
	cutOff := map[string]bool{} // a chain store's capture site, when its link is down
	for _, st := range s.Stores {
		if !st.Connected {
			cutOff["store"+st.Store] = true
		}
	}
	for _, c := range s.Captures {
		reported[c.Site] = true
		switch {
		case c.Stale(at) && cutOff[c.Site]:
			// Said once, below, with the store's link: it captures into
			// its own stream meanwhile and reports again once back.
		case c.Stale(at):
			down("capture of site %s stopped: no report for %s; changes made in Edge are not captured", c.Site, duration(at.Sub(c.At)))
		case c.FailingCycles >= 3:
			down("capture of site %s cannot read Edge: the last %d cycles failed: %s", c.Site, c.FailingCycles, c.Error)
			capturing = true
		default:
			capturing = true
			if c.Snapshot != nil {
				note("capture of site %s is taking a snapshot of %s (%s): %s", c.Site, c.Snapshot.Entity, c.Snapshot.Reason, snapshotProgress(*c.Snapshot, at))
			}
		}
	}
	for _, cp := range s.Checkpoints {
		if !reported[cp.Site] {
			reported[cp.Site] = true
			down("capture of site %s is not reporting (last checkpoint %s); changes made in Edge may not be captured", cp.Site, age(cp.At, at))
		}
	}
	if len(s.Captures) == 0 && len(s.Checkpoints) == 0 && len(s.Stores) == 0 {
		down("no capture has started: nothing reads Edge yet")
	}
	capturing = capturing || len(s.Stores) > 0

	for i := range s.Consumers {
		c := &s.Consumers[i]
		c.State = state(*c, at, capturing)
		r := c.Report
		if c.WentBack {
			down("%s had acknowledged %s up to sequence %d, but the stream now ends at %d: the stream went back (NATS state lost, "+
				"or restored from an old backup) and what it held after %d is gone; see README, \"Moving to a cluster\"",
				c.Name, c.Stream, c.AckedUpTo, c.StreamLast, c.StreamLast)
		}
		switch {
		case r != nil && r.Stale(at):
			down("connector %s is not reporting (last report %s): it is down or cannot reach NATS", c.Name, age(r.At, at))
		case c.State == "partner failing":
			down("%s is failing since %s (%s): %s; %d event(s) wait", partnerName(r.Partner), r.FailingSince.Local().Format("15:04:05"), age(r.FailingSince, at), r.Failure, c.Backlog)
		case c.State == "stuck":
			down("%s on %s is stuck: %d waiting, the oldest for %s, nothing finished in the last minute", c.Name, c.Stream, c.Backlog, duration(c.OldestAge))
		case c.State == "catching up" && c.Lane == "bulk":
			note("%s's bulk lane %s (an upload, a snapshot or a replay; live changes go first) is working off %d event(s): %s", c.Of, c.Name, c.Backlog, consumerProgress(*c))
		case c.State == "catching up":
			note("%s is working off %d event(s): %s", c.Name, c.Backlog, consumerProgress(*c))
		}
		if r != nil && r.Webhooks != nil && !r.Webhooks.RepairedAt.IsZero() && at.Sub(r.Webhooks.RepairedAt) < time.Hour {
			warn("%s's webhook was found %s and repaired %s; the changes made in %s meanwhile were listed and caught up (%d at the last catch-up, %s)",
				partnerName(r.Partner), r.Webhooks.LastRepair, age(r.Webhooks.RepairedAt, at), partnerName(r.Partner), r.Webhooks.CaughtUp, age(r.Webhooks.LastCatchUp, at))
		}
		if r != nil && r.Parked > 0 {
			warn("%s has %d event(s) parked whose partner call keeps failing; the others go on", c.Name, r.Parked)
		}
	}
	for _, g := range s.Gateways {
		switch {
		case g.Stale(at):
			down("the webhook gateway for %s is down: no report for %s; %s's deliveries fail and are retried by %s for a while, then its webhook is disabled", g.Partner, duration(at.Sub(g.At)), partnerName(g.Partner), partnerName(g.Partner))
		case g.Spooled > 0:
			warn("the webhook gateway for %s holds %d delivery(ies) in its spool: JetStream does not take them yet", g.Partner, g.Spooled)
		}
	}
	for _, sv := range s.Servers {
		switch {
		case sv.Name == "(no leader)":
			down("stream(s) %s have no leader: NATS takes no writes for them (too few servers up?)", strings.Join(sv.Leads, ", "))
		case sv.Offline:
			warn("NATS server %s is offline (last seen %s ago); its streams run on the others", sv.Name, duration(sv.LastSeen))
		case sv.Behind > 0:
			warn("NATS server %s is catching up: %d operation(s) behind", sv.Name, sv.Behind)
		}
	}
	for _, st := range s.Stores {
		switch {
		case st.LastContact < 0:
			down("store %s has never connected to the hub (since the hub's stream started): %s", st.Store, orNone(st.Error))
		case !st.Connected:
			down("store %s is cut off from the hub since %s ago; it buffers its changes meanwhile", st.Store, duration(st.LastContact))
		}
	}
	if n := deadLetterCount(s.DeadLetters); n > 0 {
		warn("%d dead letter(s): see below what each needs", n)
	}
	for _, u := range s.Unread {
		warn("could not read %s", u)
	}
	switch {
	case len(v.Problems) > 0:
		v.Level = "down"
	case len(v.Warnings) > 0:
		v.Level = "warn"
	default:
		v.Level = "ok"
	}
	s.Verdict = v
}

// state is a consumer's one-word health.
func state(c Consumer, at time.Time, capturing bool) string {
	switch {
	case c.Report != nil && c.Report.Stale(at):
		return "not reporting"
	case c.Report != nil && !c.Report.FailingSince.IsZero():
		return "partner failing"
	case c.Backlog == 0 && c.Stream == streams.StreamEdge && !capturing:
		return "waiting"
	case c.Backlog == 0:
		return "in sync"
	case c.OldestAge > 5*time.Minute && c.Rate == 0:
		return "stuck"
	default:
		return "catching up"
	}
}

func snapshotProgress(p capture.SnapshotProgress, at time.Time) string {
	s := fmt.Sprintf("%d rows read", p.Rows)
	if p.Total > 0 {
		s = fmt.Sprintf("%d of %d rows (%.0f%%)", p.Rows, p.Total, 100*float64(p.Rows)/float64(p.Total))
		if el := at.Sub(p.Started); p.Rows > 0 && p.Total > p.Rows && el > 0 {
			left := time.Duration(float64(el) * float64(p.Total-p.Rows) / float64(p.Rows))
			s += ", about " + duration(left) + " left"
		}
	}
	return s
}

func consumerProgress(c Consumer) string {
	s := fmt.Sprintf("%.0f%% done", 100*c.Progress)
	if c.Rate > 0 {
		s += fmt.Sprintf(", %.1f a second, about %s left", c.Rate, duration(c.ETA))
	} else {
		s += ", measuring its pace"
	}
	if c.AtLimit > 0 {
		s += fmt.Sprintf("; %s at the partner's rate limit", duration(c.AtLimit))
	}
	return s
}

func deadLetterCount(gs []DeadGroup) int {
	n := 0
	for _, g := range gs {
		n += g.Count
	}
	return n
}

func partnerName(p string) string {
	switch p {
	case "podium":
		return "Podium"
	case "clientbook":
		return "Clientbook"
	}
	return p
}

func orNone(s string) string {
	if s == "" {
		return "no error reported"
	}
	return s
}
