// Package broker gives edgesync its NATS connection: an embedded JetStream
// server for the demo and the tests, or a connection to an external NATS
// (credentials file, nkey seed or TLS) for production.
package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures an in-process JetStream server.
type EmbeddedConfig struct {
	// Dir holds the JetStream file store. Required: the embedded server is
	// durable, so a restart on the same Dir resumes where it stopped.
	Dir string
	// Host and Port to listen on; Port 0 means no TCP listener beyond a random
	// loopback port (the in-process connection still works), -1 a random port.
	Host string
	Port int
	// LazySync turns off fsync on every write and falls back to the server's
	// two-minute sync interval. It is faster, and it can lose acknowledged
	// writes on power failure (Jepsen, NATS 2.12.1, December 2025): only for
	// throwaway data.
	LazySync bool
	// Name of the server; defaults to "edgesync".
	Name string
	// Domain is the server's JetStream domain: a store's leaf node has its
	// own, so its streams are its own, and the hub reaches them by name.
	Domain string
	// Hub, when set, makes the server a leaf node of the hub (see Leaf).
	Hub *Leaf
}

// Leaf is how a store's server reaches the hub.
type Leaf struct {
	URLs     []string // the hub's leaf node addresses, tls://hub:7422 (nats-leaf:// without TLS)
	User     string   // the store's own credential on the hub
	Password string
	// CAFile is the CA bundle that signed the hub's leaf node certificate;
	// setting it turns TLS on. A tls:// URL without it verifies the hub
	// against the system's roots.
	CAFile string
}

// tlsConfig is the TLS the link to the hub uses, or nil for none.
func (l Leaf) tlsConfig() (*tls.Config, error) {
	useTLS := l.CAFile != ""
	for _, raw := range l.URLs {
		useTLS = useTLS || strings.HasPrefix(raw, "tls://")
	}
	if !useTLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if l.CAFile != "" {
		pem, err := os.ReadFile(l.CAFile)
		if err != nil {
			return nil, fmt.Errorf("hub CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("hub CA %s: no PEM certificate in it", l.CAFile)
		}
	}
	return cfg, nil
}

// leafOnly are the subjects that never cross a leaf connection as plain
// messages: a store's Edge events reach the hub only by the hub's sourcing
// of the store's stream (so an outage buffers them at the store and the
// Nats-Msg-Id contract holds), and the hub's own edge publishes never land
// in a store's stream.
var leafOnly = []string{"edge.>"}

// Embedded is a running in-process NATS server with JetStream.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts an embedded server and waits until it takes clients.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, errors.New("start embedded nats: a data directory is required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	name := cfg.Name
	if name == "" {
		name = "edgesync"
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := cfg.Port
	if port == 0 {
		port = -1
	}
	if port > 0 {
		// The server only logs a failed listen and then never gets ready:
		// check first so the user gets an answer, not a 30s wait.
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: port %d is in use (another NATS or demo?): choose another port, or 0 for any: %w", port, err)
		}
		l.Close()
	}
	opts := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Clean(cfg.Dir),
		NoSigs:     true,
		NoLog:      true,
	}
	if !cfg.LazySync {
		opts.SyncAlways = true
	}
	opts.JetStreamDomain = cfg.Domain
	if cfg.Hub != nil {
		remote := &server.RemoteLeafOpts{DenyExports: leafOnly, DenyImports: leafOnly}
		for _, raw := range cfg.Hub.URLs {
			u, err := url.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("start embedded nats: hub url %q: %w", redactURL(raw), errors.Unwrap(err))
			}
			if cfg.Hub.User != "" {
				u.User = url.UserPassword(cfg.Hub.User, cfg.Hub.Password)
			}
			remote.URLs = append(remote.URLs, u)
		}
		tc, err := cfg.Hub.tlsConfig()
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: %w", err)
		}
		if tc != nil {
			remote.TLS, remote.TLSConfig, remote.TLSTimeout = true, tc, 5
		}
		opts.LeafNode.Remotes = []*server.RemoteLeafOpts{remote}
		opts.LeafNode.ReconnectInterval = time.Second
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start embedded nats: not ready after 30s")
	}
	return &Embedded{srv: srv}, nil
}

