// Command printcustomers is a complete edgesync connector in miniature, on
// the connector kit: streams.Consume owns the durable consumer (the latest
// state of every customer first, then each change; acks, retries, dead
// letters, the first-delivery guard), kit.States the per-customer state (a
// redelivered or replayed event is skipped as stale). A partner's
// connector puts its API call where this prints. Run `edgesync demo` in
// another terminal, then:
//
//	go run ./examples/printcustomers -nats nats://127.0.0.1:4222
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/connectors/kit"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS URL")
	durable := flag.String("durable", "printcustomers", "durable consumer name; a new name backfills every customer")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *durable, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// printed is what the connector remembers per customer: where it stands.
type printed struct {
	kit.Position
}

func run(ctx context.Context, url, durable string, out io.Writer) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	projection, err := js.KeyValue(ctx, streams.BucketProjection)
	if err != nil {
		return fmt.Errorf("open the projection bucket (edgesync streams init makes it): %w", err)
	}
	states := kit.NewStates[printed](projection, durable)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return streams.Consume(ctx, js, streams.ConsumerConfig{
		Durable: durable, Stream: streams.StreamEdge, Filters: []string{schemas.EdgeFilter(schemas.EntityCustomer)}, // edge.customer.>
	}, func(ctx context.Context, msg jetstream.Msg) error {
		ev, fresh, err := states.Begin(ctx, msg)
		if err != nil || !fresh {
			return err // a message that cannot be decoded is dead-lettered with the reason
		}
		c, err := schemas.Aggregate[schemas.Customer](ev.Env)
		if err != nil {
			return streams.Permanent(err)
		}
		if c == nil {
			fmt.Fprintf(out, "%s v%d deleted\n", ev.Env.Key, ev.Env.Version)
		} else {
			fmt.Fprintf(out, "%s v%d %s %s origin=%q\n", ev.Env.Key, ev.Env.Version, c.FirstName, c.LastName, ev.Env.Origin)
		}
		return states.Done(ctx, ev.Key, ev.Next, true)
	}, log)
}
