package sigma

import (
	"archive/zip"
	"bufio"
	"bytes"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/internal/wire"
)

// otrfCorpus decodes the events of the OTRF Windows archives (the .json
// members of each .zip) and returns a process-creation-heavy corpus: every
// process creation (Sysmon 1, Security 4688) and as many other events, at
// most limit in all.
func otrfCorpus(tb testing.TB, limit int) []event.Event {
	root := datasets(tb, filepath.Join("logs", "otrf-windows"))
	var proc, other []event.Event
	var dec event.Decoder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".zip") {
			return err
		}
		zr, err := zip.OpenReader(p)
		if err != nil {
			return err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, ".json") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 1<<20), 4<<20)
			for sc.Scan() {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				ev := event.Event{ID: event.NewID("", line)}
				if dec.Decode(line, &ev) != nil {
					continue
				}
				id := ev.GetString("EventID")
				if id == "1" && strings.Contains(ev.GetString("Channel"), "Sysmon") || id == "4688" {
					proc = append(proc, ev)
				} else {
					other = append(other, ev)
				}
			}
			rc.Close()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	proc = proc[:min(len(proc), limit/2)]
	other = other[:min(len(other), len(proc), limit-len(proc))]
	// Interleave so that every stretch of the corpus has both kinds.
	var out []event.Event
	for i := range max(len(proc), len(other)) {
		if i < len(proc) {
			out = append(out, proc[i])
		}
		if i < len(other) {
			out = append(out, other[i])
		}
	}
	return out
}

// consumerCorpus returns events as the detection engine receives them: the
// events encoded into bus message payloads (wire's format, at most
// maxPayload bytes each) and decoded by a wire.Decoder, which lays each
// message's events out together (fields in one slab, texts in the
// payload's copy and one arena).
func consumerCorpus(tb testing.TB, events []event.Event) []event.Event {
	const maxPayload = 1 << 20
	var out []event.Event
	dec := wire.NewDecoder(maxPayload)
	var buf []byte
	flush := func(want int) {
		if len(buf) == 0 {
			return
		}
		evs, bad := dec.Decode(buf)
		if bad != 0 || len(evs) != want {
			tb.Fatalf("decoded %d events, %d bad, want %d", len(evs), bad, want)
		}
		out = append(out, evs...)
		buf = buf[:0]
	}
	n := 0
	for i := range events {
		line := event.AppendJSON(nil, &events[i])
		if len(buf)+1+len(line) > maxPayload {
			flush(n)
			n = 0
		}
		if len(buf) > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, line...)
		n++
	}
	flush(n)
	return out
}

// sigmaHQWindows compiles every SigmaHQ rule under a windows folder and
// returns the rules and the heap they hold.
// windowsProduct finds the files that name the windows product; the rules
// are then kept by their parsed log source.
var windowsProduct = regexp.MustCompile(`(?m)^\s*product:\s*windows\s*$`)

func sigmaHQWindows(tb testing.TB) ([]detections.Rule, uint64) {
	files := sigmaHQFiles(tb)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	// Every detection rule for product windows, wherever it is filed:
	// rules/windows, rules-threat-hunting/windows and the emerging-threats
	// rules (about 2,850 files).
	var set []detections.File
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if !windowsProduct.Match(data) {
			continue
		}
		set = append(set, detections.File{Path: f, Data: data})
	}
	all, _ := NewCompiler(nil).LoadSet(set)
	set = nil
	var rules []detections.Rule
	for _, r := range all {
		if sr, ok := r.(*Rule); ok && sr.Info().LogSource.Product == "windows" {
			rules = append(rules, r)
		}
	}
	all = nil
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	return rules, ms1.HeapAlloc - min(ms0.HeapAlloc, ms1.HeapAlloc)
}

// BenchmarkSigmaHQWindows evaluates every SigmaHQ Windows rule on each
// event of the OTRF corpus (as the engine receives it from the bus:
// consumerCorpus), one event per iteration, on one goroutine:
// events/s, the p50 and p99 latency of one event, and the heap of the
// compiled rules.
func BenchmarkSigmaHQWindows(b *testing.B) {
	rules, heap := sigmaHQWindows(b)
	events := consumerCorpus(b, otrfCorpus(b, 20_000))
	if len(events) == 0 {
		b.Skip("no OTRF events")
	}
	ctx := b.Context()
	alerts := 0
	emit := func(detections.Finding) { alerts++ }
	var lat latencies
	b.ReportAllocs()
	i := 0
	last := time.Now()
	for b.Loop() {
		ev := &events[i%len(events)]
		i++
		for _, r := range rules {
			_ = r.Eval(ctx, ev, emit)
		}
		now := time.Now()
		lat.add(now.Sub(last))
		last = now
	}
	reportRate(b, &lat)
	b.ReportMetric(float64(len(rules)), "rules")
	b.ReportMetric(float64(heap)/(1<<20), "compiled-MiB")
}

// reportRate reports the events per second of the benchmark's loop and
// the p50 and p99 of lat, the latencies of its events.
func reportRate(b *testing.B, lat *latencies) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(lat.quantile(0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat.quantile(0.99).Nanoseconds()), "p99-ns")
}

// latencies is a histogram of the latencies of a benchmark's events, its
// buckets about 1.6% wide (64 per power of two), in 9 KiB: a benchmark
// records every event without the half megabyte of a list of them, which
// would evict from the processor's caches the data the engine uses.
type latencies struct {
	n     [35 * 64]uint32
	total int
}

// add records one latency (at most about 2^40 ns).
func (l *latencies) add(d time.Duration) {
	v := uint64(max(d, 0))
	s := max(bits.Len64(v)-7, 0) // v>>s has 7 bits: 64 buckets per power of two
	i := min(s*64+int(v>>s), len(l.n)-1)
	l.n[i]++
	l.total++
}

// quantile returns the middle of the bucket of the q-quantile (0 < q < 1).
func (l *latencies) quantile(q float64) time.Duration {
	want := max(int(math.Ceil(q*float64(l.total))), 1)
	seen := 0
	for i, c := range l.n {
		if seen += int(c); seen >= want {
			if i < 128 {
				return time.Duration(i)
			}
			s := i/64 - 1
			m := i - s*64
			return time.Duration(m<<s + (1<<s)/2)
		}
	}
	return 0
}

// TestLatencies checks the benchmarks' histogram against the exact
// quantiles of a spread of latencies: within a bucket's width.
func TestLatencies(t *testing.T) {
	var l latencies
	var all []time.Duration
	for i := range 10000 {
		d := time.Duration(i*i%99991 + 50) // 50 ns to 100 µs
		if i%100 == 0 {
			d = time.Duration(i) * time.Millisecond
		}
		l.add(d)
		all = append(all, d)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		want := all[int(math.Ceil(q*float64(len(all))))-1]
		got := l.quantile(q)
		if math.Abs(float64(got-want)) > 0.016*float64(want)+1 {
			t.Errorf("q%.3f = %v, want %v", q, got, want)
		}
	}
	var empty latencies
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty: %v", got)
	}
	empty.add(-time.Second)
	empty.add(time.Duration(1) << 50)
	if got := empty.quantile(0.99); got <= 0 {
		t.Errorf("overflow bucket: %v", got)
	}
}
