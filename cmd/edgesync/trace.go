package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/edgesync/edgesync/internal/trace"
)

type traceCmd struct {
	Query string `arg:"" help:"An Edge key (001-000042), the Podium contact identifier or Clientbook client id edgesync links it to, or a customer's email or phone."`
	JSON  bool   `name:"json" help:"Print the trace as JSON."`
}

func (c *traceCmd) Run(ctx context.Context, g *Globals, log *slog.Logger) error {
	nc, js, err := connect(ctx, g, log, "edgesync-trace")
	if err != nil {
		return err
	}
	defer nc.Close()
	t, err := trace.Customer(ctx, js, c.Query)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(t)
	}
	return t.Write(os.Stdout)
}
