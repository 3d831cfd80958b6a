package silence

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/sigma"
)

func snapshot(t *testing.T, r *Rule) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.Snapshot(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func restored(t *testing.T, cfg Config, snap []byte) *Rule {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	return r
}

func hosts(fs []detections.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Events[0].GetString("host.name"))
	}
	return out
}

// TestRestartKeepsSilentAndAliveSources: after a restore, a source already
// reported is not reported again, and a source that never sends after the
// restart is still reported (with the finding the old process would have
// emitted), once the restart grace has passed.
func TestRestartKeepsSilentAndAliveSources(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r1, _ := New(Config{})
		eval(t, r1, ev("a", "syslog", "silent"))
		time.Sleep(30 * time.Minute)
		eval(t, r1, ev("a", "syslog", "alive"))
		time.Sleep(31 * time.Minute)
		if got := hosts(tick(t, r1)); len(got) != 1 || got[0] != "silent" {
			t.Fatalf("before restart: %v", got)
		}
		snap := snapshot(t, r1)
		time.Sleep(30 * time.Minute) // 29 min more of "alive" silence
		// What the old process would have reported had it kept running.
		want := tick(t, r1)

		r2 := restored(t, Config{}, snap)
		if r2.Sources() != 2 {
			t.Fatalf("%d sources restored, want 2", r2.Sources())
		}
		if got := tick(t, r2); len(got) != 0 {
			t.Fatalf("reported within the restart grace: %v", hosts(got))
		}
		time.Sleep(DefaultRestartGrace)
		got := tick(t, r2)
		if len(got) != 1 || len(want) != 1 || hosts(got)[0] != "alive" {
			t.Fatalf("after the grace: %v (old process: %v); want alive once, silent not again", hosts(got), hosts(want))
		}
		if got[0].Events[0].ID != want[0].Events[0].ID {
			t.Errorf("finding ID %s differs from the old process's %s: the alert would be duplicated", got[0].Events[0].ID, want[0].Events[0].ID)
		}
		// The silent source comes back: re-armed.
		eval(t, r2, ev("a", "syslog", "silent"))
		time.Sleep(61 * time.Minute)
		if got := hosts(tick(t, r2)); len(got) != 1 || got[0] != "silent" {
			t.Fatalf("second silence: %v", got)
		}
	})
}

// TestRestoreGraceBoundedByDowntime: restoring a snapshot written just now
// (a rule reload) holds nothing back; a source heard within the grace is
// not reported.
func TestRestoreGraceBoundedByDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r1, _ := New(Config{RestartGrace: 10 * time.Minute})
		eval(t, r1, ev("a", "s", "h1"))
		eval(t, r1, ev("a", "s", "h2"))
		time.Sleep(2 * time.Hour)
		r1.Restore(bytes.NewReader(snapshot(t, r1))) // reload: no downtime
		if got := hosts(tick(t, r1)); len(got) != 2 {
			t.Fatalf("after a reload: %v, want both at once", got)
		}

		r1, _ = New(Config{RestartGrace: 10 * time.Minute})
		eval(t, r1, ev("a", "s", "h1"))
		eval(t, r1, ev("a", "s", "h2"))
		snap := snapshot(t, r1)
		time.Sleep(3 * time.Hour) // down
		r2 := restored(t, Config{RestartGrace: 10 * time.Minute}, snap)
		time.Sleep(5 * time.Minute)
		eval(t, r2, ev("a", "s", "h1")) // reconnected
		time.Sleep(5 * time.Minute)
		if got := hosts(tick(t, r2)); len(got) != 1 || got[0] != "h2" {
			t.Fatalf("after the grace: %v, want h2 only", got)
		}
	})
}

// TestRestoreAppliesCurrentConfig: filters, overrides and the bound of the
// new configuration apply to the restored sources; the most recently
// heard are kept.
func TestRestoreAppliesCurrentConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r1, _ := New(Config{})
		for i := range 5 {
			eval(t, r1, ev("a", "syslog", fmt.Sprintf("h%d", i)))
			eval(t, r1, ev("a", "file", fmt.Sprintf("h%d", i)))
			time.Sleep(time.Minute)
		}
		snap := snapshot(t, r1)
		r2 := restored(t, Config{Collectors: []string{"syslog"}, MaxSources: 2,
			Overrides: []Override{{Host: "h4", Interval: 10 * time.Minute}}}, snap)
		if r2.Sources() != 2 {
			t.Fatalf("%d sources, want the bound 2", r2.Sources())
		}
		time.Sleep(DefaultRestartGrace + 6*time.Minute)
		if got := hosts(tick(t, r2)); len(got) != 1 || got[0] != "h4" {
			t.Fatalf("findings %v, want h4 (its override interval)", got)
		}
		time.Sleep(time.Hour)
		if got := hosts(tick(t, r2)); len(got) != 1 || got[0] != "h3" {
			t.Fatalf("findings %v, want h3 (h0-h2 beyond the bound)", got)
		}
	})
}

func TestRestoreRejects(t *testing.T) {
	r1, _ := New(Config{})
	eval(t, r1, ev("a", "s", "h"))
	good := string(snapshot(t, r1))
	for _, tc := range []struct {
		name, snap string
		mismatch   bool
	}{
		{"malformed", "{nope", false},
		{"empty", "", false},
		{"other_rule", strings.Replace(good, RuleID, "other", 1), true},
		{"other_version", strings.Replace(good, `"version":"1"`, `"version":"0"`, 1), true},
		{"other_format", strings.Replace(good, `"format":1`, `"format":9`, 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := New(Config{})
			eval(t, r, ev("a", "s", "before"))
			err := r.Restore(strings.NewReader(tc.snap))
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, ErrStateMismatch) != tc.mismatch {
				t.Errorf("error %v: mismatch %v, want %v", err, errors.Is(err, ErrStateMismatch), tc.mismatch)
			}
			if r.Sources() != 0 {
				t.Errorf("%d sources left after a failed restore", r.Sources())
			}
		})
	}
}

// TestStateThroughSigmaSaveState: the rule's state goes through the same
// files as the correlations' (what `mangrove serve` does at stop and start).
func TestStateThroughSigmaSaveState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	r1, _ := New(Config{})
	eval(t, r1, ev("a", "s", "h"))
	if err := sigma.SaveState(dir, []detections.Rule{r1}); err != nil {
		t.Fatal(err)
	}
	r2, _ := New(Config{})
	if err := sigma.RestoreState(dir, []detections.Rule{r2}); err != nil {
		t.Fatal(err)
	}
	if r2.Sources() != 1 {
		t.Errorf("%d sources restored, want 1", r2.Sources())
	}
}

func FuzzRestore(f *testing.F) {
	r1, _ := New(Config{})
	r1.Eval(f.Context(), ev("a", "s", "h"), nil)
	var b bytes.Buffer
	r1.Snapshot(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"format":1,"id":"mangrove-silent-source","version":"1","sources":[{"last":-1},{"last":9223372036854775807}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _ := New(Config{MaxSources: 4})
		if err := r.Restore(bytes.NewReader(data)); err != nil {
			return
		}
		if r.Sources() > 4 {
			t.Fatalf("%d sources over the bound", r.Sources())
		}
		r.Tick(t.Context(), time.Now().Add(24*time.Hour), func(detections.Finding) {})
	})
}
