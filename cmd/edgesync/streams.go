package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/streams"
)

type streamsCmd struct {
	Init       streamsInitCmd       `cmd:"" help:"Create or update the EDGE, PARTNER and DLQ streams and the KV buckets. Safe to run again."`
	Status     streamsStatusCmd     `cmd:"" help:"Show messages per stream and each consumer's backlog."`
	Backup     streamsBackupCmd     `cmd:"" help:"Write every edgesync stream and bucket (messages, consumers and their positions) to a directory; stop the roles first."`
	Restore    streamsRestoreCmd    `cmd:"" help:"Put a backup into a NATS that holds no edgesync stream yet (a new cluster), consumers and positions included."`
	CheckStore streamsCheckStoreCmd `cmd:"" name:"check-store" help:"Before NATS starts on a volume: refuse a switch between one server and a cluster that would lose the state there."`
}

type streamsBackupCmd struct {
	Dir string `required:"" help:"Directory to write the backup to (one directory per stream)." type:"path"`
}

func (c *streamsBackupCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	nc, _, err := connect(ctx, g, log, "edgesync-backup")
	if err != nil {
		return err
	}
	defer nc.Close()
	backed, err := streams.Backup(ctx, nc, c.Dir)
	for _, b := range backed {
		fmt.Printf("%-26s %8d messages %3d consumers %10d bytes\n", b.Stream, b.Messages, b.Consumers, b.Bytes)
	}
	if err != nil {
		return err
	}
	fmt.Printf("backed up %d streams and buckets to %s\n", len(backed), c.Dir)
	return nil
}

type streamsRestoreCmd struct {
	Dir      string        `required:"" help:"Directory a backup was written to." type:"existingdir"`
	Replicas int           `min:"1" help:"Replicas per stream and bucket: 1 on one server, 3 on a cluster." default:"1"`
	Wait     time.Duration `min:"0s" help:"Wait this long for JetStream to answer first (a cluster electing its leader)." default:"0"`
}

