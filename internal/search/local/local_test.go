package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/search/searchtest"
)

func open(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	st, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) search.Store { return open(t, Config{}) })
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string
	}{
		{Config{Dir: "x"}, nil},
		{Config{Dir: "x", Retention: time.Hour}, nil},
		{Config{}, []string{"dir: must not be empty"}},
		{Config{Retention: -time.Hour}, []string{"dir: must not be empty", "retention: must not be negative"}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("Validate(%+v) = %v, want nil", tt.cfg, err)
			}
			continue
		}
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, w)
			}
		}
	}
	if _, err := Open(Config{}); err == nil {
		t.Error("Open with an empty config succeeded")
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	evs := searchtest.Corpus(300)
	st := open(t, Config{Dir: dir})
	searchtest.Index(t, st, evs, 100)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open(t, Config{Dir: dir})
	defer st.Close()
	for _, text := range []string{"", "failed", "source.ip:10.0.0.5"} {
		q := search.Query{Text: text, Limit: search.MaxLimit}
		searchtest.Expect(t, evs, q, searchtest.Search(t, st, q))
	}
	// The reopened store knows its day tables and still deduplicates.
	searchtest.Index(t, st, evs, 1000)
	q := search.Query{Limit: search.MaxLimit}
	searchtest.Expect(t, evs, q, searchtest.Search(t, st, q))
}

func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	st := open(t, Config{Dir: dir})
	if _, err := st.write.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err := Open(Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		if st != nil {
			st.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want a version error", err)
	}
}

// count runs a count query on the store's writer.
func count(t *testing.T, st *Store, q string) int {
	t.Helper()
	var n int
	if err := st.write.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReindexKeepsOneFTSRow(t *testing.T) {
	st := open(t, Config{})
	defer st.Close()
	evs := searchtest.Corpus(200)
	searchtest.Index(t, st, evs, 1000)
	rows := func() (events, fts int) {
		days, err := listDays(t.Context(), st.write)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range days {
			events += count(t, st, "SELECT count(*) FROM "+tableName(d))
			fts += count(t, st, "SELECT count(*) FROM "+tableName(d)+"_fts")
		}
		return events, fts
	}
	e1, f1 := rows()
	withText := 0
	for _, ev := range evs {
		v, ok := ev.Get("message")
		if !ok {
			continue
		}
		has := false
		v.Each(func(e event.Value) bool { has = e.Kind == event.String; return !has })
		if has {
			withText++
		}
	}
	if e1 != len(evs) || f1 != withText {
		t.Fatalf("after indexing: %d event rows, %d FTS rows; want %d, %d", e1, f1, len(evs), withText)
	}
	searchtest.Index(t, st, evs, 50)
	searchtest.Index(t, st, evs, 1000)
	if e2, f2 := rows(); e2 != e1 || f2 != f1 {
		t.Fatalf("re-indexing changed rows: events %d -> %d, FTS %d -> %d", e1, e2, f1, f2)
	}
}

func TestTablesPerDay(t *testing.T) {
	st := open(t, Config{})
	defer st.Close()
	evs := searchtest.Corpus(600) // three days and a bit
	searchtest.Index(t, st, evs, 1000)
	days, err := listDays(t.Context(), st.write)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{20261125, 20261124, 20261123, 20261122}
	if fmt.Sprint(days) != fmt.Sprint(want) {
		t.Fatalf("day tables %v, want %v", days, want)
	}
	for _, d := range days {
		start := dayStart(d)
		n := count(t, st, fmt.Sprintf("SELECT count(*) FROM %s WHERE ts < %d OR ts >= %d",
			tableName(d), start.UnixNano(), start.AddDate(0, 0, 1).UnixNano()))
		if n != 0 {
			t.Errorf("%s holds %d events of other days", tableName(d), n)
		}
	}
}

func TestBadTime(t *testing.T) {
	st := open(t, Config{})
	defer st.Close()
	for _, tm := range []time.Time{time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		err := st.Index(t.Context(), []event.Event{{ID: "x", Time: tm}})
		if !errors.Is(err, search.ErrBadEvent) {
			t.Errorf("Index at %v: %v, want ErrBadEvent", tm, err)
		}
	}
}

func TestPrune(t *testing.T) {
	st := open(t, Config{Retention: 24 * time.Hour})
	defer st.Close()
	st.now = func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) } // written long ago
	evs := searchtest.Corpus(600)                                                     // 2026-11-22 .. 2026-11-25
	searchtest.Index(t, st, evs, 1000)
	tests := []struct {
		now     time.Time
		dropped int
		oldest  time.Time // no event before it remains
	}{
		{time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC), 0, time.Time{}},
		{time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), 1, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), 1, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), 0, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), 2, time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		dropped, err := st.Prune(t.Context(), tt.now)
		if err != nil {
			t.Fatal(err)
		}
		if dropped != tt.dropped {
			t.Errorf("Prune(%v) dropped %d days, want %d", tt.now, dropped, tt.dropped)
		}
		var kept []event.Event
		for _, ev := range evs {
			if !ev.Time.Before(tt.oldest) {
				kept = append(kept, ev)
			}
		}
		q := search.Query{Limit: search.MaxLimit}
		searchtest.Expect(t, kept, q, searchtest.Search(t, st, q))
		q.Text = "failed"
		searchtest.Expect(t, kept, q, searchtest.Search(t, st, q))
	}
	if n := count(t, st, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'events_%'"); n != 0 {
		t.Errorf("%d schema objects of day tables remain after pruning everything", n)
	}
	// Indexing into a pruned day recreates its tables.
	searchtest.Index(t, st, evs[:5], 10)
	searchtest.Expect(t, evs[:5], search.Query{}, searchtest.Search(t, st, search.Query{}))
}

