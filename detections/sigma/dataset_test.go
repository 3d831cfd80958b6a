package sigma

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

// minCompileRate is the share of SigmaHQ detection rules (correlation and
// other unsupported documents aside) that must compile. It is set just
// under what the package achieves, so a regression fails the test.
const minCompileRate = 0.999

// datasets returns the shared datasets folder, or skips the test when it is
// absent. MANGROVE_DATASETS overrides the default ../../../shared/datasets.
func datasets(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv("MANGROVE_DATASETS")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared", "datasets")
	}
	dir := filepath.Join(root, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("dataset %s not found (set MANGROVE_DATASETS to the shared datasets folder): %v", dir, err)
	}
	return dir
}

// sigmaHQFiles lists the rule files of the live SigmaHQ folders (rules*).
func sigmaHQFiles(t testing.TB) []string {
	root := datasets(t, "sigma")
	dirs, err := filepath.Glob(filepath.Join(root, "rules*"))
	if err != nil || len(dirs) == 0 {
		t.Skipf("no rules* folders under %s", root)
	}
	var files []string
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	return files
}

// loadReport is the outcome of loading a set of rule files.
type loadReport struct {
	rules       map[string]*Rule // by Sigma id
	files       int
	loaded      int
	unsupported int
	failed      int
	reasons     map[string]int
	failures    []string // "file: first problem"
}

var (
	reLine   = regexp.MustCompile(`^.*?: (?:document \d+: )?(?:[^ ]+ \(line \d+\): |line \d+: )?`)
	reQuoted = regexp.MustCompile(`"[^"]*"`)
)

func loadAll(t testing.TB, files []string) *loadReport {
	t.Helper()
	rep := &loadReport{rules: map[string]*Rule{}, reasons: map[string]int{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rep.files++
		rules, err := Load(f, data)
		for _, r := range rules {
			rep.loaded++
			sr := r.(*Rule)
			rep.rules[sr.Meta().ID] = sr
		}
		if err == nil {
			continue
		}
		for _, e := range flatten(err) {
			if errors.Is(e, errors.ErrUnsupported) {
				rep.unsupported++
				continue
			}
			msg := e.Error()
			reason := reQuoted.ReplaceAllString(reLine.ReplaceAllString(msg, ""), `"…"`)
			rep.reasons[reason]++
			rep.failures = append(rep.failures, msg)
		}
		if len(rules) == 0 && !errors.Is(err, errors.ErrUnsupported) {
			rep.failed++
		}
	}
	return rep
}

// flatten splits an errors.Join tree into its leaves.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// TestSigmaHQRules loads every rule of the SigmaHQ folders and reports how
// many compile, and why the others do not.
func TestSigmaHQRules(t *testing.T) {
	files := sigmaHQFiles(t)
	rep := loadAll(t, files)
	total := rep.loaded + rep.failed
	rate := float64(rep.loaded) / float64(total)
	t.Logf("SigmaHQ: %d files, %d detection rules compiled, %d failed (%.2f%% compile), %d unsupported documents skipped",
		rep.files, rep.loaded, rep.failed, 100*rate, rep.unsupported)
	type kv struct {
		k string
		n int
	}
	var top []kv
	for k, n := range rep.reasons {
		top = append(top, kv{k, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n || top[i].n == top[j].n && top[i].k < top[j].k })
	for _, r := range top {
		t.Logf("  %4d × %s", r.n, r.k)
	}
	for _, f := range rep.failures {
		t.Logf("  %s", f)
	}
	if rate < minCompileRate {
		t.Errorf("compile rate %.2f%% is below the %.2f%% floor", 100*rate, 100*minCompileRate)
	}
}

// regressionCase is one SigmaHQ regression test (info.yml).
type regressionCase struct {
	dir  string
	ID   string `yaml:"id"`
	Meta []struct {
		ID    string `yaml:"id"`
		Title string `yaml:"title"`
	} `yaml:"rule_metadata"`
	Tests []struct {
		Name       string `yaml:"name"`
		Type       string `yaml:"type"`
		MatchCount int    `yaml:"match_count"`
		Path       string `yaml:"path"`
	} `yaml:"regression_tests_info"`
}

// readEvents decodes a JSON file holding one object, an array of objects,
// or a stream of objects (NDJSON or pretty-printed, one after another), each
// through event.Decoder.
func readEvents(data []byte) ([]*event.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raws []json.RawMessage
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			var arr []json.RawMessage
			if err := json.Unmarshal(t, &arr); err != nil {
				return nil, err
			}
			raws = append(raws, arr...)
			continue
		}
		raws = append(raws, raw)
	}
	var d event.Decoder
	out := make([]*event.Event, 0, len(raws))
	for i, raw := range raws {
		ev := &event.Event{}
		if err := d.Decode(raw, ev); err != nil {
			return nil, fmt.Errorf("object %d: %w", i+1, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// TestSigmaHQRegression runs SigmaHQ's regression tests: each names a rule
// and the events on which it must fire.
func TestSigmaHQRegression(t *testing.T) {
	root := datasets(t, "sigma-regression")
	var cases []*regressionCase
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.Name() != "info.yml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c := &regressionCase{dir: filepath.Dir(p)}
		if err := yaml.Unmarshal(data, c); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := loadAll(t, sigmaHQFiles(t))
	passed, exact := 0, 0
	var allEvents, others int
	otherRules := map[string]int{}
	for _, c := range cases {
		name := strings.TrimPrefix(c.dir, root+string(filepath.Separator))
		ok := t.Run(name, func(t *testing.T) {
			if len(c.Meta) == 0 {
				t.Fatalf("info.yml names no rule")
			}
			rule := rep.rules[c.Meta[0].ID]
			if rule == nil {
				t.Fatalf("rule %s (%s) did not load", c.Meta[0].ID, c.Meta[0].Title)
			}
			for _, tc := range c.Tests {
				file := filepath.Join(c.dir, strings.TrimSuffix(filepath.Base(tc.Path), filepath.Ext(tc.Path))+".json")
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				evs, err := readEvents(data)
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				n := 0
				for _, ev := range evs {
					if err := rule.Eval(t.Context(), ev, func(f detections.Finding) { n++ }); err != nil {
						t.Fatal(err)
					}
					// Cross-matches: the data has no labels for them, so
					// they are only counted.
					allEvents++
					for id, r := range rep.rules {
						if id != c.Meta[0].ID && r.Match(ev) {
							others++
							otherRules[r.Meta().Title]++
						}
					}
				}
				if n == 0 {
					t.Errorf("%s: rule %q matched none of %d events", tc.Name, rule.Meta().Title, len(evs))
				}
				if want := max(tc.MatchCount, 1); n == want {
					exact++
				} else {
					t.Logf("%s: %d matches, match_count %d", tc.Name, n, tc.MatchCount)
				}
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("SigmaHQ regression: %d of %d cases pass (%d with exactly match_count matches)", passed, len(cases), exact)
	t.Logf("all %d rules over the %d events: %d matches by rules other than the case's own, from %d rules (unlabelled)",
		len(rep.rules), allEvents, others, len(otherRules))
	if passed != len(cases) {
		t.Errorf("%d regression cases fail", len(cases)-passed)
	}
}
