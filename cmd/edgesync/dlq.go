package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/edgesync/edgesync/streams"
)

type dlqCmd struct {
	List   dlqListCmd   `cmd:"" help:"List dead letters: the original subject, the consumer that refused it and why."`
	Replay dlqReplayCmd `cmd:"" help:"Deliver dead letters again on their original subject once the cause is fixed, and remove them from the DLQ."`
}

type dlqListCmd struct {
	Limit int `min:"1" help:"Show at most this many." default:"100"`
}

func (c *dlqListCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	nc, js, err := connect(ctx, g, log, "edgesync-dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	dead, err := streams.DeadLetters(ctx, js, c.Limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tCONSUMER\tSUBJECT\tREASON")
	for _, d := range dead {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.Format("2006-01-02 15:04:05"), d.Consumer, d.Subject, d.Reason)
	}
	return tw.Flush()
}

type dlqReplayCmd struct {
	Seq      []uint64 `help:"DLQ sequence numbers to replay (see dlq list)."`
	Consumer string   `help:"Replay every dead letter of this consumer."`
}

func (c *dlqReplayCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	if len(c.Seq) == 0 && c.Consumer == "" {
		return fmt.Errorf("name the dead letters to replay: --seq N (repeatable) or --consumer NAME")
	}
	nc, js, err := connect(ctx, g, log, "edgesync-dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	dead, err := streams.DeadLetters(ctx, js, 0)
	if err != nil {
		return err
	}
	want := map[uint64]bool{}
	for _, s := range c.Seq {
		want[s] = true
	}
	n := 0
	for _, d := range dead {
		if !want[d.Seq] && (c.Consumer == "" || d.Consumer != c.Consumer) {
			continue
		}
		if err := streams.Replay(ctx, js, d); err != nil {
			return err
		}
		n++
		log.Info("replayed", "seq", d.Seq, "subject", d.Subject, "consumer", d.Consumer)
	}
	fmt.Printf("%d dead letters replayed\n", n)
	return nil
}
