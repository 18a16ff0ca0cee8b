package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/internal/edgesql"
	"github.com/edgesync/edgesync/internal/health"
	"github.com/edgesync/edgesync/internal/site"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
)

// edgeDB holds the flags that reach The Edge's database.
type edgeDB struct {
	MSSQLDSN    string `name:"mssql-dsn" secret:"" help:"go-mssqldb DSN of the Edge database, e.g. sqlserver://edgesync:PASSWORD@server?database=Edge (prefer EDGESYNC_MSSQL_DSN)."`
	EdgeMapping string `name:"edge-mapping" help:"JSON file naming the site's Edge tables and columns, laid over the default (schemas/edge-mapping.json)." type:"existingfile"`
	EdgeSim     string `name:"edge-simulator" help:"URL of an Edge simulator (edgesync sim edge) to use instead of SQL Server: demos and tests only."`
	TimeZone    string `name:"edge-time-zone" help:"Time zone The Edge's clock runs in, as an IANA name (America/Chicago: the store server's zone); required with --mssql-dsn, since The Edge writes local times and a container's clock is UTC."`
}

// source opens the Edge database (SQL Server, or the simulator served by
// edgesync sim edge) for role ("capture", "writer", or "store" for both),
// checks that it is set up for that role and tells the DBA what to run
// when not. The caller calls closeFn when done.
func (e edgeDB) source(ctx context.Context, log *slog.Logger, role string) (src site.Edge, closeFn func(), err error) {
	if e.EdgeSim != "" {
		if e.MSSQLDSN != "" {
			return nil, nil, errors.New("--mssql-dsn and --edge-simulator: choose one")
		}
		sim := edgesim.Dial(e.EdgeSim)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := sim.Ready(cctx); err != nil {
			return nil, nil, err
		}
		log.Warn("reading and writing the Edge simulator, not SQL Server", "url", e.EdgeSim)
		return sim, func() {}, nil
	}
	if role != "capture" {
		m, err := schemas.LoadMapping(e.EdgeMapping)
		if err != nil {
			return nil, nil, err
		}
		if missing := unnumbered(m); len(missing) > 0 {
			return nil, nil, fmt.Errorf("the edge mapping (--edge-mapping) chooses no numbering for new %s: the Edge writer will not guess how The Edge numbers them (identity, counter or max; `edgesync edge check` says which columns are IDENTITY; docs/edge-access.md, Numbering)",
				strings.Join(missing, ", "))
		}
	}
	db, r, err := e.openChecked(ctx)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case role != "writer" && !r.OK():
		db.Close()
		fmt.Fprintf(os.Stderr, "The Edge database is not ready for capture. A DBA can run:\n\n%s\n(or run `edgesync edge check --enable` as a login allowed to ALTER DATABASE)\n", r.Script())
		return nil, nil, errors.New("change tracking is not set up")
	case role != "capture" && !r.WriterOK():
		db.Close()
		fmt.Fprintf(os.Stderr, "The Edge writer lacks tables or permissions. A DBA can run:\n\n%s\n", r.Script())
		return nil, nil, errors.New("the Edge writer is not set up (or run `edgesync edge check --enable` for edgesync's own tables)")
	}
	log.Info("edge database ready", "database", r.Database, "user", r.User, "retention_days", r.RetentionDays, "compatibility_level", r.CompatibilityLevel)
	return db, func() { db.Close() }, nil
}

// unnumbered are the sequences the Edge writer creates rows of and the
// mapping chooses no numbering for.
func unnumbered(m schemas.Mapping) []string {
	var out []string
	for _, seq := range schemas.NumberSequences {
		if _, ok := m.Numbering[seq]; !ok {
			out = append(out, seq)
		}
	}
	return out
}

func (e edgeDB) open(ctx context.Context) (*edgesql.DB, error) {
	if e.MSSQLDSN == "" {
		return nil, errors.New("--mssql-dsn (or EDGESYNC_MSSQL_DSN) is required; --edge-simulator URL instead runs against the simulator")
	}
	m, err := schemas.LoadMapping(e.EdgeMapping)
	if err != nil {
		return nil, err
	}
	if e.TimeZone == "" {
		return nil, errors.New("--edge-time-zone (or EDGESYNC_EDGE_TIME_ZONE) is required with --mssql-dsn: the zone The Edge's clock runs in, e.g. America/Chicago (the store server's time zone)")
	}
	zone, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("--edge-time-zone %q: not a time zone name such as America/Chicago: %w", e.TimeZone, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return edgesql.Open(cctx, e.MSSQLDSN, m, zone)
}

// openChecked opens the database and reads its set-up; the caller closes it.
func (e edgeDB) openChecked(ctx context.Context) (*edgesql.DB, edgesql.Report, error) {
	db, err := e.open(ctx)
	if err != nil {
		return nil, edgesql.Report{}, err
	}
	r, err := db.Check(ctx)
	if err != nil {
		db.Close()
		return nil, edgesql.Report{}, err
	}
	return db, r, nil
}

// edgeReady is the readiness check of a role that needs the Edge database.
func edgeReady(db capture.ChangeSource) health.Check {
	return health.Check{Name: "edge database", Fn: func(ctx context.Context) error {
		_, err := db.CurrentVersion(ctx)
		return err
	}}
}

// checkStores rejects store codes that are not three digits.
func checkStores(flag string, stores []string) error {
	for _, s := range stores {
		if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
			return fmt.Errorf("%s: store %q must be three digits, e.g. 001", flag, s)
		}
	}
	return nil
}

