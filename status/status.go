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
	"github.com/edgesync/edgesync/streams"
)

// Snapshot is one reading of the whole pipeline.
type Snapshot struct {
	At          time.Time    `json:"at"`
	Consumers   []Consumer   `json:"consumers"`
	DeadLetters []DeadGroup  `json:"deadLetters"`
	Checkpoints []Checkpoint `json:"checkpoints"`
	// Stores are a chain's stores with a leaf node of their own.
	Stores []streams.StoreStatus `json:"stores,omitempty"`
	Unread []string              `json:"unread,omitempty"` // what could not be read, and why
}

// Consumer is one durable consumer: a connector on EDGE or the writer on
// PARTNER.
type Consumer struct {
	Name   string `json:"name"`
	Stream string `json:"stream"`
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
	Rate   float64                  `json:"rate"`
	ETA    time.Duration            `json:"eta"`
	Report *streams.ConnectorReport `json:"report,omitempty"`
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
}

type sample struct {
	at   time.Time
	done uint64
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
	return s
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
		c := Consumer{Name: info.Name, Stream: stream, Backlog: info.NumPending + uint64(info.NumAckPending), Done: info.AckFloor.Consumer}
		if total := c.Done + c.Backlog; total > 0 {
			c.Progress = float64(c.Done) / float64(total)
		}
		if c.Backlog > 0 {
			c.OldestAge = r.oldestAge(ctx, str, info)
		}
		c.Rate = r.rate(stream+"/"+info.Name, c.Done)
		if c.Rate > 0 && c.Backlog > 0 {
			c.ETA = time.Duration(float64(c.Backlog) / c.Rate * float64(time.Second))
		}
		if rep, ok := reports[info.Name]; ok && stream == streams.StreamEdge {
			c.Report = &rep
		}
		out = append(out, c)
	}
	if err := list.Err(); err != nil {
		return out, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// oldestAge is the age of the first unacknowledged message the consumer's
// filters match.
func (r *Reader) oldestAge(ctx context.Context, str jetstream.Stream, info *jetstream.ConsumerInfo) time.Duration {
	var oldest time.Time
	for _, f := range streams.Filters(info.Config) {
		m, err := str.GetMsg(ctx, info.AckFloor.Stream+1, jetstream.WithGetMsgSubject(f))
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
	return r.now().Sub(oldest)
}

// rate records a reading of done and returns acknowledgements per second
// over the readings of the last minute.
func (r *Reader) rate(key string, done uint64) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	h := append(r.history[key], sample{now, done})
	for len(h) > 1 && now.Sub(h[0].at) > time.Minute {
		h = h[1:]
	}
	r.history[key] = h
	first := h[0]
	dt := now.Sub(first.at).Seconds()
	if dt < 1 || done < first.done {
		return 0
	}
	return float64(done-first.done) / dt
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
