// Package natstest starts real embedded JetStream servers for tests. There is
// no mock of NATS anywhere in edgesync.
package natstest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/internal/broker"
	"github.com/edgesync/edgesync/streams"
)

// Server is an embedded JetStream server with one client connection.
type Server struct {
	*broker.Embedded
	Dir string
	NC  *nats.Conn
	JS  jetstream.JetStream
}

// Start runs a durable embedded server in a fresh directory, provisions
// edgesync's streams and closes everything when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn runs the server on dir, so a test can restart on the same data.
func StartIn(t testing.TB, dir string) *Server {
	t.Helper()
	emb, err := broker.StartEmbedded(broker.EmbeddedConfig{Dir: dir})
	require.NoError(t, err)
	nc, err := emb.Connect(t.Name())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, streams.Provision(context.Background(), js, streams.DefaultConfig()))
	s := &Server{Embedded: emb, Dir: dir, NC: nc, JS: js}
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the connection and shuts the server down; calling it twice is
// harmless, so a test can stop a server early to restart it.
func (s *Server) Stop() {
	if s.NC != nil {
		s.NC.Close()
		s.NC = nil
		s.Embedded.Shutdown()
	}
}

// Messages reads every message a stream holds, in order.
func Messages(t testing.TB, js jetstream.JetStream, stream string) []jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var out []jetstream.RawStreamMsg
	if info.State.Msgs == 0 {
		return out
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted by a per-subject limit
		}
		out = append(out, *m)
	}
	return out
}
