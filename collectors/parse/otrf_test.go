package parse

import (
	"archive/zip"
	"bufio"
	"bytes"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

// otrfLines returns up to n JSON lines of a zipped OTRF dataset.
func otrfLines(t *testing.T, path string, n int) []string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out []string
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(io.LimitReader(rc, 64<<20))
		sc.Buffer(nil, 4<<20)
		for sc.Scan() && len(out) < n {
			if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "{") {
				out = append(out, l)
			}
		}
		rc.Close()
	}
	return out
}

// TestOTRF parses real Windows events in NXLog's flat shape (OTRF
// Security-Datasets) through auto-detection: every one is detected and
// normalized, the ECS fields agree with the originals, and the originals
// stay. The ECS subset of the first lines of one file is a golden file.
func TestOTRF(t *testing.T) {
	dir := datasettest.Path(t, "logs", "otrf-windows")
	zips, _ := filepath.Glob(filepath.Join(dir, "*", "host", "*.zip"))
	if len(zips) == 0 {
		t.Skip("no OTRF zips in " + dir)
	}
	sort.Strings(zips)
	if len(zips) > 6 {
		zips = zips[:6]
	}
	total := 0
	for _, z := range zips {
		for i, l := range otrfLines(t, z, 400) {
			ev := msgEvent(l)
			if got := Detect(ev); got != "json" {
				t.Fatalf("%s line %d: detected %q", filepath.Base(z), i+1, got)
			}
			if err := Parse(Auto, ev); err != nil {
				t.Fatalf("%s line %d: %v", filepath.Base(z), i+1, err)
			}
			total++
			for ecs, orig := range map[string]string{
				"event.code": "EventID", "winlog.channel": "Channel", "host.name": "Hostname",
				"process.command_line": "CommandLine",
			} {
				o := ev.GetString(orig)
				if o == "" || o == "-" {
					continue
				}
				if g := ev.GetString(ecs); g != o {
					t.Fatalf("%s line %d: %s = %q, original %s = %q", filepath.Base(z), i+1, ecs, g, orig, o)
				}
			}
			if ev.Time.IsZero() {
				t.Fatalf("%s line %d: no time", filepath.Base(z), i+1)
			}
		}
	}
	if total == 0 {
		t.Fatal("no OTRF events read")
	}
	t.Logf("%d OTRF events from %d files", total, len(zips))

	keep := []string{"event.code", "event.category", "event.outcome", "winlog.channel", "host.name", "process.executable",
		"process.name", "process.command_line", "process.pid", "process.parent.executable", "user.name", "user.domain",
		"source.ip", "source.port", "destination.ip", "destination.port", "file.path", "registry.path"}
	var out bytes.Buffer
	for _, l := range otrfLines(t, zips[0], 25) {
		ev := msgEvent(l)
		if err := Parse(Auto, ev); err != nil {
			t.Fatal(err)
		}
		sub := event.Event{Time: ev.Time}
		for _, k := range keep {
			if v, ok := ev.Get(k); ok {
				sub.Set(k, v)
			}
		}
		out.Write(event.AppendJSON(nil, &sub))
		out.WriteByte('\n')
	}
	golden(t, "otrf", out.Bytes())
}
