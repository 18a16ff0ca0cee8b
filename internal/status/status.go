// Package status is the page a store owner and support read: per connector
// its lag, its partner calls against the rate limit, its upload's progress;
// the dead letters by reason with the command that redrives them; capture's
// checkpoint per entity. It reads only NATS (streams, consumers, buckets),
// so it runs anywhere the admin user can connect.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/internal/webhooks"
	"github.com/edgesync/edgesync/streams"
)

// Snapshot is one reading of the whole pipeline. Durations are in
// nanoseconds (Go's time.Duration), times in RFC 3339.
type Snapshot struct {
	At time.Time `json:"at"`
	// Verdict is the page's headline: whether changes flow, and if not,
	// what stops them, worst first.
	Verdict     Verdict           `json:"verdict"`
	Captures    []capture.Report  `json:"captures"`
	Gateways    []webhooks.Report `json:"gateways"`
	Servers     []Server          `json:"servers"`
	Counts      []Count           `json:"counts"`
	Consumers   []Consumer        `json:"consumers"`
	DeadLetters []DeadGroup       `json:"deadLetters"`
	Checkpoints []Checkpoint      `json:"checkpoints"`
	// Stores are a chain's stores with a leaf node of their own.
	Stores []streams.StoreStatus `json:"stores,omitempty"`
	Unread []string              `json:"unread,omitempty"` // what could not be read, and why
}

// Consumer is one durable consumer: a connector on EDGE or the writer on
// PARTNER.
type Consumer struct {
	Name   string `json:"name"`
	Stream string `json:"stream"`
	// Lane is "live" for a connector's durable, "bulk" for its bulk lanes
	// and replay (streams/lanes.go), which Of names.
	Lane string `json:"lane"`
	Of   string `json:"of,omitempty"`
	// Backlog is what the consumer has yet to finish: not delivered plus
	// delivered and not acknowledged.
	Backlog uint64 `json:"backlog"`
	// OldestAge is how long the oldest message of the backlog has waited.
	OldestAge time.Duration `json:"oldestAge"`
	// Done counts the messages acknowledged since the consumer was created:
	// for a new connector, its initial upload so far.
	Done     uint64  `json:"done"`
	Progress float64 `json:"progress"` // Done / (Done + Backlog)
	// Rate is acknowledgements per second over the last minute the page
	// watched, and ETA the time to finish the backlog at that rate (0 when
	// unknown).
	Rate float64       `json:"rate"`
	ETA  time.Duration `json:"eta"`
	// AtLimit is, for a bulk lane, the time its backlog takes at the
	// partner's rate limit.
	AtLimit time.Duration            `json:"atLimit,omitempty"`
	Report  *streams.ConnectorReport `json:"report,omitempty"`
	// WentBack: the consumer had acknowledged messages past the stream's
	// end (StreamLast): the stream lost messages under it.
	WentBack   bool   `json:"wentBack,omitempty"`
	AckedUpTo  uint64 `json:"ackedUpTo"`
	StreamLast uint64 `json:"streamLast"`
	// State is the consumer's one-word health: in sync, catching up,
	// partner failing, stuck, not reporting, or waiting (in sync with a
	// stream nothing feeds).
	State string `json:"state"`
}

// DeadGroup is the dead letters of one consumer for one reason.
type DeadGroup struct {
	Consumer string    `json:"consumer"`
	Reason   string    `json:"reason"`
	Count    int       `json:"count"`
	Last     time.Time `json:"last"`
	Redrive  string    `json:"redrive"` // the command that delivers them again
}

// Checkpoint is capture's position for one site and entity.
type Checkpoint struct {
	Site    string    `json:"site"`
	Entity  string    `json:"entity"`
	Version int64     `json:"version"`
	Epoch   int64     `json:"epoch"`
	At      time.Time `json:"at"`
}

// maxDeadLetters bounds what one reading reads of the DLQ.
const maxDeadLetters = 5000

// Reader takes snapshots and remembers the last minute of them, for rates.
type Reader struct {
	js jetstream.JetStream

	mu      sync.Mutex
	history map[string][]sample // consumer → readings, oldest first
	now     func() time.Time
	// last is the newest snapshot, and watchEvery how often Watch takes
	// one (0 when nothing watches): a page asked for within that serves
	// the watched snapshot instead of reading everything again.
	last       Snapshot
	watchEvery time.Duration
}

