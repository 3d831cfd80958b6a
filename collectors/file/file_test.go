package file

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
)

// fakePub acknowledges each batch after a random delay up to maxDelay,
// out of order, and records what it acknowledged. When failFirst > 0 the
// first failFirst batches are failed instead; when hold is set, batches are
// kept unacknowledged in held.
type fakePub struct {
	maxDelay  time.Duration
	failFirst int
	hold      bool

	mu      sync.Mutex
	n       int
	byID    map[string]string // acknowledged ID → message
	count   map[string]int    // message → times acknowledged
	held    []*event.Batch
	pending sync.WaitGroup
}

func newPub(maxDelay time.Duration) *fakePub {
	return &fakePub{maxDelay: maxDelay, byID: map[string]string{}, count: map[string]int{}}
}

func (p *fakePub) Publish(ctx context.Context, b *event.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	p.n++
	fail := p.n <= p.failFirst
	if p.hold {
		p.held = append(p.held, b)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	p.pending.Add(1)
	go func() {
		defer p.pending.Done()
		if p.maxDelay > 0 {
			time.Sleep(rand.N(p.maxDelay))
		}
		if fail {
			b.Done(errors.New("bus unavailable"))
			return
		}
		p.ack(b)
	}()
	return nil
}

func (p *fakePub) ack(b *event.Batch) {
	p.mu.Lock()
	for i := range b.Events {
		ev := &b.Events[i]
		if old, ok := p.byID[ev.ID]; ok && old != ev.Message() {
			panic(fmt.Sprintf("ID %s reused: %q and %q", ev.ID, old, ev.Message()))
		}
		p.byID[ev.ID] = ev.Message()
		p.count[ev.Message()]++
	}
	p.mu.Unlock()
	b.Done(nil)
}

// heldBatch returns the i-th batch Publish held back.
func (p *fakePub) heldBatch(i int) *event.Batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[i]
}

func (p *fakePub) has(msgs ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		if p.count[m] == 0 {
			return false
		}
	}
	return true
}

func (p *fakePub) ids() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.byID))
	for k, v := range p.byID {
		out[k] = v
	}
	return out
}

// harness runs one collector until stop is called.
type harness struct {
	c    *Collector
	stop func()
	err  chan error
}

func testSpec(paths ...string) *Spec {
	s := NewSpec()
	s.Paths = paths
	s.Tenant = "agency-a"
	s.PollInterval = 10 * time.Millisecond
	s.BatchSize = 50
	s.CommitInterval = 20 * time.Millisecond
	s.CloseInactive = time.Second
	return s
}

func start(t *testing.T, s *Spec, dataDir string, p collectors.Publisher) *harness {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	col, err := s.Build("files", collectors.Env{DataDir: dataDir, Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	c := col.(*Collector)
	c.drainTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	h := &harness{c: c, err: make(chan error, 1)}
	go func() { h.err <- c.Run(ctx, p) }()
	h.stop = func() {
		cancel()
		if err := <-h.err; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	return h
}

func lineN(i int) string { return "line " + strconv.Itoa(i) + " " + strings.Repeat("x", i%40) }

func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(lineN(i))
		b.WriteByte('\n')
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allLines(from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, lineN(i))
	}
	return out
}

func committed(t *testing.T, dataDir string) map[string]saved {
	t.Helper()
	s, err := loadOffsets(filepath.Join(dataDir, "collectors", "files"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRestartResumesWithoutNewIDs(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, 0, 1000)
	p := newPub(2 * time.Millisecond)
	h := start(t, testSpec(filepath.Join(dir, "*.log")), data, p)
	waitFor(t, "first 1000 lines", func() bool { return p.has(allLines(0, 1000)...) })
	h.stop()
	st, _ := os.Stat(log)
	for _, s := range committed(t, data) {
		if s.Offset != st.Size() {
			t.Fatalf("committed offset %d after a clean stop, want %d", s.Offset, st.Size())
		}
	}
	first := p.ids()
	if len(first) != 1000 {
		t.Fatalf("%d distinct IDs for 1000 lines", len(first))
	}

	appendLines(t, log, 1000, 1500)
	p2 := newPub(2 * time.Millisecond)
	h = start(t, testSpec(filepath.Join(dir, "*.log")), data, p2)
	waitFor(t, "500 new lines", func() bool { return p2.has(allLines(1000, 1500)...) })
	h.stop()
	for id, msg := range p2.ids() {
		if _, ok := first[id]; ok {
			t.Fatalf("line %q read again after a clean restart", msg)
		}
	}
}

// TestCrashReReadsWithSameIDs: batches that were never acknowledged (the
// process died) are read again after a restart, with the same IDs, and
// nothing is lost.
func TestCrashReReadsWithSameIDs(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, 0, 600)
	held := newPub(0)
	held.hold = true
	s := testSpec(log)
	s.MaxInFlight = 4
	h := start(t, s, data, held)
	waitFor(t, "4 held batches", func() bool { held.mu.Lock(); defer held.mu.Unlock(); return len(held.held) == 4 })
	// Acknowledge the 2nd and 4th only: the commit must stay at 0.
	held.ack(held.heldBatch(1))
	held.ack(held.heldBatch(3))
	time.Sleep(60 * time.Millisecond)
	h.c.mu.Lock()
	for _, f := range h.c.files {
		if f.committed != 0 {
			t.Errorf("committed %d with the first batch unacknowledged", f.committed)
		}
	}
	h.c.mu.Unlock()
	held.ack(held.heldBatch(0))
	waitFor(t, "commit of batches 1-2", func() bool {
		h.c.mu.Lock()
		defer h.c.mu.Unlock()
		for _, f := range h.c.files {
			return f.committed > 0
		}
		return false
	})
	h.stop() // batch 3 never acknowledged: a crash for its lines
	before := held.ids()
	heldCount := map[string]int{}
	for _, m := range before {
		heldCount[m]++
	}

	p := newPub(time.Millisecond)
	h = start(t, testSpec(log), data, p)
	waitFor(t, "every line, before or after the crash", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range allLines(0, 600) {
			if p.count[l] == 0 && heldCount[l] == 0 {
				return false
			}
		}
		return true
	})
	h.stop()
	byMsg := map[string]string{}
	for id, m := range p.ids() {
		byMsg[m] = id
	}
	for id, m := range before {
		if got, ok := byMsg[m]; ok && got != id {
			t.Fatalf("line %q has ID %s after the restart, %s before", m, got, id)
		}
	}
	if _, ok := byMsg[lineN(0)]; ok {
		t.Fatal("acknowledged and committed line 0 read again")
	}
}

func TestFailedBatchIsReadAgain(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, 0, 300)
	p := newPub(time.Millisecond)
	p.failFirst = 2
	h := start(t, testSpec(log), data, p)
	waitFor(t, "every line despite failures", func() bool { return p.has(allLines(0, 300)...) })
	h.stop()
}

