package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/writer"
)

type replayCmd struct {
	Connector        string    `help:"The consumer to replay to: podium, clientbook, another connector's name, or edge-writer." required:""`
	FromStart        bool      `help:"Replay every event the stream still holds."`
	Since            time.Time `help:"Replay the events stored since this time (RFC 3339, e.g. 2026-12-01T00:00:00Z)."`
	LatestPerSubject bool      `help:"Replay the current state of every aggregate, not its history."`
	Entity           []string  `help:"Only these entities (customer, sale, ...)."`
	Subject          []string  `help:"Only these subjects (e.g. edge.customer.001.> for one store)."`
	Cancel           bool      `help:"Cancel the running replay of --connector."`
	NoWait           bool      `help:"Start the replay and return; 'edgesync status' shows its progress."`
}

// Validate makes a missing or doubled start a usage error (exit 2), said
// before anything connects.
func (c *replayCmd) Validate() error {
	chosen := 0
	for _, set := range []bool{c.FromStart, !c.Since.IsZero(), c.LatestPerSubject} {
		if set {
			chosen++
		}
	}
	if !c.Cancel && chosen != 1 {
		return errors.New("say where the replay starts, once: --from-start, --since TIME or --latest-per-subject")
	}
	return nil
}

func (c *replayCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	stream := streams.StreamEdge
	if c.Connector == writer.Durable {
		stream = streams.StreamPartner
	}
	cfg := streams.ReplayConfig{Stream: stream, Durable: c.Connector, Since: c.Since, Filters: c.Subject}
	switch {
	case c.FromStart:
		cfg.From = streams.FromStart
	case !c.Since.IsZero():
		cfg.From = streams.FromTime
	case c.LatestPerSubject:
		cfg.From = streams.LatestPerSubject
	}
	for _, e := range c.Entity {
		if !schemas.Entity(e).Valid() {
			return fmt.Errorf("--entity: unknown entity %q", e)
		}
		if stream != streams.StreamEdge {
			return errors.New("--entity narrows a replay of Edge events; the writer reads partner events")
		}
		cfg.Filters = append(cfg.Filters, schemas.EdgeFilter(schemas.Entity(e)))
	}
	nc, js, err := connect(ctx, g, log, "edgesync-replay")
	if err != nil {
		return err
	}
	defer nc.Close()
	if c.Cancel {
		if err := streams.CancelReplay(ctx, js, stream, c.Connector); err != nil {
			return err
		}
		fmt.Printf("replay of %s cancelled\n", c.Connector)
		return nil
	}
	total, err := streams.StartReplay(ctx, js, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("replay of %s started: %d events; the running %s picks it up within seconds and skips what its partner already has\n", c.Connector, total, c.Connector)
	if c.NoWait {
		return nil
	}
	return followReplay(ctx, js, stream, c.Connector, total)
}

// followReplay prints the replay's progress until the consumer finishes it.
func followReplay(ctx context.Context, js jetstream.JetStream, stream, connector string, total uint64) error {
	start, last, lastMove := time.Now(), uint64(0), time.Now()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Printf("stopped watching; the replay goes on (cancel it with `edgesync replay --connector %s --cancel`)\n", connector)
			return nil
		case <-t.C:
		}
		done, left, running, err := streams.ReplayProgress(ctx, js, stream, connector)
		if err != nil {
			return err
		}
		if !running {
			fmt.Printf("replay of %s done: %d events in %s\n", connector, total, time.Since(start).Round(time.Second))
			return nil
		}
		if done != last {
			last, lastMove = done, time.Now()
		}
		rate := float64(done) / time.Since(start).Seconds()
		eta := "unknown"
		if rate > 0 {
			eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
		}
		fmt.Printf("replay of %s: %d of %d done, %.0f/s, %s left\n", connector, done, total, rate, eta)
		if time.Since(lastMove) > 30*time.Second {
			fmt.Printf("no progress for %s: is %s running?\n", time.Since(lastMove).Round(time.Second), connector)
		}
	}
}
