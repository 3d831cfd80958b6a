package file

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStartAtEnd: with start_at: end, files found at start without a saved
// offset are read from their end (an unfinished last line whole, a gzip
// file not at all), while files that appear later, rotated in or created,
// are read from their beginning, and a saved offset wins on restart.
func TestStartAtEnd(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, 0, 100)
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "line 100 be") // still being written
	f.Close()
	gz := filepath.Join(dir, "old.log.gz")
	gf, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(gf)
	fmt.Fprintln(zw, "archived line")
	zw.Close()
	gf.Close()

	s := testSpec(filepath.Join(dir, "*.log"), filepath.Join(dir, "*.gz"), filepath.Join(dir, "app.log.*"))
	s.StartAt = StartEnd
	p := newPub(time.Millisecond)
	h := start(t, s, data, p)
	waitFor(t, "start offsets committed", func() bool { return len(committed(t, data)) == 2 })

	f, err = os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "ing finished")
	f.Close()
	appendLines(t, log, 101, 150)
	waitFor(t, "lines written after start", func() bool { return p.has(append(allLines(101, 150), "line 100 being finished")...) })

	// Rotation after start: the renamed file is read to its end, the new
	// one and a new file from their beginning.
	appendLines(t, log, 150, 160)
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, log, 160, 200)
	other := filepath.Join(dir, "other.log")
	if err := os.WriteFile(other, []byte("other first line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "rotated-in and new files", func() bool { return p.has(append(allLines(150, 200), "other first line")...) })
	h.stop()

	p.mu.Lock()
	for _, old := range append(allLines(0, 100), "archived line", "line 100 be") {
		if p.count[old] != 0 {
			t.Errorf("%q, present before start, was read", old)
		}
	}
	p.mu.Unlock()

	// Restart: saved offsets win over start_at, so lines written while
	// stopped are read.
	appendLines(t, log, 200, 220)
	p2 := newPub(time.Millisecond)
	h = start(t, s, data, p2)
	waitFor(t, "lines written while stopped", func() bool { return p2.has(allLines(200, 220)...) })
	time.Sleep(50 * time.Millisecond)
	h.stop()
	if n := len(p2.ids()); n != 20 {
		t.Errorf("%d lines read after restart, want the 20 written while stopped", n)
	}
}

func TestLastLineEnd(t *testing.T) {
	dir := t.TempDir()
	long := make([]byte, lastLineEndWindow+10)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct {
		name    string
		content string
		want    int64
	}{
		{"empty", "", 0},
		{"complete", "a\nb\n", 4},
		{"unfinished", "a\nbc", 2},
		{"one_unfinished_line", "abc", 0},
		{"no_newline_in_window", "a\n" + string(long), int64(len(long)) + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := lastLineEnd(p, int64(len(tc.content))); got != tc.want {
				t.Errorf("lastLineEnd = %d, want %d", got, tc.want)
			}
		})
	}
	if got := lastLineEnd(filepath.Join(dir, "missing"), 7); got != 7 {
		t.Errorf("missing file: %d, want the size 7", got)
	}
}
