package sigma

import (
	"archive/zip"
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
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
// event of the OTRF corpus, one event per iteration, on one goroutine:
// events/s, the p50 and p99 latency of one event, and the heap of the
// compiled rules.
func BenchmarkSigmaHQWindows(b *testing.B) {
	rules, heap := sigmaHQWindows(b)
	events := otrfCorpus(b, 20_000)
	if len(events) == 0 {
		b.Skip("no OTRF events")
	}
	ctx := b.Context()
	alerts := 0
	emit := func(detections.Finding) { alerts++ }
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := &events[i%len(events)]
		i++
		t := time.Now()
		for _, r := range rules {
			_ = r.Eval(ctx, ev, emit)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t))
		}
	}
	reportRate(b, lat)
	b.ReportMetric(float64(len(rules)), "rules")
	b.ReportMetric(float64(heap)/(1<<20), "compiled-MiB")
}

// reportRate reports the events per second of the benchmark's loop and
// the p50 and p99 of lat, the latencies of its events (sorted in place).
func reportRate(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