type sample struct {
	at   time.Time
	done uint64
}

// Watch reads the pipeline every every until ctx ends, so that rates and
// ETAs are known from the start, not only after someone opened the page.
func (r *Reader) Watch(ctx context.Context, every time.Duration) {
	r.mu.Lock()
	r.watchEvery = every
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.watchEvery = 0
		r.mu.Unlock()
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, every)
		r.Read(rctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Current is the watched snapshot while it is fresher than the watch's
// interval, and a new reading otherwise.
func (r *Reader) Current(ctx context.Context) Snapshot {
	r.mu.Lock()
	last, every := r.last, r.watchEvery
	r.mu.Unlock()
	if every > 0 && !last.At.IsZero() && r.now().Sub(last.At) < every {
		return last
	}
	return r.Read(ctx)
}

// NewReader returns a Reader of the pipeline behind js.
func NewReader(js jetstream.JetStream) *Reader {
	return &Reader{js: js, history: map[string][]sample{}, now: time.Now}
}

// Read takes a snapshot. What cannot be read is listed in Unread and the
// rest is still reported: a page that shows half of the pipeline and says
// which half is missing is more use at 2 a.m. than an error.
func (r *Reader) Read(ctx context.Context) Snapshot {
	s := Snapshot{At: r.now().UTC()}
	unread := func(what string, err error) { s.Unread = append(s.Unread, what+": "+err.Error()) }
	reports, err := streams.Reports(ctx, r.js)
	if err != nil {
		unread("connector reports", err)
	}
	captures, err := streams.ReadReports[capture.Report](ctx, r.js, streams.ReportCapture)
	if err != nil {
		unread("capture reports", err)
	}
	s.Captures = sortedValues(captures)
	gateways, err := streams.ReadReports[webhooks.Report](ctx, r.js, streams.ReportGateway)
	if err != nil {
		unread("webhook gateway reports", err)
	}
	s.Gateways = sortedValues(gateways)
	for _, stream := range []string{streams.StreamEdge, streams.StreamPartner} {
		cs, err := r.consumers(ctx, stream, reports)
		if err != nil {
			unread("consumers of "+stream, err)
		}
		s.Consumers = append(s.Consumers, cs...)
	}
	if s.DeadLetters, err = deadGroups(ctx, r.js); err != nil {
		unread("dead letters", err)
	}
	if s.Checkpoints, err = checkpoints(ctx, r.js); err != nil {
		unread("capture checkpoints", err)
	}
	if s.Stores, err = r.stores(ctx); err != nil {
		unread("stores", err)
	}
	if s.Servers, err = servers(ctx, r.js); err != nil {
		unread("NATS servers", err)
	}
	if s.Counts, err = counts(ctx, r.js, s.Consumers); err != nil {
		unread("customer counts", err)
	}
	judge(&s)
	r.mu.Lock()
	r.last = s
	r.mu.Unlock()
	return s
}

// sortedValues is m's values in the order of their keys.
func sortedValues[T any](m map[string]T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

func (r *Reader) stores(ctx context.Context) ([]streams.StoreStatus, error) {
	str, err := r.js.Stream(ctx, streams.StreamEdge)
	if err != nil {
		return nil, err
	}
	info, err := str.Info(ctx)
	if err != nil {
		return nil, err
	}
	return streams.StoreStatuses(info), nil
}

func (r *Reader) consumers(ctx context.Context, stream string, reports map[string]streams.ConnectorReport) ([]Consumer, error) {
	str, err := r.js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	var out []Consumer
	list := str.ListConsumers(ctx)
	for info := range list.Info() {
		if info.Config.Durable == "" {
			continue // an ordered reader, not a role
		}
		c := Consumer{Name: info.Name, Stream: stream, Backlog: info.NumPending + uint64(info.NumAckPending), Done: info.AckFloor.Consumer,
			AckedUpTo: info.AckFloor.Stream, StreamLast: str.CachedInfo().State.LastSeq}
		c.WentBack = c.AckedUpTo > c.StreamLast
		if total := c.Done + c.Backlog; total > 0 {
			c.Progress = float64(c.Done) / float64(total)
		}
		if c.Backlog > 0 {
			c.OldestAge = streams.OldestWait(ctx, str, info, r.now())
		}
		c.Of, c.Lane = streams.LaneOf(info.Name)
		rep, reported := reports[info.Name]
		if parent, ok := reports[c.Of]; ok && c.Lane == "bulk" && stream == streams.StreamEdge {
			// Bulk work goes at what the live lane leaves of the
			// partner's limit: its time at the limit is the floor.
			c.Rate = r.rate(stream+"/"+info.Name, c.Done, r.now())
			c.AtLimit = streams.AtLimit(c.Backlog, parent.LimitPerMinute)
		} else if reported && stream == streams.StreamEdge {
			c.Report = &rep
			// What the connector finished, by its own count: the ack
			// floor stands still behind one slow or parked event while
			// the rest are done, which made the rate, and the ETA, wrong
			// by orders of magnitude.
			c.Rate = r.rate(stream+"/"+info.Name, uint64(rep.Settled), rep.At)
		} else {
			c.Rate = r.rate(stream+"/"+info.Name, c.Done, r.now())
		}
		if c.Rate > 0 && c.Backlog > 0 {
			c.ETA = time.Duration(float64(c.Backlog) / c.Rate * float64(time.Second))
		}
		out = append(out, c)
	}
	if err := list.Err(); err != nil {
		return out, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// rateWindow is how far back rates look: long enough to smooth a
// partner's bursts, short enough to follow a change of pace.
const rateWindow = time.Minute

// rate records a reading of done, made at at, and returns how fast done
// grew per second over the readings of the last minute; 0 until they span
// ten seconds, since a rate over less is noise.
func (r *Reader) rate(key string, done uint64, at time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.history[key]
	if n := len(h); n > 0 && (done < h[n-1].done) {
		h = nil // the process restarted: its count began again
	}
	if n := len(h); n == 0 || at.After(h[n-1].at) {
		h = append(h, sample{at, done})
	}
	for len(h) > 1 && at.Sub(h[0].at) > rateWindow {
		h = h[1:]
	}
	r.history[key] = h
	first, last := h[0], h[len(h)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt < 10 {
		return 0
	}
	return float64(last.done-first.done) / dt
}

func deadGroups(ctx context.Context, js jetstream.JetStream) ([]DeadGroup, error) {
	dead, err := streams.DeadLetters(ctx, js, maxDeadLetters)
	if err != nil {
		return nil, err
	}
	groups := map[[2]string]*DeadGroup{}
	for _, d := range dead {
		k := [2]string{d.Consumer, d.Reason}
		g, ok := groups[k]
		if !ok {
			g = &DeadGroup{Consumer: d.Consumer, Reason: d.Reason, Redrive: redrive(d.Consumer)}
			groups[k] = g
		}
		g.Count++
		if d.Time.After(g.Last) {
			g.Last = d.Time
		}
	}
	out := make([]DeadGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Consumer != out[j].Consumer {
			return out[i].Consumer < out[j].Consumer
		}
		return out[i].Count > out[j].Count
	})
	return out, nil
}

// redrive is what delivers a consumer's dead letters again.
func redrive(consumer string) string {
	if consumer == streams.CaptureDLQConsumer {
		// A record of an Edge row that cannot be an event: nothing to replay.
		return "fix the row in Edge: its next change is captured as usual"
	}
	return "edgesync dlq replay --consumer " + consumer
}

func checkpoints(ctx context.Context, js jetstream.JetStream) ([]Checkpoint, error) {
	kv, err := js.KeyValue(ctx, streams.BucketCheckpoints)
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []Checkpoint
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		var cp capture.Checkpoint
		if err := json.Unmarshal(e.Value(), &cp); err != nil {
			return out, fmt.Errorf("checkpoint %s: %w", key, err)
		}
		site, entity, _ := strings.Cut(key, ".")
		out = append(out, Checkpoint{Site: site, Entity: entity, Version: cp.Version, Epoch: cp.Epoch, At: cp.At})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Site != out[j].Site {
			return out[i].Site < out[j].Site
		}
		return out[i].Entity < out[j].Entity
	})
	return out, nil
}
