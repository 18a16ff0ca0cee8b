package logctx_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/edgesync/edgesync/internal/logctx"
)

// A line logged with a context names what the context carries; one
// logged without it does not.
func TestALineNamesTheRecordOfItsContext(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(logctx.Handler(slog.NewTextHandler(&out, nil))).With("role", "connector")
	ctx := logctx.With(context.Background(), "subject", "edge.customer.001.000042")
	ctx = logctx.With(ctx, "edge_key", "001-000042")
	log.WarnContext(ctx, "partner call failed; retrying", "call", "POST /v4/contacts")
	log.Info("no context")
	assert.Contains(t, out.String(), `msg="partner call failed; retrying" role=connector call="POST /v4/contacts" subject=edge.customer.001.000042 edge_key=001-000042`)
	assert.Contains(t, out.String(), `msg="no context" role=connector`+"\n")
}
