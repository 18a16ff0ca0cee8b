// Command edgesync is one binary with one role per subcommand: each role
// runs as its own container, and `edgesync demo` runs them all in one
// process. This file only parses configuration, builds the pieces and
// handles signals; behaviour lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	_ "time/tzdata" // --edge-time-zone on an image FROM scratch and on Windows, which have no zone database

	"github.com/alecthomas/kong"
	"github.com/nats-io/nats.go"

	"github.com/edgesync/edgesync/connectors/clientbook"
	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/internal/logctx"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type cli struct {
	Globals

	Demo      demoCmd      `cmd:"" help:"Run every role in one process on an embedded JetStream, with the Edge simulator and the Podium emulator."`
	Streams   streamsCmd   `cmd:"" help:"Provision and inspect edgesync's streams and buckets."`
	Reconcile reconcileCmd `cmd:"" help:"Compare a partner with Edge (every linked customer, every partner record) and report the differences by kind; --repair puts both sides back by the rules."`
	Trace     traceCmd     `cmd:"" help:"Follow one customer through the pipeline: its Edge events, each connector's state and link, its partner-side events, its dead letters."`
	Chain     chainCmd     `cmd:"" help:"Set up a chain of stores around one hub: certificates, each store's credential, the hub's NATS configuration."`
	Store     storeCmd     `cmd:"" help:"Run a chain store's part: a NATS leaf node of the hub holding the store's own stream, and capture into it (durable through an internet outage)."`
	Capture   captureCmd   `cmd:"" help:"Publish every change in the Edge database (SQL Server Change Tracking) to the EDGE stream."`
	Edge      edgeCmd      `cmd:"" help:"Inspect the Edge database."`
	Webhooks  webhooksCmd  `cmd:"" help:"Receive partner webhooks: verify, store in the PARTNER stream, then answer."`
	Writer    writerCmd    `cmd:"" help:"Write partner changes into Edge by the merge rules, each event once."`
	DLQ       dlqCmd       `cmd:"" name:"dlq" help:"Inspect and replay dead letters."`
	Connector connectorCmd `cmd:"" help:"Run a partner connector (a durable consumer on the EDGE stream)."`
	Replay    replayCmd    `cmd:"" help:"Replay events to a running connector (backfill, or after fixing a cause): from the start, since a time, or the latest state of each aggregate."`
	Config    configCmd    `cmd:"" help:"Check or describe the YAML configuration file (--config)."`
	Sim       simCmd       `cmd:"" help:"Run the Edge simulator or a partner emulator as a role of its own (demos and tests: compose's demo profile)."`
	Status    statusCmd    `cmd:"" help:"Serve the status page: each connector's lag, partner calls and upload progress, dead letters, capture checkpoints."`
	Probe     probeCmd     `cmd:"" help:"Ask a role's /readyz (or any URL); exit 0 on a 2xx answer: the containers' healthcheck."`
	Service   serviceCmd   `cmd:"" help:"Install, remove, start or stop the store's part (store, capture or writer) as a Windows service (docs/windows.md)."`
	Version   versionCmd   `cmd:"" help:"Print the version."`
}

// Globals are the flags every role shares.
type Globals struct {
	Config    kong.ConfigFlag `help:"YAML file of flag values, keyed by long flag name (deploy/edgesync.yaml); flags and EDGESYNC_ variables win over it."`
	LogLevel  slog.Level      `help:"Log level: debug, info, warn, error." default:"info"`
	LogFormat string          `help:"Log format: text or json." enum:"text,json" default:"text"`
	Metrics   string          `name:"metrics-addr" help:"Serve Prometheus metrics on this address (e.g. :9090); off when empty."`
	Pprof     bool            `name:"pprof" help:"Also serve Go's profiles (/debug/pprof/) on --metrics-addr, to find where a role spends its time; keep that address off open networks."`

	NATSURL     string `name:"nats-url" help:"NATS server URL(s), comma-separated." default:"nats://127.0.0.1:4222"`
	NATSCreds   string `name:"nats-creds" help:"NATS credentials file (JWT + seed)." type:"existingfile"`
	NATSNKey    string `name:"nats-nkey" help:"NATS nkey seed file." type:"existingfile"`
	NATSUser    string `name:"nats-user" help:"NATS user of this role (deploy/nats-server.conf: capture, connector-podium, ...)."`
	NATSPass    string `name:"nats-password" secret:"" help:"Password of --nats-user (prefer EDGESYNC_NATS_PASSWORD)."`
	NATSTLSCert string `name:"nats-tls-cert" help:"Client certificate for mutual TLS." type:"existingfile"`
	NATSTLSKey  string `name:"nats-tls-key" help:"Client key for mutual TLS." type:"existingfile"`
	NATSTLSCA   string `name:"nats-tls-ca" help:"CA bundle that signs the NATS server certificate." type:"existingfile"`

	// WindowsService is set by `service install` on the service's own
	// command line: started by the service manager, the role runs as that
	// service and logs to the event log.
	WindowsService string `name:"windows-service" hidden:""`

	// fail ends the role with a cause; nil in tests that parse only.
	fail context.CancelCauseFunc
	// conns are the NATS connections the command made, for explaining
	// its failure (a refused permission only shows as a timeout).
	conns []*nats.Conn
}

