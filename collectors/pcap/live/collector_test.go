package live

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// run runs c with src until src is exhausted, then stops it.
func run(t *testing.T, c *Collector, src *fileSource, p *sink) {
	t.Helper()
	c.open = func(context.Context) (packetSource, error) { return src, nil }
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, p) }()
	select {
	case <-src.done:
	case <-time.After(10 * time.Second):
		t.Fatal("replay did not end")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestCollectorMatchesOfflineDecode(t *testing.T) {
	files := replayPaths(t)
	want := summary(offline(t, "t1", files))
	requireDatasets(t, want)
	for _, perRead := range []int{1, 7, 1000} {
		c := buildCollector(t, testSpec("eth0"))
		src := newFileSource(t, files, perRead)
		src.drops = 3
		var p sink
		run(t, c, src, &p)
		got := summary(p.got())
		if d := diff(want, got); len(d) > 0 {
			t.Fatalf("perRead %d: live events differ from the offline decode:\n%v", perRead, d)
		}
		if n := testutil.ToFloat64(c.m.dropped.WithLabelValues(reasonKernel)); n != 3 {
			t.Errorf("kernel drops = %v, want 3", n)
		}
		if n := testutil.ToFloat64(c.m.shared.Dropped); n != 3 {
			t.Errorf("shared dropped = %v, want 3", n)
		}
		if n, want := testutil.ToFloat64(c.m.shared.In), float64(len(src.frames)); n != want {
			t.Errorf("packets = %v, want %v", n, want)
		}
		if n, want := testutil.ToFloat64(c.m.published), float64(len(p.got())); n != want {
			t.Errorf("published = %v, want %v", n, want)
		}
	}
}

func TestCollectorDropsWhenQueueFull(t *testing.T) {
	files := replayPaths(t)
	total := len(offline(t, "t1", files))
	s := testSpec("eth0")
	s.BatchSize, s.Queue = 1, 1
	c := buildCollector(t, s)
	src := newFileSource(t, files, 1000)
	p := &sink{release: make(chan struct{})}
	c.open = func(context.Context) (packetSource, error) { return src, nil }
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, p) }()
	<-src.done
	cancel()
	close(p.release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	dropped := testutil.ToFloat64(c.m.dropped.WithLabelValues(reasonQueueFull))
	published := float64(len(p.got()))
	if dropped == 0 {
		t.Errorf("no queue_full drop with a blocked bus")
	}
	if dropped+published != float64(total) {
		t.Errorf("dropped %v + published %v != %d events", dropped, published, total)
	}
}

func TestCollectorCountsRefusedBatches(t *testing.T) {
	files := replayPaths(t)
	c := buildCollector(t, testSpec("eth0"))
	src := newFileSource(t, files, 1000)
	p := &sink{err: errors.New("bus closed")}
	run(t, c, src, p)
	if n, want := testutil.ToFloat64(c.m.dropped.WithLabelValues(reasonNotStored)), testutil.ToFloat64(c.m.events); n != want || n == 0 {
		t.Errorf("not_stored = %v, want every event (%v)", n, want)
	}
}

func TestCollectorFlushesOpenFlowsOnShutdown(t *testing.T) {
	// Flows of the replay are younger than every timeout: only the flush
	// at shutdown reports them.
	files := replayPaths(t)
	s := testSpec("eth0")
	s.BatchWait = time.Hour
	s.BatchSize = 1 << 20
	c := buildCollector(t, s)
	src := newFileSource(t, files, 1000)
	var p sink
	run(t, c, src, &p)
	if p.batches != 1 {
		t.Errorf("%d batches, want 1 (published at shutdown)", p.batches)
	}
	flows := 0
	for _, ev := range p.got() {
		if ev.Dataset == "flow" {
			flows++
		}
	}
	if flows == 0 {
		t.Error("no flow reported at shutdown")
	}
}

func TestRunFailsWhenCaptureCannotOpen(t *testing.T) {
	c := buildCollector(t, testSpec("mgv-absent0"))
	err := c.Run(t.Context(), &sink{})
	if err == nil {
		t.Fatal("Run on a missing interface succeeded")
	}
}
