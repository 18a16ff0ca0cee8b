package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/streams"
)

type dlqCmd struct {
	List   dlqListCmd   `cmd:"" help:"List dead letters: the original subject, the consumer that refused it and why."`
	Show   dlqShowCmd   `cmd:"" help:"Show dead letters in full: body, headers, reason, deliveries."`
	Replay dlqReplayCmd `cmd:"" help:"Deliver dead letters again to the one consumer that refused them, once the cause is fixed, and remove them from the DLQ."`
	Drop   dlqDropCmd   `cmd:"" help:"Remove dead letters from the DLQ for good."`
}

// dlqSelect is how every dlq command picks dead letters.
type dlqSelect struct {
	Seq      []uint64 `help:"DLQ sequence numbers (see dlq list); repeatable."`
	Consumer string   `help:"Only this consumer's (podium, clientbook, edge-writer, capture, webhooks)."`
	Subject  string   `help:"Only those whose original subject matches, NATS wildcards allowed (edge.customer.001.>)."`
	Reason   string   `help:"Only those whose reason holds this text (any case)."`
}

func (s dlqSelect) filter() streams.DeadFilter {
	return streams.DeadFilter{Seqs: s.Seq, Consumer: s.Consumer, Subject: s.Subject, Reason: s.Reason}
}

// dlqSession is a connection to the DLQ and the dead letters selected.
type dlqSession struct {
	js   jetstream.JetStream
	dead []streams.DeadMsg
	done func()
}

// open connects and reads the dead letters s selects, at most limit (0:
// all).
func (s dlqSelect) open(ctx context.Context, g *Globals, log *slog.Logger, limit int) (dlqSession, error) {
	nc, js, err := connect(ctx, g, log, "edgesync-dlq")
	if err != nil {
		return dlqSession{}, err
	}
	dead, err := streams.DeadLetters(ctx, js, 0)
	if err != nil {
		nc.Close()
		return dlqSession{}, err
	}
	f := s.filter()
	out := dlqSession{js: js, done: nc.Close}
	for _, d := range dead {
		if f.Match(d) && (limit <= 0 || len(out.dead) < limit) {
			out.dead = append(out.dead, d)
		}
	}
	return out, nil
}

type dlqListCmd struct {
	dlqSelect
	Limit int `min:"1" help:"Show at most this many." default:"100"`
}

func (c *dlqListCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	ses, err := c.open(ctx, g, log, c.Limit)
	if err != nil {
		return err
	}
	defer ses.done()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tCONSUMER\tSUBJECT\tDELIVERIES\tREASON")
	for _, d := range ses.dead {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.Format("2006-01-02 15:04:05"), d.Consumer, d.Subject, deliveries(d), d.Reason)
	}
	return tw.Flush()
}

func deliveries(d streams.DeadMsg) string {
	if d.Deliveries == 0 {
		return "-"
	}
	return fmt.Sprint(d.Deliveries)
}

type dlqShowCmd struct {
	dlqSelect
	Limit int `min:"1" help:"Show at most this many." default:"10"`
}

func (c *dlqShowCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	ses, err := c.open(ctx, g, log, c.Limit)
	if err != nil {
		return err
	}
	defer ses.done()
	for i, d := range ses.dead {
		if i > 0 {
			fmt.Println()
		}
		showDead(os.Stdout, d)
	}
	if len(ses.dead) == 0 {
		fmt.Println("no dead letter matches")
	}
	return nil
}

// showDead prints one dead letter for a person: where it came from, why it
// is here, its headers and its body (indented when it is JSON).
func showDead(w io.Writer, d streams.DeadMsg) {
	fmt.Fprintf(w, "dead letter %d, %s\n", d.Seq, d.Time.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(w, "  consumer:   %s\n", d.Consumer)
	fmt.Fprintf(w, "  subject:    %s\n", d.Subject)
	if d.Stream != "" {
		fmt.Fprintf(w, "  original:   %s sequence %d\n", d.Stream, d.StreamSeq)
	}
	fmt.Fprintf(w, "  deliveries: %s\n", deliveries(d))
	fmt.Fprintf(w, "  reason:     %s\n", d.Reason)
	fmt.Fprintln(w, "  headers:")
	for _, k := range slices.Sorted(maps.Keys(d.Msg.Header)) {
		fmt.Fprintf(w, "    %s: %s\n", k, strings.Join(d.Msg.Header[k], ", "))
	}
	fmt.Fprintln(w, "  body:")
	var indented bytes.Buffer
	if json.Indent(&indented, d.Msg.Data, "    ", "  ") == nil {
		fmt.Fprintf(w, "    %s\n", indented.Bytes())
	} else {
		fmt.Fprintf(w, "    %q\n", d.Msg.Data)
	}
}

type dlqReplayCmd struct {
	dlqSelect
}

// Validate makes a replay of nothing named a usage error (exit 2).
func (c *dlqReplayCmd) Validate() error {
	if c.filter().Empty() {
		return errors.New("name the dead letters to replay: --seq N (repeatable), --consumer NAME, --subject PATTERN or --reason TEXT")
	}
	return nil
}

func (c *dlqReplayCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	ses, err := c.open(ctx, g, log, 0)
	if err != nil {
		return err
	}
	defer ses.done()
	byConsumer := map[string][]streams.DeadMsg{}
	for _, d := range ses.dead {
		byConsumer[d.Consumer] = append(byConsumer[d.Consumer], d)
	}
	var errs []error
	for _, consumer := range slices.Sorted(maps.Keys(byConsumer)) {
		r, err := streams.Redrive(ctx, ses.js, consumer, byConsumer[consumer])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n := len(r.Redriven); n > 0 {
			fmt.Printf("%s: %d dead letter(s) delivered again to %s only (its replay consumer; `edgesync replay --connector %s` shows its progress)\n", consumer, n, consumer, consumer)
		}
		for _, k := range r.Kept {
			fmt.Printf("%s: dead letter %d kept: %s\n", consumer, k.Seq, k.Why)
		}
		if r.More > 0 {
			fmt.Printf("%s: %d more wait for the next run, once this redrive is done\n", consumer, r.More)
		}
	}
	if len(ses.dead) == 0 {
		fmt.Println("no dead letter matches")
	}
	return errors.Join(errs...)
}

type dlqDropCmd struct {
	dlqSelect
	All bool `help:"Drop every dead letter."`
}

// Validate makes a drop of nothing named a usage error (exit 2): dropping
// every dead letter takes --all.
func (c *dlqDropCmd) Validate() error {
	if c.filter().Empty() && !c.All {
		return errors.New("name the dead letters to drop: --seq N (repeatable), --consumer NAME, --subject PATTERN, --reason TEXT, or --all")
	}
	return nil
}

func (c *dlqDropCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	ses, err := c.open(ctx, g, log, 0)
	if err != nil {
		return err
	}
	defer ses.done()
	if err := streams.Drop(ctx, ses.js, ses.dead); err != nil {
		return err
	}
	for _, d := range ses.dead {
		log.Info("dropped", "seq", d.Seq, "consumer", d.Consumer, "subject", d.Subject)
	}
	fmt.Printf("%d dead letter(s) dropped\n", len(ses.dead))
	return nil
}
