package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
)

func TestCollectorStatus(t *testing.T) {
	reg := prometheus.NewRegistry()
	es, err := collectors.NewMetrics(reg, "esbulk", "beats")
	if err != nil {
		t.Fatal(err)
	}
	sl, err := collectors.NewMetrics(reg, "syslog", "fw")
	if err != nil {
		t.Fatal(err)
	}
	es.In.Add(120)
	es.ParseErrors.Add(3)
	es.Lag.Set(0.25)
	last := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	es.Seen(last)
	sl.In.Add(7)
	sl.Dropped.Add(2)

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := parseCollectorStatus(&text)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	b, f := rows[0], rows[1]
	if b.Name != "beats" || b.Type != "esbulk" || b.In != 120 || b.ParseErrors != 3 || b.LagSeconds != 0.25 || !b.LastSeen.Equal(last) {
		t.Errorf("beats %+v", b)
	}
	if f.Name != "fw" || f.In != 7 || f.Dropped != 2 || !f.LastSeen.IsZero() {
		t.Errorf("fw %+v", f)
	}
	var out bytes.Buffer
	if err := printCollectorStatus(&out, rows, last.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"COLLECTOR", "beats", "esbulk", "1m30s ago", "250ms", "never"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
}

// TestRuntimeConfig checks the runtime section's defaults and validation.
func TestRuntimeConfig(t *testing.T) {
	cfg, err := loadConfig("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Runtime.GCPercent != DefaultGCPercent {
		t.Errorf("gc_percent default %d, want %d", cfg.Runtime.GCPercent, DefaultGCPercent)
	}
	bad := RuntimeConfig{GCPercent: -1, MemoryLimitMiB: -5}
	err = bad.Validate()
	for _, want := range []string{"gc_percent", "memory_limit_mib"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", bad, err, want)
		}
	}
}

// TestRuntimeApply checks that gc_percent is applied unless GOGC is set.
func TestRuntimeApply(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	RuntimeConfig{GCPercent: 250}.apply(func(string) string { return "" }, zerolog.Nop())
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GC percent %d after apply, want 250", got)
	}
	RuntimeConfig{GCPercent: 250}.apply(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	}, zerolog.Nop())
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d with GOGC set, want it left alone (100)", got)
	}
}

// TestLoadIDKey checks the event ID key: created once in the data
// directory and then reused, refused when readable by others, and a
// configured file that is missing is an error rather than a new key.
func TestLoadIDKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := loadIDKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadIDKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := k1.ID("t", []byte("x")), k2.ID("t", []byte("x")); a != b {
		t.Fatalf("the key changed across loads: %s then %s", a, b)
	}
	path := filepath.Join(dir, idKeyFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, mode %v", path, err, fi.Mode().Perm())
	}
	k3, err := loadIDKey(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if k3.ID("t", []byte("x")) == k1.ID("t", []byte("x")) {
		t.Error("two data directories got the same key")
	}
	if _, err := loadIDKey(dir, filepath.Join(dir, "missing.key")); err == nil {
		t.Error("a configured key file that does not exist was accepted")
	}
	os.Chmod(path, 0o644)
	if _, err := loadIDKey(dir, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable key: %v, want a refusal", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("not hex\n"), 0o600)
	if _, err := loadIDKey(dir, ""); err == nil {
		t.Error("a malformed key file was accepted")
	}
}