// rotateLoad writes n lines while rotating every `every` lines with rotate.
func rotateLoad(t *testing.T, log string, n, every int, rotate func(k int)) {
	for i := 0; i < n; i += 10 {
		appendLines(t, log, i, i+10)
		if (i+10)%every == 0 {
			rotate((i + 10) / every)
		}
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestRotationRenameUnderLoad(t *testing.T) {
	for _, glob := range []string{"app.log*", "app.log"} {
		t.Run(glob, func(t *testing.T) {
			dir, data := t.TempDir(), t.TempDir()
			log := filepath.Join(dir, "app.log")
			p := newPub(3 * time.Millisecond)
			h := start(t, testSpec(filepath.Join(dir, glob)), data, p)
			const n = 20000
			rotateLoad(t, log, n, 2500, func(k int) {
				if err := os.Rename(log, fmt.Sprintf("%s.%d", log, k)); err != nil {
					t.Fatal(err)
				}
			})
			waitFor(t, "every line", func() bool { return p.has(allLines(0, n)...) })
			h.stop()
			p.mu.Lock()
			defer p.mu.Unlock()
			for m, k := range p.count {
				if k != 1 {
					t.Errorf("%q delivered %d times", m, k)
				}
			}
		})
	}
}

func TestRotationCopyTruncateUnderLoad(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "app.log")
	p := newPub(3 * time.Millisecond)
	h := start(t, testSpec(filepath.Join(dir, "app.log*")), data, p)
	const n = 20000
	rotateLoad(t, log, n, 2500, func(k int) {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fmt.Sprintf("%s.%d", log, k), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(log, 0); err != nil {
			t.Fatal(err)
		}
	})
	// Every line at least once: from the live file or from its copy.
	waitFor(t, "every line", func() bool { return p.has(allLines(0, n)...) })
	h.stop()
}

func TestTruncatedFileGetsNewIDs(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, 0, 100)
	p := newPub(time.Millisecond)
	h := start(t, testSpec(log), data, p)
	waitFor(t, "first lines", func() bool { return p.has(allLines(0, 100)...) })
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	// Same lengths at the same offsets, other content.
	f, _ := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	for i := range 100 {
		fmt.Fprintln(f, strings.Replace(lineN(i), "line", "LINE", 1))
	}
	f.Close()
	waitFor(t, "rewritten lines", func() bool { return p.has(strings.Replace(lineN(99), "line", "LINE", 1)) })
	h.stop() // fakePub panics on an ID reused for other content
	if got := len(p.ids()); got != 200 {
		t.Fatalf("%d IDs, want 200", got)
	}
}

func TestGzipReadOnce(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	gz := filepath.Join(dir, "old.log.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	for _, l := range allLines(0, 2000) {
		fmt.Fprintln(zw, l)
	}
	fmt.Fprint(zw, "last line without newline")
	zw.Close()
	f.Close()
	for round := range 2 {
		p := newPub(time.Millisecond)
		h := start(t, testSpec(filepath.Join(dir, "*.gz")), data, p)
		if round == 0 {
			waitFor(t, "every line", func() bool { return p.has(append(allLines(0, 2000), "last line without newline")...) })
			waitFor(t, "done", func() bool {
				h.c.mu.Lock()
				defer h.c.mu.Unlock()
				for _, f := range h.c.files {
					return f.done
				}
				return false
			})
		} else {
			time.Sleep(200 * time.Millisecond)
		}
		h.stop()
		if got := len(p.ids()); round == 1 && got != 0 {
			t.Fatalf("%d lines read again from a finished gzip file", got)
		}
		for _, s := range committed(t, data) {
			if !s.Done {
				t.Fatalf("round %d: gzip file not marked done: %+v", round, s)
			}
		}
	}
}