func (c *streamsRestoreCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	nc, js, err := connect(ctx, g, log, "edgesync-restore")
	if err != nil {
		return err
	}
	defer nc.Close()
	// Nothing is restored until JetStream answers: a cluster that has
	// not elected its leader yet would refuse the first stream.
	for deadline := time.Now().Add(c.Wait); ; {
		_, err := js.AccountInfo(ctx)
		if err == nil || !time.Now().Before(deadline) {
			if err != nil {
				return fmt.Errorf("restore: JetStream does not answer: %w", err)
			}
			break
		}
		log.Info("waiting for JetStream to answer", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	restored, err := streams.Restore(ctx, nc, c.Dir, c.Replicas)
	for _, b := range restored {
		fmt.Printf("%-26s %8d messages %3d consumers, %d replica(s)\n", b.Stream, b.Messages, b.Consumers, c.Replicas)
	}
	if err != nil {
		return err
	}
	fmt.Printf("restored %d streams and buckets from %s\n", len(restored), c.Dir)
	return nil
}

type streamsCheckStoreCmd struct {
	Dir      string `required:"" help:"The NATS server's store_dir." type:"path"`
	Replicas int    `min:"1" help:"The replicas the deployment runs with: more than 1 means the server starts as a cluster member." default:"1"`
}

func (c *streamsCheckStoreCmd) Run(log *slog.Logger) error {
	if err := streams.CheckStore(c.Dir, c.Replicas > 1); err != nil {
		return err
	}
	log.Info("the NATS volume can be used as configured", "dir", c.Dir, "cluster_member", c.Replicas > 1)
	return nil
}

type streamsInitCmd struct {
	Replicas          int           `min:"1" help:"Replicas per stream and bucket: 1 on one server, 3 on a cluster." default:"1"`
	Duplicates        time.Duration `min:"1s" help:"Dedupe window for Nats-Msg-Id; must cover a capture restart." default:"15m"`
	EdgeMaxAge        time.Duration `min:"0s" help:"How long Edge events are kept; 0 keeps them (bounded by --edge-max-per-subject)." default:"0"`
	EdgeMaxPerSubject int64         `min:"0" help:"States kept per Edge aggregate; 0 keeps all." default:"16"`
	PartnerMaxAge     time.Duration `min:"1h" help:"How long partner events are kept." default:"720h"`
	DLQMaxAge         time.Duration `name:"dlq-max-age" min:"1h" help:"How long dead letters are kept." default:"2160h"`
	Stores            []string      `name:"store" help:"A store with a leaf node of its own (edgesync store): the hub's EDGE stream sources its events; repeat per store, e.g. --store 001 --store 002."`
	Wait              time.Duration `min:"0s" help:"Try again until this much time has passed: NATS starting, a cluster electing its leader (compose starts everything at once)." default:"0"`
}

func (c *streamsInitCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	deadline := time.Now().Add(c.Wait)
	for {
		err := c.provision(ctx, g, log)
		if err == nil || !time.Now().Before(deadline) || ctx.Err() != nil {
			return err
		}
		log.Warn("provisioning failed; trying again", "err", err, "until", deadline.Format(time.TimeOnly))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(2 * time.Second):
		}
	}
}

func (c *streamsInitCmd) provision(ctx context.Context, g *Globals, log *slog.Logger) error {
	nc, js, err := connect(ctx, g, log, "edgesync-streams")
	if err != nil {
		return err
	}
	defer nc.Close()
	cfg := streams.Config{
		Replicas: c.Replicas, Duplicates: c.Duplicates, EdgeMaxAge: c.EdgeMaxAge, EdgeMaxPerSubject: c.EdgeMaxPerSubject,
		PartnerMaxAge: c.PartnerMaxAge, DLQMaxAge: c.DLQMaxAge, Stores: c.Stores,
	}
	if err := checkStores("--store", c.Stores); err != nil {
		return err
	}
	if err := streams.Provision(ctx, js, cfg); err != nil {
		return err
	}
	log.Info("streams and buckets provisioned", "replicas", c.Replicas, "duplicates", c.Duplicates)
	return nil
}

type streamsStatusCmd struct{}

func (streamsStatusCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	nc, js, err := connect(ctx, g, log, "edgesync-status")
	if err != nil {
		return err
	}
	defer nc.Close()
	sts, err := streams.Status(ctx, js)
	if err != nil {
		return err
	}
	return streams.WriteStatus(os.Stdout, sts)
}

func connect(ctx context.Context, g *Globals, log *slog.Logger, name string) (*nats.Conn, jetstream.JetStream, error) {
	return connectWith(ctx, g, log, name, false)
}

// connectInBackground connects a role that can do useful work while NATS
// is away: it gets its connection at once, and nats.go connects when it
// can (broker.ConnectConfig.Background).
func connectInBackground(ctx context.Context, g *Globals, log *slog.Logger, name string) (*nats.Conn, jetstream.JetStream, error) {
	return connectWith(ctx, g, log, name, true)
}

func connectWith(ctx context.Context, g *Globals, log *slog.Logger, name string, background bool) (*nats.Conn, jetstream.JetStream, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	nc, err := broker.Connect(cctx, broker.ConnectConfig{
		URL: g.NATSURL, Name: name, CredsFile: g.NATSCreds, NKeyFile: g.NATSNKey, User: g.NATSUser, Password: g.NATSPass,
		TLSCert: g.NATSTLSCert, TLSKey: g.NATSTLSKey, TLSCA: g.NATSTLSCA, Background: background,
		OnClosed: func(err error) {
			if g.fail != nil {
				g.fail(fmt.Errorf("nats connection closed for good (%w); exiting so the role is started afresh", err))
			}
		},
	}, log)
	if err != nil {
		return nil, nil, err
	}
	g.conns = append(g.conns, nc)
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}