type captureCmd struct {
	edgeDB
	Site     string        `help:"Name of this Edge database; it prefixes checkpoints and forms the events' source." default:"edge"`
	Poll     time.Duration `min:"10ms" help:"How often to read changes; a poll that finds nothing costs SQL Server one CHANGE_TRACKING_CURRENT_VERSION() query." default:"250ms"`
	Entities []string      `help:"Entities to capture (default: all): customer, wishlist, note, sale, appointment, service, item, notification."`
	DryRun   bool          `name:"dry-run" help:"Read a snapshot page and the change list of every entity, check each event as capture would publish it (JSON Schema, size, key), print counts, timings and the first problems; publish and write nothing, and need no NATS. Exits 1 when anything would not pass."`
	DryRows  int           `name:"dry-run-rows" min:"1" help:"Aggregates the dry run reads per entity, from the snapshot and from the change list each." default:"500"`
}

func (c *captureCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	var entities []schemas.Entity
	for _, e := range c.Entities {
		if !schemas.Entity(e).Valid() {
			return fmt.Errorf("--entities: unknown entity %q", e)
		}
		entities = append(entities, schemas.Entity(e))
	}
	db, closeDB, err := c.source(ctx, log, "capture")
	if err != nil {
		return err
	}
	defer closeDB()
	if c.DryRun {
		r, err := capture.DryRun(ctx, db, entities, c.DryRows, streams.DefaultMaxPayload) // a dry run connects to no server
		if err != nil {
			return err
		}
		if err := r.Write(os.Stdout); err != nil {
			return err
		}
		if n := r.Problems(); n > 0 {
			return fmt.Errorf("dry run: %d problem(s)", n)
		}
		return nil
	}
	nc, js, err := connect(ctx, g, log, "edgesync-capture")
	if err != nil {
		return err
	}
	defer nc.Close()
	var running atomic.Pointer[capture.Capture]
	reg := metricsRegistry(ctx, g, log, health.NATS(nc), health.Stream(js, streams.StreamEdge),
		edgeReady(db), health.Check{Name: "capture cycles", Fn: func(ctx context.Context) error {
			if cpt := running.Load(); cpt != nil {
				return cpt.Ready(ctx)
			}
			return errors.New("starting")
		}})
	cpt, err := capture.New(ctx, db, js, capture.Config{
		Site: c.Site, PollInterval: c.Poll, Entities: entities, Metrics: capture.NewMetrics(reg),
	}, log)
	if err != nil {
		return err
	}
	running.Store(cpt)
	log.Info("capture running", "site", c.Site, "poll", c.Poll)
	return cpt.Run(ctx)
}

type edgeCmd struct {
	Check edgeCheckCmd `cmd:"" help:"Check Change Tracking, snapshot isolation and permissions on the Edge database; print the SQL a DBA must run."`
}

type edgeCheckCmd struct {
	edgeDB
	Enable bool `help:"Turn on what is missing (needs ALTER permission on the database); grants stay for the DBA."`
}

func (c *edgeCheckCmd) Run(ctx context.Context) error {
	if c.EdgeSim != "" {
		return errors.New("--edge-simulator: edge check reads SQL Server; the simulator needs no set-up")
	}
	if c.TimeZone == "" {
		c.TimeZone = "UTC" // edge check reads no times
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := db.Check(ctx)
	if err != nil {
		return err
	}
	if !r.OK() && c.Enable {
		if err := db.Enable(ctx, r); err != nil {
			return err
		}
		if r, err = db.Check(ctx); err != nil {
			return err
		}
	}
	retention := fmt.Sprintf("%d days", r.RetentionDays)
	if r.RetentionDays < 0 {
		retention = "unknown: this login cannot read sys.change_tracking_databases (VIEW DATABASE STATE)"
	}
	fmt.Printf("Database %s, user %s, compatibility level %d (any level will do), change retention %s.\n", r.Database, r.User, r.CompatibilityLevel, retention)
	if r.OK() && r.WriterOK() {
		fmt.Println("Ready for capture and for the Edge writer.")
		return nil
	}
	if r.OK() {
		fmt.Printf("Ready for capture. For the Edge writer (writer and store roles), run as a DBA:\n\n%s", r.Script())
		return nil
	}
	fmt.Printf("Not ready for capture. Run as a DBA:\n\n%s", r.Script())
	return errors.New("the Edge database is not set up for capture")
}
