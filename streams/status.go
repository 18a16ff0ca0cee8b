package streams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamStatus is what `edgesync streams status` reports for one stream.
type StreamStatus struct {
	Name      string
	Messages  uint64
	Bytes     uint64
	Subjects  uint64
	FirstSeq  uint64
	LastSeq   uint64
	Replicas  int
	Consumers []ConsumerStatus
	Stores    []StoreStatus // EDGE only: the stores it sources
}

// StoreStatus is a store's leaf node as the hub's EDGE stream sees it.
type StoreStatus struct {
	Store string `json:"store"`
	// Connected: the hub heard from the store's stream lately, without error.
	Connected bool `json:"connected"`
	// LastContact is how long ago the hub last heard from the store: how
	// long it has been cut off, when it is; negative when the hub has not
	// heard from it since its stream started.
	LastContact time.Duration `json:"lastContact"`
	// Behind is what the store holds that the hub has not taken yet, as of
	// the last contact: its buffer through an outage.
	Behind uint64 `json:"behind"`
	Error  string `json:"error,omitempty"`
}

// contactWithin: the hub's source consumer hears from a connected store
// every few seconds, heartbeats included.
const contactWithin = 15 * time.Second

// StoreStatuses reads the stores the hub's EDGE stream sources.
func StoreStatuses(info *jetstream.StreamInfo) []StoreStatus {
	var out []StoreStatus
	for _, src := range info.Sources {
		if src == nil || src.External == nil {
			continue
		}
		store, isStore := strings.CutPrefix(src.External.APIPrefix, "$JS."+StoreDomain(""))
		store, isAPI := strings.CutSuffix(store, ".API")
		if !isStore || !isAPI {
			continue // a source that is not a store's stream
		}
		st := StoreStatus{Store: store, LastContact: src.Active, Behind: src.Lag}
		if src.Error != nil {
			st.Error = src.Error.Description
		}
		st.Connected = st.Error == "" && src.Active >= 0 && src.Active < contactWithin
		out = append(out, st)
	}
	return out
}

// ConsumerStatus reports a durable consumer's backlog.
type ConsumerStatus struct {
	Name        string
	Lane        string // live, or bulk (a bulk lane or a replay, lanes.go)
	Pending     uint64 // messages not yet delivered
	AckPending  int    // delivered, not yet acknowledged
	Redelivered int
	Done        uint64        // acknowledged since it was created
	OldestWait  time.Duration // how long the oldest unacknowledged message has been in the stream
	AtLimit     time.Duration // a bulk lane's backlog at its partner's rate limit
}

// Status reads the state of every edgesync stream. A stream that does not
// exist yet is reported as an error naming `edgesync streams init`.
func Status(ctx context.Context, js jetstream.JetStream) ([]StreamStatus, error) {
	var out []StreamStatus
	for _, name := range []string{StreamEdge, StreamPartner, StreamDLQ} {
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("stream %s does not exist: run `edgesync streams init`", name)
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			return nil, fmt.Errorf("stream %s info: %w", name, err)
		}
		st := StreamStatus{
			Name:     name,
			Messages: info.State.Msgs,
			Bytes:    info.State.Bytes,
			Subjects: info.State.NumSubjects,
			FirstSeq: info.State.FirstSeq,
			LastSeq:  info.State.LastSeq,
			Replicas: info.Config.Replicas,
			Stores:   StoreStatuses(info),
		}
		reports, _ := ReadReports[ConnectorReport](ctx, js, ReportConnector) // the limits, where connectors report
		consumers := s.ListConsumers(ctx)
		for ci := range consumers.Info() {
			cs := ConsumerStatus{
				Name:        ci.Name,
				Pending:     ci.NumPending,
				AckPending:  ci.NumAckPending,
				Redelivered: ci.NumRedelivered,
				Done:        ci.AckFloor.Consumer,
			}
			var of string
			of, cs.Lane = LaneOf(ci.Name)
			if cs.Lane == "bulk" {
				cs.AtLimit = AtLimit(ci.NumPending+uint64(ci.NumAckPending), reports[of].LimitPerMinute)
			}
			if ci.NumPending+uint64(ci.NumAckPending) > 0 {
				cs.OldestWait = OldestWait(ctx, s, ci, time.Now())
			}
			st.Consumers = append(st.Consumers, cs)
		}
		if err := consumers.Err(); err != nil {
			return nil, fmt.Errorf("stream %s consumers: %w", name, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// WriteStatus prints statuses as a table.
func WriteStatus(w io.Writer, sts []StreamStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tSUBJECTS\tSEQ\tREPLICAS")
	for _, s := range sts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d..%d\t%d\n", s.Name, s.Messages, s.Bytes, s.Subjects, s.FirstSeq, s.LastSeq, s.Replicas)
	}
	fmt.Fprintln(tw, "\nCONSUMER\tSTREAM\tLANE\tPENDING\tACK PENDING\tREDELIVERED\tDONE\tOLDEST WAIT\tAT THE PARTNER'S LIMIT")
	for _, s := range sts {
		for _, c := range s.Consumers {
			atLimit := "-"
			if c.AtLimit > 0 {
				atLimit = c.AtLimit.Round(time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", c.Name, s.Name, c.Lane, c.Pending, c.AckPending, c.Redelivered, c.Done,
				c.OldestWait.Round(time.Second), atLimit)
		}
	}
	for _, s := range sts {
		if len(s.Stores) == 0 {
			continue
		}
		fmt.Fprintln(tw, "\nSTORE\tLINK\tLAST CONTACT\tBEHIND\tERROR")
		for _, st := range s.Stores {
			link, contact := "connected", st.LastContact.Round(time.Second).String()+" ago"
			switch {
			case st.LastContact < 0:
				link, contact = "NEVER CONNECTED", "never (since the hub's stream started)"
			case !st.Connected:
				link = "CUT OFF"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", st.Store, link, contact, st.Behind, st.Error)
		}
	}
	return tw.Flush()
}

// OldestWait is how long, at now, the first unacknowledged message a
// consumer's filters match has been in the stream.
func OldestWait(ctx context.Context, str jetstream.Stream, ci *jetstream.ConsumerInfo, now time.Time) time.Duration {
	var oldest time.Time
	for _, f := range Filters(ci.Config) {
		m, err := str.GetMsg(ctx, ci.AckFloor.Stream+1, jetstream.WithGetMsgSubject(f))
		if err != nil {
			continue
		}
		if oldest.IsZero() || m.Time.Before(oldest) {
			oldest = m.Time
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return now.Sub(oldest)
}
