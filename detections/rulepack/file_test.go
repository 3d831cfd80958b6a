package rulepack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadSingleFiles checks that Dirs may name single rule files, that only
// that file of its directory is read, and that the reasons for unsupported
// documents are kept.
func TestLoadSingleFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a.rule": "r1", "b.rule": "r2", "corr.rule": "correlation"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	no := false
	rules, rep := Load(fakeRegistry(), Config{Builtin: &no, Dirs: []string{filepath.Join(dir, "a.rule"), filepath.Join(dir, "corr.rule")}})
	if len(rules) != 1 || rules[0].Meta().ID != "r1" || rep.Files != 2 || rep.Err() != nil {
		t.Fatalf("rules %v, report %+v", rules, rep)
	}
	if want := filepath.Join(dir, "a.rule"); rules[0].Meta().Path != want {
		t.Errorf("path %q, want %q", rules[0].Meta().Path, want)
	}
	if rep.Unsupported != 1 || len(rep.UnsupportedErrors) != 1 ||
		!errors.Is(rep.UnsupportedErrors[0], errors.ErrUnsupported) ||
		!strings.Contains(rep.UnsupportedErrors[0].Error(), "corr.rule: correlation") {
		t.Errorf("unsupported %d %v", rep.Unsupported, rep.UnsupportedErrors)
	}
	// A relative file name in the working directory.
	t.Chdir(dir)
	rules, rep = Load(fakeRegistry(), Config{Builtin: &no, Dirs: []string{"b.rule"}})
	if len(rules) != 1 || rules[0].Meta().ID != "r2" || rep.Err() != nil {
		t.Errorf("relative: rules %v, report %+v", rules, rep)
	}
}

// TestKindFileLimit checks MaxKindFileBytes: a kind listed there may read
// files larger than MaxRuleFileBytes; others may not.
func TestKindFileLimit(t *testing.T) {
	dir := t.TempDir()
	var big strings.Builder
	for i := 0; big.Len() <= MaxRuleFileBytes; i++ {
		fmt.Fprintf(&big, "rule-%07d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.rule"), []byte(big.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	no := false
	_, rep := Load(fakeRegistry(), Config{Builtin: &no, Dirs: []string{dir}})
	if rep.Err() == nil || !strings.Contains(rep.Err().Error(), "limit 1048576") {
		t.Errorf("default limit: %v", rep.Err())
	}
	MaxKindFileBytes["line"] = 4 << 20
	t.Cleanup(func() { delete(MaxKindFileBytes, "line") })
	rules, rep := Load(fakeRegistry(), Config{Builtin: &no, Dirs: []string{dir}})
	if rep.Err() != nil || len(rules) < 80_000 {
		t.Errorf("raised limit: %d rules, %v", len(rules), rep.Err())
	}
}
