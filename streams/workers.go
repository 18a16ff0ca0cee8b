package streams

import (
	"context"
	"hash/fnv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// workers hands messages to n goroutines. A message goes to the worker its
// partition key picks, so messages of one key are handled one after the
// other in the order they came. Whatever the key, a subject still waiting
// or being handled in a worker sends its next message to that worker: one
// aggregate's events are never handled at the same time, nor out of order,
// even when a partition key follows the data (a sale moved to another
// customer) rather than the subject.
type workers struct {
	queues    []chan jetstream.Msg
	partition func(jetstream.Msg) string
	wg        sync.WaitGroup

	mu       sync.Mutex
	inFlight map[string]*subjectWork // by subject
}

type subjectWork struct {
	worker  int
	pending int // dispatched and not yet handled
}

// startWorkers runs handle in n goroutines until stop is called; stop
// waits for every dispatched message to be handled.
func startWorkers(n int, partition func(jetstream.Msg) string, handle func(jetstream.Msg)) *workers {
	if partition == nil {
		partition = jetstream.Msg.Subject
	}
	w := &workers{queues: make([]chan jetstream.Msg, n), partition: partition, inFlight: map[string]*subjectWork{}}
	for i := range w.queues {
		// Unbuffered beyond one: a busy worker holds the dispatcher, so
		// the consumer never pulls far ahead of what it handles.
		q := make(chan jetstream.Msg, 1)
		w.queues[i] = q
		w.wg.Go(func() {
			for msg := range q {
				handle(msg)
				w.finished(msg.Subject())
			}
		})
	}
	return w
}

// dispatch queues msg on its worker, waiting while that worker is busy;
// it gives up when ctx ends, leaving msg to the caller.
func (w *workers) dispatch(ctx context.Context, msg jetstream.Msg) bool {
	i := w.assign(msg)
	select {
	case w.queues[i] <- msg:
		return true
	case <-ctx.Done():
		w.finished(msg.Subject())
		return false
	}
}

func (w *workers) assign(msg jetstream.Msg) int {
	// The key may decode the body: done before taking the lock every
	// worker takes when it finishes a message.
	h := fnv.New32a()
	_, _ = h.Write([]byte(w.partition(msg)))
	w.mu.Lock()
	defer w.mu.Unlock()
	subj := msg.Subject()
	if sw := w.inFlight[subj]; sw != nil {
		sw.pending++
		return sw.worker
	}
	i := int(h.Sum32() % uint32(len(w.queues)))
	w.inFlight[subj] = &subjectWork{worker: i, pending: 1}
	return i
}

func (w *workers) finished(subj string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if sw := w.inFlight[subj]; sw != nil {
		if sw.pending--; sw.pending == 0 {
			delete(w.inFlight, subj)
		}
	}
}

func (w *workers) stop() {
	for _, q := range w.queues {
		close(q)
	}
	w.wg.Wait()
}