// TestPruneKeepsRecentImports: logs of long ago imported today are kept for
// the retention period from the import.
func TestPruneKeepsRecentImports(t *testing.T) {
	st := open(t, Config{Retention: 24 * time.Hour})
	defer st.Close()
	imported := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	st.now = func() time.Time { return imported }
	evs := []event.Event{{ID: "2020", Time: time.Date(2020, 9, 4, 16, 9, 38, 0, time.UTC)}}
	searchtest.Index(t, st, evs, 10)
	if n, _ := st.Prune(t.Context(), imported.Add(time.Hour)); n != 0 {
		t.Fatalf("pruned %d days imported an hour ago", n)
	}
	if n, _ := st.Prune(t.Context(), imported.Add(25*time.Hour)); n != 1 {
		t.Fatalf("pruned %d days, want 1 after the retention", n)
	}
}

func TestRunPrunesHourly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts at 2000-01-01 00:00 UTC.
		st := open(t, Config{Retention: 24 * time.Hour})
		defer st.Close()
		now := time.Now()
		evs := []event.Event{
			{ID: "old", Time: now.Add(-72 * time.Hour)},
			{ID: "yesterday", Time: now.Add(-time.Hour)},
			{ID: "today", Time: now.Add(time.Minute)},
		}
		searchtest.Index(t, st, evs, 10)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- st.Run(ctx) }()
		total := func() int {
			synctest.Wait()
			return searchtest.Search(t, st, search.Query{}).Total
		}
		// The old event was written just now: retention counts from then.
		if n := total(); n != 3 {
			t.Fatalf("after the first prune: %d events, want 3", n)
		}
		time.Sleep(23*time.Hour + 30*time.Minute)
		if n := total(); n != 3 {
			t.Fatalf("after 23h30: %d events, want 3", n)
		}
		time.Sleep(time.Hour) // the writes and yesterday are more than 24h ago
		if n := total(); n != 1 {
			t.Fatalf("after 24h30: %d events, want 1", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

func TestPathWithSpecialCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	st := open(t, Config{Dir: dir})
	defer st.Close()
	evs := searchtest.Corpus(10)
	searchtest.Index(t, st, evs, 10)
	searchtest.Expect(t, evs, search.Query{}, searchtest.Search(t, st, search.Query{}))
	if _, err := os.Stat(filepath.Join(dir, "events.db")); err != nil {
		t.Fatalf("database not at the configured path: %v", err)
	}
}
