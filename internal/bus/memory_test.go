package bus

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

func newTestMemory(t *testing.T, cfg MemoryConfig) *Memory {
	t.Helper()
	m, err := NewMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMemoryFanOut(t *testing.T) {
	m := newTestMemory(t, MemoryConfig{Consumers: []string{"detect", "store"}})
	detect, store := newRecorder(), newRecorder()
	runConsumer(t, m, "detect", 2, detect.handle)
	runConsumer(t, m, "store", 1, store.handle)
	var batches [][]event.Event
	for i := range 20 {
		batches = append(batches, makeEvents(i, 50))
	}
	publishAll(t, t.Context(), m, batches...)
	// Done(nil) means both consumers handled every batch.
	if d := detect.check(t, batches...); d != 0 {
		t.Errorf("detect: %d duplicates", d)
	}
	if d := store.check(t, batches...); d != 0 {
		t.Errorf("store: %d duplicates", d)
	}
	for _, name := range []string{"detect", "store"} {
		if n, err := m.Pending(t.Context(), name); err != nil || n != 0 {
			t.Errorf("Pending(%s) = %d, %v; want 0", name, n, err)
		}
	}
	s := m.Stats()
	if s.PublishedBatches != 20 || s.PublishedEvents != 1000 || s.AckedBatches != 40 || s.DeliveredEvents != 2000 {
		t.Errorf("stats = %+v", s)
	}
}

func TestMemoryDoneWaitsForEveryConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMemory(t, MemoryConfig{Consumers: []string{"detect", "store"}})
		var done atomic.Bool
		if err := m.Publish(t.Context(), event.NewBatch(makeEvents(0, 3), func(err error) {
			if err != nil {
				t.Errorf("Done(%v)", err)
			}
			done.Store(true)
		})); err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, m, "detect", 1, newRecorder().handle)
		synctest.Wait()
		if done.Load() {
			t.Fatal("Done before the store consumer handled the batch")
		}
		if n, _ := m.Pending(t.Context(), "store"); n != 1 {
			t.Errorf("Pending(store) = %d, want 1", n)
		}
		runConsumer(t, m, "store", 1, newRecorder().handle)
		synctest.Wait()
		if !done.Load() {
			t.Fatal("not Done after both consumers handled the batch")
		}
		stop()
	})
}

func TestMemoryHandlerErrorRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMemory(t, MemoryConfig{Consumers: []string{"detect"}, RetryDelay: time.Second})
		rec := newRecorder()
		var calls atomic.Int32
		rec.fail = func([]event.Event) error {
			if calls.Add(1) <= 2 {
				return errors.New("store down")
			}
			return nil
		}
		runConsumer(t, m, "detect", 1, rec.handle)
		start := time.Now()
		evs := makeEvents(0, 10)
		publishAll(t, t.Context(), m, evs)
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("Done after %s, want 2 retry delays (2s)", got)
		}
		rec.check(t, evs)
		s := m.Stats()
		if s.HandlerErrors != 2 || s.Redeliveries != 2 || s.AckedBatches != 1 || s.DeliveredBatches != 3 {
			t.Errorf("stats = %+v", s)
		}
	})
}

func TestMemoryBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMemory(t, MemoryConfig{Consumers: []string{"detect"}, QueueLen: 2})
		for i := range 2 {
			if err := m.Publish(t.Context(), event.NewBatch(makeEvents(i, 1), nil)); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		doneCalled := false
		err := m.Publish(ctx, event.NewBatch(makeEvents(2, 1), func(error) { doneCalled = true }))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Publish on a full queue = %v, want DeadlineExceeded", err)
		}
		if doneCalled {
			t.Error("Done called for a batch Publish did not accept")
		}
		// A consumer makes room: a blocked Publish proceeds.
		rec := newRecorder()
		runConsumer(t, m, "detect", 1, rec.handle)
		publishAll(t, t.Context(), m, makeEvents(3, 1))
		synctest.Wait()
		if rec.distinct() != 3 {
			t.Errorf("delivered %d events, want 3", rec.distinct())
		}
	})
}

func TestMemoryClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMemory(t, MemoryConfig{Consumers: []string{"detect"}, RetryDelay: time.Second})
		var got []error
		done := func(err error) { got = append(got, err) }
		// One batch queued, one retried by a failing handler when Close comes.
		if err := m.Publish(t.Context(), event.NewBatch(makeEvents(0, 1), done)); err != nil {
			t.Fatal(err)
		}
		consumed := make(chan error)
		go func() {
			consumed <- m.Consume(t.Context(), "detect", 1, func(context.Context, []event.Event) error {
				return errors.New("fail")
			})
		}()
		synctest.Wait()
		if err := m.Publish(t.Context(), event.NewBatch(makeEvents(1, 1), done)); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-consumed; err != nil {
			t.Errorf("Consume after Close = %v, want nil", err)
		}
		if len(got) != 2 || !errors.Is(got[0], ErrClosed) || !errors.Is(got[1], ErrClosed) {
			t.Errorf("Done calls = %v, want two ErrClosed", got)
		}
		if err := m.Publish(t.Context(), event.NewBatch(makeEvents(2, 1), done)); !errors.Is(err, ErrClosed) {
			t.Errorf("Publish after Close = %v, want ErrClosed", err)
		}
		if err := m.Consume(t.Context(), "detect", 1, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Consume after Close = %v, want ErrClosed", err)
		}
		if len(got) != 2 {
			t.Errorf("Done called for a rejected batch")
		}
		if err := m.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
	})
}

func TestMemoryMisc(t *testing.T) {
	if _, err := NewMemory(MemoryConfig{Consumers: []string{"a", "a"}}); err == nil {
		t.Error("NewMemory accepted a repeated consumer")
	}
	m := newTestMemory(t, MemoryConfig{})
	// No consumer: done at once.
	publishAll(t, t.Context(), m, makeEvents(0, 3))
	if err := m.Consume(t.Context(), "nope", 1, nil); !errors.Is(err, ErrUnknownConsumer) {
		t.Errorf("Consume(unknown) = %v", err)
	}
	if _, err := m.Pending(t.Context(), "nope"); !errors.Is(err, ErrUnknownConsumer) {
		t.Errorf("Pending(unknown) = %v", err)
	}
}
