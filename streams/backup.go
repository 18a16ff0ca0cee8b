package streams

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A backup is what moves edgesync from one NATS to another (one server to
// a cluster, one machine to the next) with nothing lost: JetStream's own
// snapshot of each stream and bucket, messages with their sequences and
// times, and its consumers with their positions, so that every connector
// goes on where it was. Republishing would renumber the streams under the
// consumers. The snapshot and restore API is documented at
// docs.nats.io (JetStream API reference: STREAM.SNAPSHOT, STREAM.RESTORE);
// the nats CLI's `nats stream backup` uses the same.

// BackupStreams are the streams a backup holds: the pipeline's and its
// buckets'.
func BackupStreams() []string {
	out := []string{StreamEdge, StreamPartner, StreamDLQ}
	for _, b := range DefaultConfig().BucketConfigs() {
		out = append(out, "KV_"+b.Bucket)
	}
	return out
}

// BackedUp is one stream's part of a backup.
type BackedUp struct {
	Stream    string
	Messages  uint64
	Bytes     int64 // of the archive
	Consumers int
}

const (
	backupMeta = "backup.json"
	backupData = "stream.arc.s2" // the server's archive, as it sent it
	chunkSize  = 128 * 1024
)

// apiError is the error of a JetStream API answer.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%d)", e.Description, e.ErrCode) }

// Backup writes every edgesync stream and bucket the server holds to dir,
// one directory each, and returns what it wrote. A stream that does not
// exist is skipped. The roles should be stopped first: what they write
// during the backup may be missing from it.
func Backup(ctx context.Context, nc *nats.Conn, dir string) ([]BackedUp, error) {
	var out []BackedUp
	for _, name := range BackupStreams() {
		b, err := backupStream(ctx, nc, name, filepath.Join(dir, name))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("back up %s: %w", name, err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("back up: the server holds no edgesync stream")
	}
	return out, nil
}

func backupStream(ctx context.Context, nc *nats.Conn, name, dir string) (BackedUp, error) {
	out := BackedUp{Stream: name}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return out, err
	}
	f, err := os.Create(filepath.Join(dir, backupData))
	if err != nil {
		return out, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)

	// The chunks come to an inbox of ours, each with a reply subject the
	// server waits on before it sends more; an empty message ends them,
	// with a status header saying whether the snapshot completed.
	inbox := nc.NewRespInbox()
	done := make(chan error, 1)
	finish := func(err error) {
		select {
		case done <- err:
		default:
		}
	}
	sub, err := nc.Subscribe(inbox, func(m *nats.Msg) {
		if len(m.Data) == 0 {
			if st := m.Header.Get("Status"); st != "" && st != "204" {
				finish(fmt.Errorf("the server ended the snapshot: %s %s", st, m.Header.Get("Description")))
				return
			}
			finish(nil)
			return
		}
		if _, err := w.Write(m.Data); err != nil {
			finish(err)
			return
		}
		out.Bytes += int64(len(m.Data))
		if m.Reply != "" {
			_ = m.Respond(nil)
		}
	})
	if err != nil {
		return out, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, -1)

	var resp struct {
		Config json.RawMessage `json:"config"`
		State  json.RawMessage `json:"state"`
		Error  *apiError       `json:"error"`
	}
	req, _ := json.Marshal(map[string]any{"deliver_subject": inbox, "chunk_size": chunkSize})
	if err := jsRequest(ctx, nc, "$JS.API.STREAM.SNAPSHOT."+name, req, &resp); err != nil {
		return out, err
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == 10059 { // stream not found
			os.Remove(f.Name())
			os.Remove(dir)
			return out, jetstream.ErrStreamNotFound
		}
		return out, resp.Error
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return out, err
	}
	if err := w.Flush(); err != nil {
		return out, err
	}
	if err := f.Sync(); err != nil {
		return out, err
	}
	var state struct {
		Msgs      uint64 `json:"messages"`
		Consumers int    `json:"consumer_count"`
	}
	_ = json.Unmarshal(resp.State, &state)
	out.Messages, out.Consumers = state.Msgs, state.Consumers
	meta, _ := json.MarshalIndent(map[string]json.RawMessage{"config": resp.Config, "state": resp.State}, "", "  ")
	return out, os.WriteFile(filepath.Join(dir, backupMeta), meta, 0o600)
}

// Restore puts a backup into a server that holds none of its streams, each
// with replicas copies (3 on a cluster), consumers and positions included.
// It refuses a stream the server already holds: a restore never merges.
func Restore(ctx context.Context, nc *nats.Conn, dir string, replicas int) ([]BackedUp, error) {
	var out []BackedUp
	for _, name := range BackupStreams() {
		sdir := filepath.Join(dir, name)
		if _, err := os.Stat(filepath.Join(sdir, backupMeta)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		b, err := restoreStream(ctx, nc, name, sdir, replicas)
		if err != nil {
			return out, fmt.Errorf("restore %s: %w", name, err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("restore: %s holds no edgesync backup (`edgesync streams backup --dir` makes one)", dir)
	}
	return out, nil
}

func restoreStream(ctx context.Context, nc *nats.Conn, name, dir string, replicas int) (BackedUp, error) {
	out := BackedUp{Stream: name}
	metaBody, err := os.ReadFile(filepath.Join(dir, backupMeta))
	if err != nil {
		return out, err
	}
	var meta struct {
		Config map[string]any  `json:"config"`
		State  json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(metaBody, &meta); err != nil {
		return out, fmt.Errorf("read %s: %w", backupMeta, err)
	}
	if meta.Config["name"] != name {
		return out, fmt.Errorf("%s names stream %v, not %s", backupMeta, meta.Config["name"], name)
	}
	meta.Config["num_replicas"] = replicas
	req, _ := json.Marshal(map[string]any{"config": meta.Config, "state": meta.State})
	var resp struct {
		DeliverSubject string    `json:"deliver_subject"`
		Error          *apiError `json:"error"`
	}
	if err := jsRequest(ctx, nc, "$JS.API.STREAM.RESTORE."+name, req, &resp); err != nil {
		return out, err
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == 10130 || resp.Error.ErrCode == 10058 { // stream name already in use (to restore, to create)
			return out, fmt.Errorf("the server already holds %s: a restore goes into a NATS without edgesync's streams, never over them", name)
		}
		return out, resp.Error
	}
	f, err := os.Open(filepath.Join(dir, backupData))
	if err != nil {
		return out, err
	}
	defer f.Close()
	chunk := make([]byte, min(int64(chunkSize), nc.MaxPayload()))
	for {
		n, err := io.ReadFull(f, chunk)
		if n > 0 {
			if err := chunkRequest(ctx, nc, resp.DeliverSubject, chunk[:n], 10*time.Second); err != nil {
				return out, err
			}
			out.Bytes += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return out, err
		}
	}
	// The empty message ends the upload; the server answers once the
	// stream is in place, which for a large one takes a while.
	var created struct {
		State struct {
			Msgs      uint64 `json:"messages"`
			Consumers int    `json:"consumer_count"`
		} `json:"state"`
		Error *apiError `json:"error"`
	}
	fctx, cancel := withDefaultTimeout(ctx, time.Hour)
	defer cancel()
	m, err := nc.RequestWithContext(fctx, resp.DeliverSubject, nil)
	if err != nil {
		return out, fmt.Errorf("finish: %w", err)
	}
	if err := json.Unmarshal(m.Data, &created); err != nil {
		return out, fmt.Errorf("finish: %w", err)
	}
	if created.Error != nil {
		return out, created.Error
	}
	out.Messages, out.Consumers = created.State.Msgs, created.State.Consumers
	return out, nil
}

func chunkRequest(ctx context.Context, nc *nats.Conn, subject string, data []byte, timeout time.Duration) error {
	ctx, cancel := withDefaultTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return fmt.Errorf("send a chunk: %w", err)
	}
	var r struct {
		Error *apiError `json:"error"`
	}
	if len(m.Data) > 0 && json.Unmarshal(m.Data, &r) == nil && r.Error != nil {
		return r.Error
	}
	return nil
}

func jsRequest(ctx context.Context, nc *nats.Conn, subject string, req []byte, resp any) error {
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subject, req)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if err := json.Unmarshal(m.Data, resp); err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	return nil
}

// withDefaultTimeout bounds ctx by d unless it has a deadline already.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// CheckStore checks, before a NATS server starts on dir (its store_dir),
// that it can take the state there: a server started as a cluster member
// on one server's JetStream state deletes that state's streams as orphans,
// and a lone server on a cluster member's state serves none of its
// replicated streams. Either way the state would be lost without a word,
// so the switch is refused with how to make it: back up, start afresh,
// restore.
func CheckStore(dir string, clustered bool) error {
	js := filepath.Join(dir, "jetstream")
	if _, err := os.Stat(js); errors.Is(err, os.ErrNotExist) {
		return nil // a fresh volume
	}
	_, err := os.Stat(filepath.Join(js, "$SYS", "_js_", "_meta_"))
	member := err == nil
	var ours []string
	for _, name := range BackupStreams() {
		found, _ := filepath.Glob(filepath.Join(js, "*", "streams", name))
		if len(found) > 0 {
			ours = append(ours, name)
		}
	}
	switch {
	case clustered && !member && len(ours) > 0:
		return fmt.Errorf("%s holds one NATS server's edgesync state (%s) and this server is starting as a cluster member, "+
			"which would delete it as orphans; nothing was started. Move the state instead: start the single server again, "+
			"stop the roles, `edgesync streams backup --dir DIR`, remove this volume, start the cluster, "+
			"`edgesync streams restore --dir DIR --replicas 3`, then start the roles (README, \"Moving to a cluster\")",
			dir, strings.Join(ours, ", "))
	case !clustered && member:
		return fmt.Errorf("%s holds a NATS cluster member's state and this server is starting alone, which would serve "+
			"none of the replicated streams; nothing was started. Start it as a cluster member again (the cluster env file), "+
			"or move the state: `edgesync streams backup` from the cluster, a fresh volume, `edgesync streams restore --replicas 1`", dir)
	}
	return nil
}