func TestLongLinesAndParsing(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "auth.log")
	long := strings.Repeat("a", 3000)
	body := "Nov 25 10:00:01 web1 sshd[1234]: Failed password for root from 203.0.113.9 port 2222 ssh2\n" +
		long + "\nshort\n"
	if err := os.WriteFile(log, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []event.Event
	p := publisherFunc(func(b *event.Batch) {
		mu.Lock()
		got = append(got, b.Events...)
		mu.Unlock()
		b.Done(nil)
	})
	s := testSpec(log)
	s.MaxLineBytes = 1024
	s.Dataset = "auth"
	h := start(t, s, data, p)
	waitFor(t, "3 events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	h.stop()
	ssh := got[0]
	if ssh.GetString("user.name") != "root" || ssh.GetString("source.ip") != "203.0.113.9" || ssh.GetString("event.outcome") != "failure" {
		t.Fatalf("sshd line not parsed: %s", event.AppendJSON(nil, &ssh))
	}
	if ssh.Tenant != "agency-a" || ssh.Dataset != "auth" || ssh.Source != "files" || ssh.GetString("log.file.path") != log || ssh.GetString("log.offset") != "0" {
		t.Fatalf("metadata: %s", event.AppendJSON(nil, &ssh))
	}
	if len(got[1].Message()) != 1024 || got[1].GetString("tags") != "truncated" {
		t.Fatalf("long line: %d bytes, tags %q", len(got[1].Message()), got[1].GetString("tags"))
	}
	if got[2].Message() != "short" {
		t.Fatalf("line after the long one: %q", got[2].Message())
	}
}

type publisherFunc func(*event.Batch)

func (f publisherFunc) Publish(ctx context.Context, b *event.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f(b)
	return nil
}

func TestValidate(t *testing.T) {
	s := &Spec{Paths: []string{"relative/*.log", "/var/log/[.log"}, Parser: "bogus"}
	err := s.Validate()
	if err == nil {
		t.Fatal("invalid spec accepted")
	}
	for _, want := range []string{"paths[0]", "paths[1]", "parser:", "tenant:", "dataset:", "poll_interval:", "batch_size:", "max_in_flight:", "max_line_bytes:", "commit_interval:", "close_inactive:", "start_at:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
	ok := NewSpec()
	ok.Paths, ok.Tenant = []string{"/var/log/*.log"}, "t"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestExcludeAndSeveralFiles(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	for _, name := range []string{"a.log", "b.log", "skip.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name+" line\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := testSpec(filepath.Join(dir, "*.log"), filepath.Join(dir, "a.*"))
	s.Exclude = []string{"skip.*"}
	p := newPub(time.Millisecond)
	h := start(t, s, data, p)
	waitFor(t, "a and b", func() bool { return p.has("a.log line", "b.log line") })
	time.Sleep(100 * time.Millisecond)
	h.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count["skip.log line"] != 0 || p.count["a.log line"] != 1 {
		t.Fatalf("counts %v: want a once (matched by two globs), skip never", p.count)
	}
}

func TestMetrics(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "auth.log")
	body := "Failed password for root from 203.0.113.9 port 2222 ssh2\nnot ssh\nalso not\n"
	if err := os.WriteFile(log, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s := testSpec(log)
	s.Parser = "openssh"
	reg := prometheus.NewRegistry()
	col, err := s.Build("m", collectors.Env{DataDir: data, Logger: zerolog.Nop(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// A second collector on the same registry shares the vectors.
	if _, err := s.Build("m2", collectors.Env{DataDir: data, Logger: zerolog.Nop(), Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	p := newPub(0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, p) }()
	waitFor(t, "3 lines", func() bool { return p.has("not ssh", "also not") })
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		collectors.MetricIn: 3, collectors.MetricParseErrors: 2, collectors.MetricBytes: float64(len(body)),
		"mangrove_file_lag_bytes": 0,
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			isM := false
			for _, l := range m.GetLabel() {
				isM = isM || (l.GetName() == collectors.LabelCollector && l.GetValue() == "m")
			}
			w, ok := want[mf.GetName()]
			if !isM || !ok {
				continue
			}
			got := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if got != w {
				t.Errorf("%s = %v, want %v", mf.GetName(), got, w)
			}
			found[mf.GetName()] = true
		}
		if mf.GetName() == collectors.MetricLastSeen {
			found[mf.GetName()] = true
		}
	}
	for name := range want {
		if !found[name] {
			t.Errorf("metric %s missing", name)
		}
	}
	if !found[collectors.MetricLastSeen] {
		t.Error("last seen metric missing")
	}
}
