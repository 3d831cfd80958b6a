package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// testConfig is an embedded configuration in a fresh directory.
func testConfig(t testing.TB, consumers ...string) Config {
	if len(consumers) == 0 {
		consumers = []string{"detect"}
	}
	return Config{StoreDir: t.TempDir(), Consumers: consumers, RetryDelay: 20 * time.Millisecond, AckWait: 5 * time.Second}
}

func openTest(t testing.TB, cfg Config) *JetStream {
	t.Helper()
	j, err := OpenJetStream(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("OpenJetStream: %v", err)
	}
	t.Cleanup(func() {
		if err := j.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return j
}

func testBatches(n, size int) [][]event.Event {
	var out [][]event.Event
	for i := range n {
		out = append(out, makeEvents(i, size))
	}
	return out
}

// waitConsumed waits until rec saw n distinct events and consumer name has
// nothing pending. (Pending alone may read 0 for a moment while a message is
// being delivered.)
func waitConsumed(t testing.TB, b Bus, name string, rec *recorder, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d events for %s", n, name), func() bool { return rec.distinct() >= n })
	waitPending(t, b, name, 0)
}

func waitPending(t testing.TB, b Bus, name string, want uint64) {
	t.Helper()
	var n uint64
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err = b.Pending(context.Background(), name)
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Pending(%q) = %d, %v; want %d", name, n, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitAcked waits until the bus counted n acked batches: Pending drops when
// the server has the ack, a moment before the consumer counts it.
func waitAcked(t testing.TB, b Bus, n uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d acked batches", n), func() bool { return b.Stats().AckedBatches >= n })
}

func TestJetStreamFanOut(t *testing.T) {
	for _, sync := range []string{SyncAlways, SyncInterval} {
		t.Run("sync="+sync, func(t *testing.T) {
			cfg := testConfig(t, "detect", "store")
			cfg.Sync = sync
			j := openTest(t, cfg)
			batches := testBatches(10, 100)
			publishAll(t, t.Context(), j, batches...)
			waitPending(t, j, "detect", 10)

			detect, store := newRecorder(), newRecorder()
			runConsumer(t, j, "detect", 3, detect.handle)
			runConsumer(t, j, "store", 1, store.handle)
			waitConsumed(t, j, "detect", detect, 1000)
			waitConsumed(t, j, "store", store, 1000)
			waitAcked(t, j, 20)
			if d := detect.check(t, batches...); d != 0 {
				t.Errorf("detect: %d duplicates", d)
			}
			if d := store.check(t, batches...); d != 0 {
				t.Errorf("store: %d duplicates", d)
			}
			s := j.Stats()
			if s.PublishedBatches != 10 || s.PublishedEvents != 1000 || s.PublishedMessages != 10 ||
				s.AckedBatches != 20 || s.DeliveredEvents != 2000 || s.PublishErrors != 0 || s.AckErrors != 0 {
				t.Errorf("stats = %+v", s)
			}
			// Interest retention: acknowledged by every consumer, deleted.
			waitFor(t, "stream to empty", func() bool {
				st, err := j.js.Stream(t.Context(), j.cfg.Stream)
				if err != nil {
					t.Fatal(err)
				}
				return st.CachedInfo().State.Msgs == 0
			})
		})
	}
}

func TestJetStreamHandlerErrorRedelivers(t *testing.T) {
	j := openTest(t, testConfig(t))
	rec := newRecorder()
	var calls atomic.Int32
	rec.fail = func([]event.Event) error {
		if calls.Add(1) <= 2 {
			return errors.New("store down")
		}
		return nil
	}
	runConsumer(t, j, "detect", 1, rec.handle)
	batches := testBatches(1, 10)
	publishAll(t, t.Context(), j, batches...)
	waitConsumed(t, j, "detect", rec, 10)
	waitAcked(t, j, 1)
	rec.check(t, batches...)
	s := j.Stats()
	if s.HandlerErrors != 2 || s.Redeliveries != 2 || s.AckedBatches != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestJetStreamRestartRedeliversUnconsumed(t *testing.T) {
	cfg := testConfig(t, "detect", "store")
	j, err := OpenJetStream(t.Context(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	batches := testBatches(20, 100)
	publishAll(t, t.Context(), j, batches...)
	// store consumes all before the restart, detect nothing.
	store := newRecorder()
	stop := runConsumer(t, j, "store", 2, store.handle)
	waitConsumed(t, j, "store", store, 2000)
	stop()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = openTest(t, cfg)
	waitPending(t, j, "detect", 20)
	waitPending(t, j, "store", 0)
	detect := newRecorder()
	runConsumer(t, j, "detect", 2, detect.handle)
	waitConsumed(t, j, "detect", detect, 2000)
	if d := detect.check(t, batches...); d != 0 {
		t.Errorf("detect: %d duplicates", d)
	}
	if n := j.Stats().DeliveredBatches; n != 20 {
		t.Errorf("delivered %d batches after restart, want 20", n)
	}
}

func TestJetStreamStopReleasesFetched(t *testing.T) {
	// A consumer stopped while it holds fetched, unhandled messages gives
	// them back at once, not after the ack wait.
	cfg := testConfig(t)
	cfg.AckWait = time.Hour
	j := openTest(t, cfg)
	batches := testBatches(8, 10)
	publishAll(t, t.Context(), j, batches...)
	first := make(chan struct{})
	var once atomic.Bool
	stop := runConsumer(t, j, "detect", 2, func(ctx context.Context, _ []event.Event) error {
		if !once.Swap(true) {
			close(first)
		}
		<-ctx.Done()
		return ctx.Err()
	})
	<-first
	stop()
	rec := newRecorder()
	runConsumer(t, j, "detect", 2, rec.handle)
	waitConsumed(t, j, "detect", rec, 80)
	rec.check(t, batches...)
}

func TestJetStreamSplitsOversizeBatch(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxMsgBytes = minMsgBytes
	j := openTest(t, cfg)
	rec := newRecorder()
	var maxLen atomic.Int64
	rec.fail = func(evs []event.Event) error {
		if n := int64(len(evs)); n > maxLen.Load() {
			maxLen.Store(n)
		}
		return nil
	}
	runConsumer(t, j, "detect", 2, rec.handle)
	batch := makeEvents(0, 1000)
	publishAll(t, t.Context(), j, batch)
	waitConsumed(t, j, "detect", rec, 1000)
	waitAcked(t, j, j.Stats().PublishedMessages)
	rec.check(t, batch)
	s := j.Stats()
	if s.PublishedBatches != 1 || s.PublishedMessages < 10 {
		t.Errorf("stats = %+v, want 1 batch in many messages", s)
	}
	if s.DeliveredBatches != s.PublishedMessages {
		t.Errorf("delivered %d batches, want one per message (%d)", s.DeliveredBatches, s.PublishedMessages)
	}
	if maxLen.Load() >= 1000 {
		t.Errorf("a delivery held %d events: batch not split", maxLen.Load())
	}

	big := makeEvents(1, 2)
	big[1].Set("message", event.StringValue(strings.Repeat("x", minMsgBytes)))
	called := false
	err := j.Publish(t.Context(), event.NewBatch(big, func(error) { called = true }))
	if !errors.Is(err, ErrEventTooLarge) || called {
		t.Errorf("Publish(event too large) = %v, Done called %v; want ErrEventTooLarge, not called", err, called)
	}
}

func TestJetStreamPoisonMessage(t *testing.T) {
	cfg := testConfig(t)
	j := openTest(t, cfg)
	good := makeEvents(1, 3)
	chunks, err := encodeBatch(good, j.maxPayload, nil)
	if err != nil {
		t.Fatal(err)
	}
	partial := append(append([]byte{}, chunks[0].data...), "\n{broken"...)
	for _, data := range [][]byte{[]byte("garbage"), {}, partial} {
		if _, err := j.js.PublishMsg(t.Context(), &nats.Msg{Subject: j.cfg.Subject, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	after := makeEvents(2, 3)
	publishAll(t, t.Context(), j, after)

	rec := newRecorder()
	runConsumer(t, j, "detect", 1, rec.handle)
	waitConsumed(t, j, "detect", rec, 6)
	waitAcked(t, j, 2)
	rec.check(t, good, after)
	s := j.Stats()
	// "garbage" and the broken line fail to decode; the empty message has
	// no line at all.
	if s.PoisonMessages != 2 || s.DecodeFailures != 2 || s.AckedBatches != 2 {
		t.Errorf("stats = %+v; want 2 poison messages, 2 decode failures, 2 acked", s)
	}
}

func TestJetStreamDuplicatePublish(t *testing.T) {
	j := openTest(t, testConfig(t))
	batch := makeEvents(0, 50)
	publishAll(t, t.Context(), j, batch)
	publishAll(t, t.Context(), j, batch)
	rec := newRecorder()
	runConsumer(t, j, "detect", 1, rec.handle)
	waitConsumed(t, j, "detect", rec, 50)
	if d := rec.check(t, batch); d != 0 {
		t.Errorf("%d duplicate deliveries; the stream should drop the re-published message", d)
	}
	if s := j.Stats(); s.DuplicateMessages != 1 || s.PublishedBatches != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestJetStreamLifecycle(t *testing.T) {
	cfg := testConfig(t)
	j, err := OpenJetStream(t.Context(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Consume(t.Context(), "nope", 1, nil); !errors.Is(err, ErrUnknownConsumer) {
		t.Errorf("Consume(unknown) = %v", err)
	}
	if _, err := j.Pending(t.Context(), "nope"); !errors.Is(err, ErrUnknownConsumer) {
		t.Errorf("Pending(unknown) = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := j.Publish(ctx, event.NewBatch(makeEvents(0, 1), nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish(cancelled ctx) = %v", err)
	}
	publishAll(t, t.Context(), j, nil) // an empty batch is done at once

	consumed := make(chan error)
	go func() { consumed <- j.Consume(t.Context(), "detect", 2, newRecorder().handle) }()
	time.Sleep(50 * time.Millisecond)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-consumed; err != nil {
		t.Errorf("Consume stopped by Close = %v, want nil", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := j.Publish(t.Context(), event.NewBatch(makeEvents(0, 1), nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v", err)
	}

	bad := cfg
	bad.Consumers = nil
	if _, err := OpenJetStream(t.Context(), bad, testLogger(t)); err == nil || !strings.Contains(err.Error(), "consumers") {
		t.Errorf("OpenJetStream(no consumers) = %v", err)
	}
}

func TestJetStreamListen(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listen = "127.0.0.1:" + freePort(t)
	j := openTest(t, cfg)
	nc, err := nats.Connect("nats://" + cfg.Listen)
	if err != nil {
		t.Fatalf("connecting to the embedded server's listener: %v", err)
	}
	defer nc.Close()
	chunks, _ := encodeBatch(makeEvents(0, 5), j.maxPayload, nil)
	if err := nc.Publish(j.cfg.Subject, chunks[0].data); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	rec := newRecorder()
	runConsumer(t, j, "detect", 1, rec.handle)
	waitFor(t, "events from the outside client", func() bool { return rec.distinct() == 5 })
}

func TestJetStreamServerLogGoesToLogger(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	w := zerolog.SyncWriter(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	j, err := OpenJetStream(t.Context(), testConfig(t), zerolog.New(w).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	if !strings.Contains(out, `"level":"debug","component":"bus.nats-server"`) || !strings.Contains(out, "JetStream") {
		t.Errorf("embedded server log not routed to the logger at debug level:\n%.500s", out)
	}
	if strings.Contains(out, `"level":"info"`) {
		t.Errorf("embedded server logged at info level:\n%.500s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
