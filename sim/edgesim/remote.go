package edgesim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
)

// The simulator can be served over HTTP (edgesync sim edge) so that
// capture and the Edge writer run as their own processes, in their own
// containers, against it: Remote is what they hold instead of a SQL Server
// connection, with the same methods and the same semantics. The protocol
// is ours and only for the simulator; SQL Server is reached with T-SQL.
//
// Rows stream as JSON lines and end with a trailer line, so a connection
// cut mid-snapshot is an error at the reader, never a short table.

type wireRow struct {
	Entity  schemas.Entity  `json:"entity"`
	Key     string          `json:"key"`
	Version int64           `json:"version"`
	Origin  string          `json:"origin,omitempty"`
	Deleted bool            `json:"deleted,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// trailer ends a row stream: At is the snapshot's version, Err what went
// wrong after the rows began.
type trailer struct {
	End bool   `json:"end"`
	At  int64  `json:"at,omitempty"`
	Err string `json:"error,omitempty"`
}

type wireCommand struct {
	Type    string          `json:"type"`
	Command json.RawMessage `json:"command"`
}

type applyRequest struct {
	Origin   string        `json:"origin"`
	EventID  string        `json:"event_id"`
	Commands []wireCommand `json:"commands"`
}

type wireError struct {
	Error     string `json:"error"`
	Permanent bool   `json:"permanent,omitempty"`
}

// commandTypes decodes each merge command by the name of its type.
var commandTypes = map[string]func([]byte) (projectors.Command, error){}

func registerCommand[T projectors.Command]() {
	var zero T
	commandTypes[reflect.TypeOf(zero).Name()] = func(b []byte) (projectors.Command, error) {
		var v T
		err := json.Unmarshal(b, &v)
		return v, err
	}
}

func init() {
	registerCommand[projectors.CreateCustomer]()
	registerCommand[projectors.AddContactMethod]()
	registerCommand[projectors.SetSyncEnabled]()
	registerCommand[projectors.SetCustomField]()
	registerCommand[projectors.AddWish]()
	registerCommand[projectors.RemoveWish]()
	registerCommand[projectors.PutNote]()
	registerCommand[projectors.AddActivity]()
	registerCommand[projectors.SetNotificationStatus]()
	registerCommand[projectors.Link]()
}

// ServeFaults are failures the served simulator can be told to make.
type ServeFaults struct {
	// CutSnapshotAfter, when above zero, cuts the connection of the next
	// snapshot after that many rows, as a network drop would.
	CutSnapshotAfter int `json:"cut_snapshot_after"`
}

// Server serves a DB over HTTP.
type Server struct {
	db     *DB
	log    *slog.Logger
	faults atomic.Pointer[ServeFaults]
}

// NewServer returns a server of db.
func NewServer(db *DB, log *slog.Logger) *Server { return &Server{db: db, log: log} }

// Handler returns the simulator's HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.db.CurrentVersion(r.Context())
		s.reply(w, map[string]int64{"version": v}, err)
	})
	mux.HandleFunc("GET /v1/min-valid", s.withEntity(func(w http.ResponseWriter, r *http.Request, e schemas.Entity) {
		v, err := s.db.MinValidVersion(r.Context(), e)
		s.reply(w, map[string]int64{"version": v}, err)
	}))
	mux.HandleFunc("GET /v1/count", s.withEntity(func(w http.ResponseWriter, r *http.Request, e schemas.Entity) {
		n, err := s.db.Count(r.Context(), e)
		s.reply(w, map[string]int64{"count": n}, err)
	}))
	mux.HandleFunc("GET /v1/snapshot", s.withEntity(s.snapshot))
	mux.HandleFunc("GET /v1/changes", s.withEntity(s.changes))
	mux.HandleFunc("GET /v1/customers/{key}", func(w http.ResponseWriter, r *http.Request) {
		c, err := s.db.CustomerByKey(r.Context(), r.PathValue("key"))
		s.reply(w, c, err)
	})
	mux.HandleFunc("GET /v1/notes/{key}", func(w http.ResponseWriter, r *http.Request) {
		n, err := s.db.NoteByKey(r.Context(), r.PathValue("key"))
		s.reply(w, n, err)
	})
	mux.HandleFunc("GET /v1/customer-by-email", func(w http.ResponseWriter, r *http.Request) {
		k, err := s.db.CustomerByEmail(r.Context(), r.URL.Query().Get("email"))
		s.reply(w, map[string]string{"key": k}, err)
	})
	mux.HandleFunc("GET /v1/link", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		k, err := s.db.LinkedKey(r.Context(), q.Get("partner"), q.Get("entity"), q.Get("id"))
		s.reply(w, map[string]string{"key": k}, err)
	})
	mux.HandleFunc("GET /v1/wish-links", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		m, err := s.db.WishLinks(r.Context(), q.Get("partner"), q.Get("customer"))
		s.reply(w, m, err)
	})
	mux.HandleFunc("POST /v1/apply", s.apply)
	mux.HandleFunc("GET /v1/state", func(w http.ResponseWriter, _ *http.Request) {
		body, err := s.db.MarshalState()
		if err != nil {
			s.fail(w, http.StatusInternalServerError, err, false)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("PUT /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		var f ServeFaults
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&f); err != nil {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("faults: %w", err), true)
			return
		}
		s.faults.Store(&f)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (s *Server) withEntity(h func(http.ResponseWriter, *http.Request, schemas.Entity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e := schemas.Entity(r.URL.Query().Get("entity"))
		if !e.Valid() {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("unknown entity %q", e), true)
			return
		}
		h(w, r, e)
	}
}

func (s *Server) reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err, false)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, status int, err error, permanent bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(wireError{Error: err.Error(), Permanent: permanent})
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request, e schemas.Entity) {
	cut := 0
	if f := s.faults.Swap(nil); f != nil {
		cut = f.CutSnapshotAfter
	}
	rs := newRowStream(w)
	n := 0
	at, err := s.db.Snapshot(r.Context(), e, func(row capture.Row) error {
		if n++; cut > 0 && n > cut {
			return errCut
		}
		return rs.row(row)
	})
	if errors.Is(err, errCut) {
		s.log.Warn("cutting the snapshot connection, as told", "entity", e, "after_rows", cut)
		panic(http.ErrAbortHandler) // closes the connection without a trailer
	}
	rs.end(trailer{At: at}, err)
}

var errCut = errors.New("snapshot cut on purpose")

func (s *Server) changes(w http.ResponseWriter, r *http.Request, e schemas.Entity) {
	q := r.URL.Query()
	since, err1 := strconv.ParseInt(q.Get("since"), 10, 64)
	until, err2 := strconv.ParseInt(q.Get("until"), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("since and until: %w", err), true)
		return
	}
	rs := newRowStream(w)
	err := s.db.Changes(r.Context(), e, since, until, rs.row)
	rs.end(trailer{}, err)
}

func (s *Server) apply(w http.ResponseWriter, r *http.Request) {
	var req applyRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("apply: %w", err), true)
		return
	}
	cmds := make([]projectors.Command, 0, len(req.Commands))
	for _, c := range req.Commands {
		dec, ok := commandTypes[c.Type]
		if !ok {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("apply: unknown command %q", c.Type), true)
			return
		}
		cmd, err := dec(c.Command)
		if err != nil {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("apply: command %s: %w", c.Type, err), true)
			return
		}
		cmds = append(cmds, cmd)
	}
	applied, err := s.db.Apply(r.Context(), req.Origin, req.EventID, cmds)
	if err != nil {
		var p interface{ Permanent() bool }
		s.fail(w, http.StatusUnprocessableEntity, err, errors.As(err, &p) && p.Permanent())
		return
	}
	s.reply(w, map[string]bool{"applied": applied}, nil)
}

// rowStream writes rows as JSON lines, flushing every so often so a large
// table streams instead of piling up in the server.
type rowStream struct {
	w   http.ResponseWriter
	enc *json.Encoder
	n   int
	err error
}

func newRowStream(w http.ResponseWriter) *rowStream {
	w.Header().Set("Content-Type", "application/x-ndjson")
	// The header goes at once: once a client has it, a cut is an error in
	// the body, never a request the HTTP client silently sends again.
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush() //nolint:errcheck // a failed flush shows at the next write
	return &rowStream{w: w, enc: json.NewEncoder(w)}
}

func (rs *rowStream) row(r capture.Row) error {
	data, err := json.Marshal(r.Data)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", r.Entity, r.Key, err)
	}
	if r.Deleted {
		data = nil
	}
	if err := rs.enc.Encode(wireRow{Entity: r.Entity, Key: r.Key, Version: r.Version, Origin: r.Origin, Deleted: r.Deleted, Data: data}); err != nil {
		return err
	}
	if rs.n++; rs.n%500 == 0 {
		http.NewResponseController(rs.w).Flush() //nolint:errcheck // a failed flush shows at the next write
	}
	return nil
}

func (rs *rowStream) end(t trailer, err error) {
	t.End = true
	if err != nil {
		t.Err, t.At = err.Error(), 0
	}
	_ = rs.enc.Encode(t)
}

// Remote is a served simulator, reached over HTTP. It implements
// capture.ChangeSource and writer.EdgeStore with the DB's semantics.
type Remote struct {
	base   string
	client *http.Client
	types  *DB // decodes rows by entity
}

// Dial returns the simulator served at base (http://host:port); it does not
// connect until used.
func Dial(base string) *Remote {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// No whole-request timeout: a snapshot streams for as long as the table
	// is long. A simulator that stops answering is caught here instead.
	t.ResponseHeaderTimeout = 30 * time.Second
	return &Remote{base: base, client: &http.Client{Transport: t}, types: New()}
}

// remoteError is an error the simulator answered with.
type remoteError struct {
	msg       string
	permanent bool
}

func (e remoteError) Error() string   { return "edge simulator: " + e.msg }
func (e remoteError) Permanent() bool { return e.permanent }

func (r *Remote) do(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("edge simulator %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var we wireError
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&we); err != nil || we.Error == "" {
			we.Error = resp.Status
		}
		return nil, remoteError{msg: fmt.Sprintf("%s %s: %s", method, path, we.Error), permanent: we.Permanent}
	}
	return resp, nil
}

func (r *Remote) get(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := r.do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("edge simulator GET %s: %w", path, err)
	}
	return nil
}

func entityQuery(e schemas.Entity) url.Values { return url.Values{"entity": {string(e)}} }

// CurrentVersion implements capture.ChangeSource.
func (r *Remote) CurrentVersion(ctx context.Context) (int64, error) {
	var v struct{ Version int64 }
	err := r.get(ctx, "/v1/version", nil, &v)
	return v.Version, err
}

// MinValidVersion implements capture.ChangeSource.
func (r *Remote) MinValidVersion(ctx context.Context, e schemas.Entity) (int64, error) {
	var v struct{ Version int64 }
	err := r.get(ctx, "/v1/min-valid", entityQuery(e), &v)
	return v.Version, err
}

// Count reports how many live aggregates entity has (capture's progress).
func (r *Remote) Count(ctx context.Context, e schemas.Entity) (int64, error) {
	var v struct{ Count int64 }
	err := r.get(ctx, "/v1/count", entityQuery(e), &v)
	return v.Count, err
}

// Snapshot implements capture.ChangeSource.
func (r *Remote) Snapshot(ctx context.Context, e schemas.Entity, fn func(capture.Row) error) (int64, error) {
	t, err := r.rows(ctx, "/v1/snapshot", entityQuery(e), fn)
	return t.At, err
}

// Changes implements capture.ChangeSource.
func (r *Remote) Changes(ctx context.Context, e schemas.Entity, since, until int64, fn func(capture.Row) error) error {
	q := entityQuery(e)
	q.Set("since", strconv.FormatInt(since, 10))
	q.Set("until", strconv.FormatInt(until, 10))
	_, err := r.rows(ctx, "/v1/changes", q, fn)
	return err
}

func (r *Remote) rows(ctx context.Context, path string, q url.Values, fn func(capture.Row) error) (trailer, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a fn error stops the server's stream too
	resp, err := r.do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return trailer{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var t trailer
		if bytes.HasPrefix(line, []byte(`{"end":`)) {
			if err := json.Unmarshal(line, &t); err != nil {
				return t, fmt.Errorf("edge simulator %s: trailer: %w", path, err)
			}
			if t.Err != "" {
				return t, remoteError{msg: path + ": " + t.Err}
			}
			return t, nil
		}
		var w wireRow
		if err := json.Unmarshal(line, &w); err != nil {
			return t, fmt.Errorf("edge simulator %s: row: %w", path, err)
		}
		row := capture.Row{Entity: w.Entity, Key: w.Key, Version: w.Version, Origin: w.Origin, Deleted: w.Deleted}
		if !w.Deleted {
			tab, err := r.types.table(w.Entity)
			if err == nil {
				row.Data, err = tab.decode(w.Data)
			}
			if err != nil {
				return t, fmt.Errorf("edge simulator %s: %s %s: %w", path, w.Entity, w.Key, err)
			}
		}
		if err := fn(row); err != nil {
			return t, err
		}
	}
	if err := sc.Err(); err != nil {
		return trailer{}, fmt.Errorf("edge simulator %s: %w", path, err)
	}
	return trailer{}, fmt.Errorf("edge simulator %s: %w before the end of the rows", path, io.ErrUnexpectedEOF)
}

// CustomerByKey implements writer.EdgeStore.
func (r *Remote) CustomerByKey(ctx context.Context, key string) (*schemas.Customer, error) {
	var c *schemas.Customer
	err := r.get(ctx, "/v1/customers/"+url.PathEscape(key), nil, &c)
	return c, err
}

// NoteByKey implements writer.EdgeStore.
func (r *Remote) NoteByKey(ctx context.Context, key string) (*schemas.Note, error) {
	var n *schemas.Note
	err := r.get(ctx, "/v1/notes/"+url.PathEscape(key), nil, &n)
	return n, err
}

// CustomerByEmail implements writer.EdgeStore.
func (r *Remote) CustomerByEmail(ctx context.Context, email string) (string, error) {
	var v struct{ Key string }
	err := r.get(ctx, "/v1/customer-by-email", url.Values{"email": {email}}, &v)
	return v.Key, err
}

// LinkedKey implements writer.EdgeStore.
func (r *Remote) LinkedKey(ctx context.Context, partner, entity, partnerID string) (string, error) {
	var v struct{ Key string }
	err := r.get(ctx, "/v1/link", url.Values{"partner": {partner}, "entity": {entity}, "id": {partnerID}}, &v)
	return v.Key, err
}

// WishLinks implements writer.EdgeStore.
func (r *Remote) WishLinks(ctx context.Context, partner, customerKey string) (map[string]int, error) {
	var m map[string]int
	err := r.get(ctx, "/v1/wish-links", url.Values{"partner": {partner}, "customer": {customerKey}}, &m)
	return m, err
}

// Apply implements writer.EdgeStore. A refusal by the database is
// permanent, as the DB's is; a lost connection is not.
func (r *Remote) Apply(ctx context.Context, origin, eventID string, cmds []projectors.Command) (bool, error) {
	req := applyRequest{Origin: origin, EventID: eventID}
	for _, c := range cmds {
		b, err := json.Marshal(c)
		if err != nil {
			return false, fmt.Errorf("encode %T: %w", c, err)
		}
		req.Commands = append(req.Commands, wireCommand{Type: reflect.TypeOf(c).Name(), Command: b})
	}
	resp, err := r.do(ctx, http.MethodPost, "/v1/apply", nil, req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var v struct{ Applied bool }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return false, fmt.Errorf("edge simulator apply: %w", err)
	}
	return v.Applied, nil
}

// State returns a copy of the whole database, for checks.
func (r *Remote) State(ctx context.Context) (*DB, error) {
	resp, err := r.do(ctx, http.MethodGet, "/v1/state", nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("edge simulator state: %w", err)
	}
	return FromState(body)
}

// SetFaults tells the served simulator which failure to make next.
func (r *Remote) SetFaults(ctx context.Context, f ServeFaults) error {
	resp, err := r.do(ctx, http.MethodPut, "/v1/faults", nil, f)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Ready waits until the simulator answers or ctx ends.
func (r *Remote) Ready(ctx context.Context) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := r.CurrentVersion(cctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("edge simulator at %s: %w", r.base, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
