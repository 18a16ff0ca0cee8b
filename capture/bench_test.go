package capture_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// benchRows is the snapshot size: EDGESYNC_BENCH_ROWS, 1,000,000 by default.
func benchRows(b *testing.B) int {
	if s := os.Getenv("EDGESYNC_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		return n
	}
	return 1_000_000
}

// peakRSS reads the process's high-water resident set (Linux), in MiB.
func peakRSS() float64 {
	body, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// streamingSource is the Edge simulator's generator without its tables: it
// makes each customer when capture asks for it, the way SQL Server streams
// rows to a reader. The process's memory is then capture's alone (the
// simulator's in-memory tables would otherwise dominate RSS).
type streamingSource struct{ rows int }

func (s streamingSource) CurrentVersion(context.Context) (int64, error) { return int64(s.rows), nil }
func (streamingSource) MinValidVersion(context.Context, schemas.Entity) (int64, error) {
	return 0, nil
}
func (s streamingSource) Changes(context.Context, schemas.Entity, int64, int64, func(capture.Row) error) error {
	return nil
}
func (s streamingSource) Snapshot(ctx context.Context, _ schemas.Entity, fn func(capture.Row) error) (int64, error) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 1; i <= s.rows; i++ {
		c := edgesim.NewCustomerData(r, i, edgesim.Base)
		c.Store = fmt.Sprintf("%03d", 1+i%2)
		c.Key = fmt.Sprintf("%s-%06d", c.Store, i)
		if err := fn(capture.Row{Entity: schemas.EntityCustomer, Key: c.Key, Version: int64(i), Data: &c}); err != nil {
			return 0, err
		}
	}
	return int64(s.rows), nil
}

// BenchmarkSnapshot snapshots benchRows simulator-generated customers into a
// nats-server process with fsync before every acknowledgement, and in the
// same run publishes the same number (up to 400,000) of same-sized messages
// as serial JetStream atomic batches of the same size: the baseline, what a
// program that has its messages ready gets from the server. It counts what
// the stream stored, not what capture thinks it sent. See docs/benchmarks.md.
func BenchmarkSnapshot(b *testing.B) {
	rows := benchRows(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		nc, err := nats.Connect(natstest.StartProcess(b))
		require.NoError(b, err)
		js, err := jetstream.New(nc)
		require.NoError(b, err)
		require.NoError(b, streams.Provision(ctx, js, streams.DefaultConfig()))
		c, err := capture.New(ctx, streamingSource{rows: rows}, js,
			capture.Config{Site: "bench", Entities: []schemas.Entity{schemas.EntityCustomer}}, quiet)
		require.NoError(b, err)
		rssBefore := peakRSS()

		start := time.Now()
		require.NoError(b, c.Cycle(ctx))
		secs := time.Since(start).Seconds()
		rssPeak := peakRSS()
		stored, bytes := streamState(b, js, streams.StreamEdge)
		require.EqualValues(b, rows, stored, "every row reached the stream")

		size := int(bytes / stored)
		rawRate := atomicBatchRate(b, js, min(rows, 400_000), size, streams.MaxBatch)
		rate := float64(stored) / secs
		b.ReportMetric(rate, "rows/s")
		b.ReportMetric(rawRate, "atomic-batch-msgs/s")
		b.ReportMetric(rate/rawRate, "ratio")
		b.ReportMetric(float64(size), "bytes/msg")
		b.ReportMetric(rssPeak, "MiB-rss-peak")
		fmt.Fprintf(os.Stderr, "snapshot of %d rows: %.0f rows/s; atomic batch publish of ready messages: %.0f msgs/s; ratio %.2f; %d bytes/msg stored; peak RSS %.0f MiB (%.0f MiB before the snapshot)\n",
			rows, rate, rawRate, rate/rawRate, size, rssPeak, rssBefore)
		nc.Close()
	}
}

func streamState(b *testing.B, js jetstream.JetStream, name string) (msgs, bytes uint64) {
	s, err := js.Stream(context.Background(), name)
	require.NoError(b, err)
	info, err := s.Info(context.Background())
	require.NoError(b, err)
	return info.State.Msgs, info.State.Bytes
}

// atomicBatchRate publishes n messages whose stored size is about size bytes
// to a stream configured like EDGE, in atomic batches of batch messages sent
// one after the other with jetstreamext.PublishMsgBatch (the same flow control
// as capture's publisher: no ack of the first message), and returns the stored
// messages per second. The messages are built before the clock starts.
func atomicBatchRate(b *testing.B, js jetstream.JetStream, n, size, batch int) float64 {
	ctx := context.Background()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage,
		Duplicates: 15 * time.Minute, AllowAtomicPublish: true})
	require.NoError(b, err)
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		m := nats.NewMsg("raw.customer.001." + strconv.Itoa(i))
		m.Header.Set(nats.MsgIdHdr, "customer:001-"+strconv.Itoa(i)+":"+strconv.Itoa(i))
		m.Data = make([]byte, max(0, size-len(m.Subject)-150)) // the rest of size: headers and the stored record's framing
		msgs[i] = m
	}
	flow := jetstreamext.BatchFlowControl{AckFirst: false}
	start := time.Now()
	for i := 0; i < n; i += batch {
		_, err := jetstreamext.PublishMsgBatch(ctx, js, msgs[i:min(i+batch, n)], flow)
		require.NoError(b, err)
	}
	secs := time.Since(start).Seconds()
	stored, bytes := streamState(b, js, "RAW")
	require.EqualValues(b, n, stored)
	b.Logf("baseline: %d messages, %d bytes each as stored", n, bytes/stored)
	return float64(stored) / secs
}
