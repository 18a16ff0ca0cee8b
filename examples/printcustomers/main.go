// Command printcustomers is a complete edgesync connector in miniature: a
// durable consumer on the subjects it cares about, decoding the public
// envelope. Run `edgesync demo` in another terminal, then:
//
//	go run ./examples/printcustomers -nats nats://127.0.0.1:4222
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/schemas"
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

func run(ctx context.Context, url, durable string, out io.Writer) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// The latest state of every customer first, then every change as it happens.
	// A durable stopped during that first list can lose an entry of it to a
	// nats-server defect (docs/invariants.md, item 11): a connector meant to
	// run for real uses streams.Consume, which makes such a consumer afresh.
	cons, err := js.CreateOrUpdateConsumer(ctx, "EDGE", jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: schemas.EdgeFilter(schemas.EntityCustomer), // edge.customer.>
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
	})
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		env, err := schemas.DecodeEnvelope(m.Data())
		var c schemas.Customer
		if err == nil {
			err = env.DecodeData(&c)
		}
		if err != nil {
			log.Printf("skip %s: %v", m.Subject(), err)
			_ = m.Term()
			return
		}
		fmt.Fprintf(out, "%s v%d %s %s origin=%q\n", env.Key, env.Version, c.FirstName, c.LastName, env.Origin)
		_ = m.Ack()
	})
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}