func (g *Globals) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: g.LogLevel}
	// Lines logged while a record is handled name it (logctx).
	if g.LogFormat == "json" {
		return slog.New(logctx.Handler(slog.NewJSONHandler(os.Stderr, opts)))
	}
	return slog.New(logctx.Handler(slog.NewTextHandler(os.Stderr, opts)))
}

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println("edgesync", version)
	return nil
}

func main() {
	var c cli
	parser, err := newParser(&c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgesync:", err)
		os.Exit(2)
	}
	kctx, err := parse(parser, &c, os.Args[1:])
	if err != nil {
		usageError(kctx, err)
	}
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// A role whose NATS connection closed for good ends with the reason
	// (Globals.fail), and exits 1 so its supervisor starts it afresh.
	ctx, fail := context.WithCancelCause(sigCtx)
	c.Globals.fail = fail
	log := c.Globals.logger()
	service := asService(c.Globals.WindowsService)
	if service {
		svcLog, closeLog, err := serviceLogger(c.Globals.WindowsService, c.Globals.LogLevel)
		if err != nil {
			log.Error("edgesync service cannot log to the event log; logging to stderr", "err", err)
		} else {
			defer closeLog()
			log = svcLog
		}
	}
	// Every line says which role and which build wrote it: one log
	// collector gathers every container's.
	log = log.With("role", kctx.Command(), "version", version)
	// Deferred after stop, so run before it: a command that ends on its
	// own says nothing of a signal.
	defer context.AfterFunc(sigCtx, func() {
		log.Info("stopping on a signal: finishing what is in hand (at most 10 s), then exiting")
	})()
	for _, key := range secretsReadFromFile {
		log.Warn("a secret is read from the configuration file; set it in the environment instead (`edgesync config check` names the variable)", "key", key)
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(&c.Globals, log, parser)
	if service {
		err = runService(c.Globals.WindowsService, fail, func() error { return kctx.Run() })
	} else {
		err = kctx.Run()
	}
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if err != nil {
		log.Error("edgesync failed", "command", kctx.Command(), "err", explainRefusal(err, &c.Globals))
		os.Exit(1)
	}
}

// explainRefusal adds to err, when NATS refused one of the command's
// connections a permission, who was refused what: the request behind it
// only timed out ("context deadline exceeded").
func explainRefusal(err error, g *Globals) error {
	for _, nc := range g.conns {
		if last := nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) {
			return fmt.Errorf("%w; %s", err, broker.Refusal(g.NATSUser, last))
		}
	}
	return err
}

// newParser is the command line of c.
func newParser(c *cli) (*kong.Kong, error) {
	var parser *kong.Kong
	parser, err := kong.New(c,
		kong.Name("edgesync"),
		kong.Description("Change-data-capture from The Edge point of sale to Podium and Clientbook, on NATS JetStream.\n\n"+
			"Every flag can also be set by an environment variable: --nats-url is EDGESYNC_NATS_URL, and so on."),
		kong.DefaultEnvars("EDGESYNC"),
		kong.Vars{"clientbook_workers": strconv.Itoa(clientbook.DefaultWorkers)},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Configuration(configLoader(func() map[string]any { return configSchema(parser.Model) })),
	)
	return parser, err
}

// parse reads args into c and checks what kong cannot: map entries with
// an empty side, numbers out of their range, flags that go together.
func parse(parser *kong.Kong, c *cli, args []string) (*kong.Context, error) {
	kctx, err := parser.Parse(args)
	if err == nil {
		err = checkMapFlags(kctx)
	}
	if err == nil {
		err = checkRanges(kctx)
	}
	if err == nil && c.Globals.Pprof && c.Globals.Metrics == "" {
		err = errors.New("--pprof needs --metrics-addr: the profiles are served there")
	}
	return kctx, err
}

// usageError prints what is wrong on one line and where the help is, not
// the whole help text, which would push the error off the screen.
func usageError(kctx *kong.Context, err error) {
	var perr *kong.ParseError
	if errors.As(err, &perr) && perr.Context != nil {
		kctx = perr.Context
	}
	cmd := "edgesync"
	if kctx != nil {
		if sel := kctx.Selected(); sel != nil {
			cmd = "edgesync " + sel.FullPath()
			cmd = strings.Replace(cmd, "edgesync edgesync", "edgesync", 1)
		}
	}
	fmt.Fprintf(os.Stderr, "edgesync: error: %v\nRun '%s --help' for usage.\n", err, cmd)
	os.Exit(2)
}

// checkMapFlags refuses a map flag with an empty side (--podium-location
// 001=): kong accepts it, and the role would then sync a store to nowhere.
func checkMapFlags(kctx *kong.Context) error {
	for _, f := range kctx.Flags() {
		v := f.Target
		if v.Kind() != reflect.Map {
			continue
		}
		iter := v.MapRange()
		for iter.Next() {
			k, val := fmt.Sprint(iter.Key().Interface()), fmt.Sprint(iter.Value().Interface())
			if strings.TrimSpace(k) == "" || strings.TrimSpace(val) == "" {
				return fmt.Errorf("--%s %q: want KEY=VALUE with both sides set", f.Name, k+"="+val)
			}
		}
	}
	return nil
}
