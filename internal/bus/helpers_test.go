package bus

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// makeEvents returns n distinct, realistic firewall events (~300 bytes
// encoded) tagged with batch number batch.
func makeEvents(batch, n int) []event.Event {
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	evs := make([]event.Event, n)
	for i := range evs {
		raw := fmt.Sprintf("fw-%d-%d", batch, i)
		ev := event.Event{
			ID:      event.NewID("so-tttt", []byte(raw)),
			Time:    base.Add(time.Duration(batch*n+i) * time.Millisecond),
			Tenant:  "so-tttt",
			Source:  "syslog-fw",
			Dataset: "fortinet.firewall",
		}
		ev.Set("batch", event.NumberValue(float64(batch)))
		ev.Set("seq", event.NumberValue(float64(i)))
		ev.Set("source.ip", event.StringValue(fmt.Sprintf("10.%d.%d.%d", batch%250, i/250, i%250)))
		ev.Set("source.port", event.NumberValue(float64(40000+i%20000)))
		ev.Set("destination.ip", event.StringValue("203.113.131.1"))
		ev.Set("destination.port", event.NumberValue(443))
		ev.Set("network.transport", event.StringValue("tcp"))
		ev.Set("event.action", event.StringValue("accept"))
		ev.Set("host.name", event.StringValue("fw-ubnd-01"))
		ev.Set("message", event.StringValue("action=accept policyid=17 service=HTTPS"))
		evs[i] = ev
	}
	return evs
}

// testLogger writes warnings and errors to the test log.
func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// publishAll publishes batches and waits until each is Done, failing the
// test on any error.
func publishAll(t testing.TB, ctx context.Context, b Bus, batches ...[]event.Event) {
	t.Helper()
	done := make(chan error, len(batches))
	for _, evs := range batches {
		if err := b.Publish(ctx, event.NewBatch(evs, func(err error) { done <- err })); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	for range batches {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Done(%v), want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("batch not Done after 30s")
		}
	}
}

// recorder is a Handler that counts deliveries per event ID.
type recorder struct {
	mu      sync.Mutex
	seen    map[string]int
	batches int
	fail    func(events []event.Event) error // optional
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}} }

func (r *recorder) handle(_ context.Context, events []event.Event) error {
	if r.fail != nil {
		if err := r.fail(events); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	for i := range events {
		r.seen[events[i].ID]++
	}
	return nil
}

// distinct returns how many distinct events were seen.
func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// check fails unless every event of want was seen, and returns how many
// deliveries were duplicates.
func (r *recorder) check(t testing.TB, want ...[]event.Event) (dups int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	missing := 0
	n := 0
	for _, evs := range want {
		for i := range evs {
			n++
			c := r.seen[evs[i].ID]
			if c == 0 {
				missing++
			}
			dups += max(c-1, 0)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d events never delivered", missing, n)
	}
	if extra := len(r.seen) - (n - missing); extra > 0 {
		t.Errorf("%d unexpected events delivered", extra)
	}
	return dups
}

// runConsumer runs b.Consume in the background until the test ends or stop
// is called; stop waits for it and reports its error.
func runConsumer(t testing.TB, b Bus, name string, workers int, h Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Consume(ctx, name, workers, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Consume(%q): %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or 30s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// batchNumbers returns the sorted distinct "batch" fields of events.
func batchNumbers(events []event.Event) []int {
	var out []int
	for i := range events {
		v, _ := events[i].Get("batch")
		n := int(v.Num)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
