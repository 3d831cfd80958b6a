// Package datasettest finds the shared real-world datasets (SigmaHQ rules,
// Windows event logs, pcaps with ground truth) for tests. They live outside
// the repository, in ../shared/datasets relative to the project root, or
// where $MANGROVE_DATASETS points. Tests that need them skip with a clear
// message when they are absent; CI always provides them.
package datasettest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the datasets directory, or skips the test.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d := find(); d != "" {
		return d
	}
	tb.Skip("datasets not found: set MANGROVE_DATASETS or place them in ../shared/datasets next to the project root")
	return ""
}

// Path returns a path inside the datasets directory, or skips the test when
// it does not exist.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{Dir(tb)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("dataset %s not found: %v", p, err)
	}
	return p
}

func find() string {
	if d := os.Getenv("MANGROVE_DATASETS"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(filepath.Dir(dir), "shared", "datasets")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}
