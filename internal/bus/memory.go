package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// MemoryConfig configures NewMemory.
type MemoryConfig struct {
	// Consumers are the declared consumer names. Every published batch is
	// queued for each of them. With none, Publish completes batches at once.
	Consumers []string
	// QueueLen is how many batches may wait for each consumer before Publish
	// blocks; default 64.
	QueueLen int
	// RetryDelay is the pause before a batch whose handler failed is handed
	// to the handler again; default 100ms.
	RetryDelay time.Duration
}

// Memory is an in-process Bus that stores nothing: for offline runs (pcap
// import, replay), tests and benchmarks. Events are lost when the process
// ends; a batch is Done(nil) only when every declared consumer's handler
// returned nil for it, so a collector that acknowledges its source on
// Done(nil) still gets end-to-end acknowledgement.
//
// Every consumer receives the batch's own Events slice (not a copy): handlers
// must not modify it (see Handler).
type Memory struct {
	queueLen   int
	retryDelay time.Duration
	stats      counters

	mu      sync.Mutex
	closed  bool
	closing chan struct{} // closed by Close
	space   chan struct{} // closed and replaced when a queue has room again
	queues  map[string]*memQueue

	consumers sync.WaitGroup // running Consume calls
}

var _ Bus = (*Memory)(nil)

// memQueue is one consumer's queue. Guarded by Memory.mu.
type memQueue struct {
	items    []*memItem
	inFlight int
	ready    chan struct{} // closed and replaced when an item is added
}

type memItem struct {
	t          *memTracker
	deliveries int
}

// memTracker completes a batch once every consumer acknowledged it.
type memTracker struct {
	b         *event.Batch
	remaining atomic.Int32
	finished  atomic.Bool
}

// NewMemory returns an in-memory bus. It fails on an empty or repeated
// consumer name.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 64
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 100 * time.Millisecond
	}
	m := &Memory{
		queueLen:   cfg.QueueLen,
		retryDelay: cfg.RetryDelay,
		closing:    make(chan struct{}),
		space:      make(chan struct{}),
		queues:     make(map[string]*memQueue, len(cfg.Consumers)),
	}
	for i, name := range cfg.Consumers {
		if name == "" {
			return nil, fmt.Errorf("consumers[%d]: must not be empty", i)
		}
		if m.queues[name] != nil {
			return nil, fmt.Errorf("consumers[%d]: %q declared twice", i, name)
		}
		m.queues[name] = &memQueue{ready: make(chan struct{})}
	}
	return m, nil
}

// Publish queues b for every declared consumer, blocking while any of their
// queues is full. See Bus.
func (m *Memory) Publish(ctx context.Context, b *event.Batch) error {
	if b == nil {
		return errors.New("publishing a nil batch")
	}
	m.mu.Lock()
	for {
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			m.mu.Unlock()
			return err
		}
		full := false
		for _, q := range m.queues {
			if len(q.items) >= m.queueLen {
				full = true
				break
			}
		}
		if !full {
			break
		}
		space := m.space
		m.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
		case <-m.closing:
		}
		m.mu.Lock()
	}
	if len(m.queues) == 0 || len(b.Events) == 0 {
		m.mu.Unlock()
		m.stats.publishedMessages.Add(1)
		m.stats.done(b, nil)
		return nil
	}
	t := &memTracker{b: b}
	t.remaining.Store(int32(len(m.queues)))
	for _, q := range m.queues {
		q.items = append(q.items, &memItem{t: t})
		close(q.ready)
		q.ready = make(chan struct{})
	}
	m.mu.Unlock()
	m.stats.publishedMessages.Add(1)
	return nil
}

// Consume runs the declared consumer name. See Bus. It returns ErrClosed
// when called after Close.
func (m *Memory) Consume(ctx context.Context, name string, workers int, h Handler) error {
	m.mu.Lock()
	q := m.queues[name]
	switch {
	case q == nil:
		m.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownConsumer, name)
	case m.closed:
		m.mu.Unlock()
		return ErrClosed
	case h == nil:
		m.mu.Unlock()
		return errors.New("consuming with a nil handler")
	}
	m.consumers.Add(1)
	m.mu.Unlock()
	defer m.consumers.Done()

	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				it := m.take(ctx, q)
				if it == nil {
					return
				}
				m.deliver(ctx, q, it, h)
			}
		})
	}
	wg.Wait()
	return nil
}

// take removes the next item from q, waiting for one; nil when stopping.
func (m *Memory) take(ctx context.Context, q *memQueue) *memItem {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.closed || ctx.Err() != nil {
			return nil
		}
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.inFlight++
			close(m.space)
			m.space = make(chan struct{})
			return it
		}
		ready := q.ready
		m.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
		case <-m.closing:
		}
		m.mu.Lock()
	}
}

// deliver calls h until it accepts the item, or puts the item back at the
// head of q when stopping.
func (m *Memory) deliver(ctx context.Context, q *memQueue, it *memItem, h Handler) {
	events := it.t.b.Events
	for {
		it.deliveries++
		if it.deliveries > 1 {
			m.stats.redeliveries.Add(1)
		}
		m.stats.deliveredBatches.Add(1)
		m.stats.deliveredEvents.Add(uint64(len(events)))
		err := h(ctx, events)
		if err == nil {
			m.stats.ackedBatches.Add(1)
			m.mu.Lock()
			q.inFlight--
			m.mu.Unlock()
			if it.t.remaining.Add(-1) == 0 {
				m.finish(it.t, nil)
			}
			return
		}
		m.stats.handlerErrors.Add(1)
		retry := time.NewTimer(m.retryDelay)
		select {
		case <-retry.C:
			continue
		case <-ctx.Done():
		case <-m.closing:
		}
		retry.Stop()
		m.mu.Lock()
		q.inFlight--
		q.items = slices.Insert(q.items, 0, it)
		close(q.ready)
		q.ready = make(chan struct{})
		m.mu.Unlock()
		return
	}
}

func (m *Memory) finish(t *memTracker, err error) {
	if !t.finished.Swap(true) {
		m.stats.done(t.b, err)
	}
}

// Pending returns how many batches are queued for, or being handled by,
// consumer name.
func (m *Memory) Pending(_ context.Context, name string) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queues[name]
	if q == nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownConsumer, name)
	}
	return uint64(len(q.items) + q.inFlight), nil
}

// Stats returns the bus's counters.
func (m *Memory) Stats() Stats { return m.stats.snapshot() }

// Close stops the bus, waits for running Consume calls to return and
// completes every batch not yet acknowledged by all consumers with
// Done(ErrClosed).
func (m *Memory) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.closing)
	m.mu.Unlock()

	m.consumers.Wait()

	m.mu.Lock()
	var left []*memTracker
	for _, q := range m.queues {
		for _, it := range q.items {
			left = append(left, it.t)
		}
		q.items = nil
	}
	m.mu.Unlock()
	for _, t := range left {
		m.finish(t, ErrClosed)
	}
	return nil
}