// LeafConnected reports whether the leaf node connection to the hub is up.
func (e *Embedded) LeafConnected() bool { return e.srv.NumLeafNodes() > 0 }

// URL is the client URL of the embedded server.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Connect opens a client connection to the embedded server.
func (e *Embedded) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect(e.URL(), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	return nc, nil
}

// InboxPrefix is the reply-subject prefix of a role user's connections.
func InboxPrefix(user string) string { return "_INBOX_" + user }

// Shutdown stops the server and waits for it to finish writing.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// ConnectConfig configures a connection to an external NATS.
type ConnectConfig struct {
	URL       string // nats://host:4222, comma-separated for a cluster
	Name      string // client name shown in server monitoring
	CredsFile string // JWT + seed file (NGS, operator mode)
	// User and Password log in as one of deploy/nats-server.conf's role
	// users. The connection's reply subjects then start with _INBOX_<user>,
	// the only inbox that user may subscribe to, so no role can read
	// another's replies.
	User     string
	Password string
	NKeyFile string // nkey seed file
	TLSCert  string // client certificate for mutual TLS
	TLSKey   string
	TLSCA    string // CA bundle to verify the server
	// Background returns a connection at once, even while no server
	// answers, and connects in the background (nats.go's
	// RetryOnFailedConnect): for a role that can do useful work while NATS
	// is away, as the webhook gateway can with its spool.
	Background bool
	// OnClosed is called when the connection closes for good on its own
	// (a server that refused it, a protocol violation), never on Close: a
	// role cannot do its job on a closed connection and should exit so its
	// supervisor starts it afresh.
	OnClosed func(err error)
}

// Refusal says, for a person, what a permissions violation means: which
// user was refused what, and where the users' permissions are set.
func Refusal(user string, violation error) string {
	who := "this connection"
	if user != "" {
		who = "user " + strconv.Quote(user)
	}
	return fmt.Sprintf("%s may not do this (%v). Each role logs in as its own user with only what it needs "+
		"(deploy/nats-server.conf); the operator's commands (streams, replay, dlq, status) need the admin user: "+
		"--nats-user admin with EDGESYNC_NATS_PASSWORD set to its password", who, violation)
}

// Connect dials an external NATS. The returned error never contains
// credentials, only the file paths that were named.
func Connect(ctx context.Context, cfg ConnectConfig, log *slog.Logger) (*nats.Conn, error) {
	if cfg.URL == "" {
		return nil, errors.New("connect to nats: no URL (set --nats-url or EDGESYNC_NATS_URL)")
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", nc.ConnectedServerName())
		}),
		// A Close of the role's own (at its end) calls no handler: a
		// permission refused earlier leaves its error as the connection's
		// last, and must not read as the connection dying.
		nats.NoCallbacksAfterClientClose(),
		// A refused permission is answered asynchronously; the request
		// behind it only times out. Say who was refused what, once.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				log.Error("NATS refused a permission: "+Refusal(cfg.User, err), "user", cfg.User)
			}
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			// The server or the client giving up on the connection leaves
			// its error.
			err := nc.LastError()
			if err == nil {
				return
			}
			err = RedactError(err, cfg.URL, cfg.Password)
			log.Error("nats connection closed for good; the role cannot go on", "err", err)
			if cfg.OnClosed != nil {
				cfg.OnClosed(err)
			}
		}),
	}
	if cfg.Background {
		opts = append(opts, nats.RetryOnFailedConnect(true), nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("nats connected", "server", nc.ConnectedServerName())
		}))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password), nats.CustomInboxPrefix(InboxPrefix(cfg.User)))
	}
	if cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("connect to nats: nkey seed %s: %w", cfg.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(cfg.URL, opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			// The parse error of a malformed URL quotes it whole.
			err := fmt.Errorf("connect to nats %s: %w", redactURL(cfg.URL), RedactError(r.err, cfg.URL, cfg.Password))
			if errors.Is(r.err, nats.ErrAuthorization) {
				err = fmt.Errorf("%w: the server refused the login of user %q: check the user (--nats-user) and its password (EDGESYNC_NATS_PASSWORD) against deploy/nats-server.conf", err, cfg.User)
			}
			return nil, err
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect to nats %s: %w", redactURL(cfg.URL), ctx.Err())
	}
}
