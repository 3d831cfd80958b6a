package rulepack_test

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/rulepack"
	"github.com/mangrove-soc/mangrove/detections/sigma"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// maxArchiveLine bounds one event line read from an archive.
const maxArchiveLine = 4 << 20

// archiveEvents calls fn with each line of each .json member of the .zip or
// .tar.gz archive at path. A truncated archive is read up to the last whole
// line; the error that ended it is returned with the lines already passed.
func archiveEvents(path string, fn func(line []byte)) error {
	lines := func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 1<<16)
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				// Longer than the buffer: collect the rest, bounded.
				long := append([]byte(nil), line...)
				for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxArchiveLine {
					line, err = br.ReadSlice('\n')
					long = append(long, line...)
				}
				if len(long) > maxArchiveLine {
					return fmt.Errorf("line longer than %d bytes", maxArchiveLine)
				}
				line = long
			}
			if err == io.EOF {
				if len(bytes.TrimSpace(line)) > 0 {
					fn(line)
				}
				return nil
			}
			if err != nil {
				return err // a partial last line is dropped
			}
			if len(bytes.TrimSpace(line)) > 0 {
				fn(line)
			}
		}
	}
	switch {
	case strings.HasSuffix(path, ".zip"):
		zr, err := zip.OpenReader(path)
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
			err = lines(rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
		}
		return nil
	case strings.HasSuffix(path, ".tar.gz"):
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".json") {
				continue
			}
			if err := lines(tr); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		}
	}
	return fmt.Errorf("not a .zip or .tar.gz archive")
}

// TestOTRFWindowsGolden records which SigmaHQ rules (the rules of
// sigma/rules* for product windows, loaded with the sigma kind through
// rulepack) fire on each
// event archive of logs/otrf-windows, and how often. The golden file is for
// a person to review for plausibility; refresh it with -update.
func TestOTRFWindowsGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 100,000 events through every SigmaHQ rule; skipped with -short")
	}
	root := datasettest.Path(t, "logs", "otrf-windows")
	sigmaDir := datasettest.Path(t, "sigma")
	dirs, _ := filepath.Glob(filepath.Join(sigmaDir, "rules*"))
	var reg detections.Registry
	reg.Register(sigma.Kind)
	no := false
	all, rep := rulepack.Load(&reg, rulepack.Config{Builtin: &no, Dirs: dirs})
	// Only rules for product windows: the others cannot apply to these
	// events, and running all 3,750 takes over a minute on a shared
	// machine.
	var rules []detections.Rule
	for _, r := range all {
		if sr, ok := r.(*sigma.Rule); ok && sr.Info().LogSource.Product == "windows" {
			rules = append(rules, r)
		}
	}
	if len(rules) < 2500 {
		t.Fatalf("only %d SigmaHQ Windows rules loaded of %d: %v", len(rules), len(all), rep.Err())
	}
	set, err := sigma.NewSet(rules)
	if err != nil {
		t.Fatal(err)
	}
	metas := set.Metas()
	var archives []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".zip") || strings.HasSuffix(p, ".tar.gz")) {
			archives = append(archives, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(archives)

	var out bytes.Buffer
	fmt.Fprintf(&out, "# SigmaHQ rules firing on each archive of logs/otrf-windows (NXLog NDJSON events),\n")
	fmt.Fprintf(&out, "# with the %d rules of sigma/rules* for product windows loaded. Per archive:\n# events read, then", len(rules))
	fmt.Fprintf(&out, " alerts per rule (count, rule id, title). Refresh:\n")
	fmt.Fprintf(&out, "#   go test ./detections/rulepack -run TestOTRFWindowsGolden -update\n")
	ctx := context.Background()
	var dec event.Decoder
	total := 0
	for _, a := range archives {
		rel, _ := filepath.Rel(root, a)
		counts := make([]int, len(rules))
		var evs []event.Event
		bad := 0
		readErr := archiveEvents(a, func(line []byte) {
			ev := event.Event{ID: event.NewID("", line)}
			if err := dec.Decode(bytes.TrimSpace(line), &ev); err != nil {
				bad++
				return
			}
			evs = append(evs, ev)
		})
		n := len(evs)
		// The rules run as one sigma.Set (TestSetMatchesRules checks that
		// a Set fires exactly what the rules fire one by one); each worker
		// takes a share of the events.
		workers := runtime.GOMAXPROCS(0)
		perWorker := make([][]int, workers)
		var wg sync.WaitGroup
		for w := range workers {
			perWorker[w] = make([]int, len(rules))
			wg.Go(func() {
				for i := w; i < len(evs); i += workers {
					_ = set.EvalAll(ctx, &evs[i], func(ri int, _ detections.Finding) { perWorker[w][ri]++ })
				}
			})
		}
		wg.Wait()
		for _, c := range perWorker {
			for ri, n := range c {
				counts[ri] += n
			}
		}
		total += n
		fmt.Fprintf(&out, "\n== %s: %d events", filepath.ToSlash(rel), n)
		if bad > 0 {
			fmt.Fprintf(&out, ", %d lines not decoded", bad)
		}
		if readErr != nil {
			fmt.Fprintf(&out, " (archive ends early: %v)", readErr)
		}
		out.WriteString("\n")
		idx := make([]int, 0)
		for i, c := range counts {
			if c > 0 {
				idx = append(idx, i)
			}
		}
		sort.Slice(idx, func(x, y int) bool { return metas[idx[x]].ID < metas[idx[y]].ID })
		for _, i := range idx {
			fmt.Fprintf(&out, "%7d  %s  %s\n", counts[i], metas[i].ID, metas[i].Title)
		}
	}
	if total < 50_000 {
		t.Errorf("only %d events read from %d archives", total, len(archives))
	}
	golden := filepath.Join("testdata", "otrf-windows.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		got := filepath.Join(t.TempDir(), "otrf-windows.golden")
		os.WriteFile(got, out.Bytes(), 0o644)
		t.Errorf("rules firing on otrf-windows differ from %s; got %s (diff them; -update to accept)", golden, got)
	}
}
