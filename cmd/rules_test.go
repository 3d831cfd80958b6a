package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

const whoamiRule = `title: Test Whoami
id: 11111111-1111-4111-8111-111111111111
status: test
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    Image|endswith: '\whoami.exe'
  condition: selection
level: high
`

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRulesLint(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good/whoami.yml": whoamiRule,
		"good/feed.csv":   "value,type,confidence\n203.0.113.7,ip,95\n10.0.0.0/8,cidr,30\n",
		"bad/syntax.yml":  "title: [unclosed\n",
		"bad/nodetect.yml": "title: No detection\nid: 22222222-2222-4222-8222-222222222222\n" +
			"logsource:\n  product: windows\n",
		"bad/feed.stix": `{"type":"bundle","objects":[{"type":"indicator","pattern":"[process:name = 'x']"}]}`,
		"notes.txt":     "not a rule",
	})
	good := filepath.Join(dir, "good")

	code, out, _ := runMain(t, "rules", "lint", good)
	if code != 0 || !strings.Contains(out, "loaded 3 rules from 2 files (ioc 2, sigma 1); 0 failed") {
		t.Errorf("good: code %d, out %q", code, out)
	}
	code, out, _ = runMain(t, "rules", "lint", "-v", good)
	if code != 0 || !strings.Contains(out, "ok "+filepath.Join(good, "whoami.yml")+": sigma 11111111-1111-4111-8111-111111111111 \"Test Whoami\"") ||
		!strings.Contains(out, "ok "+filepath.Join(good, "feed.csv")+": ioc ioc:feed:critical") {
		t.Errorf("verbose: code %d, out %q", code, out)
	}
	code, out, _ = runMain(t, "rules", "lint", "--format", "json", good, filepath.Join(dir, "bad", "syntax.yml"), filepath.Join(dir, "missing"))
	var res lintResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json output %q: %v", out, err)
	}
	if code != 1 || res.Loaded != 3 || len(res.Failed) != 2 {
		t.Errorf("single bad file: code %d, %+v", code, res)
	}
	code, out, _ = runMain(t, "rules", "lint", "--format", "json", dir)
	res = lintResult{}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json output %q: %v", out, err)
	}
	var files []string
	for _, f := range res.Failed {
		files = append(files, filepath.Base(f.File))
		if f.Error == "" || !strings.HasPrefix(f.File, dir) {
			t.Errorf("failure without file or reason: %+v", f)
		}
		if filepath.Base(f.File) == "feed.stix" && !strings.Contains(f.Error, "process:name") {
			t.Errorf("stix failure does not name the feature: %+v", f)
		}
	}
	slices.Sort(files)
	if code != 1 || res.Loaded != 3 || !slices.Equal(files, []string{"feed.stix", "nodetect.yml", "syntax.yml"}) {
		t.Errorf("tree: code %d, loaded %d, failed %q", code, res.Loaded, files)
	}
	code, out, _ = runMain(t, "rules", "lint", dir)
	if code != 1 || strings.Count(out, "FAILED ") != 3 || !strings.Contains(out, "FAILED "+filepath.Join(dir, "bad", "syntax.yml")+": ") {
		t.Errorf("text: code %d, out %q", code, out)
	}
	if code, _, _ := runMain(t, "rules", "lint", "--format", "xml", dir); code != 2 {
		t.Errorf("bad format: code %d", code)
	}
}

func TestRulesLintSigmaDataset(t *testing.T) {
	root := datasettest.Path(t, "sigma")
	dirs, _ := filepath.Glob(filepath.Join(root, "rules*"))
	code, out, _ := runMain(t, append([]string{"rules", "lint", "--format", "json"}, dirs...)...)
	var res lintResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json output: %v", err)
	}
	total := res.Loaded + len(res.Failed)
	t.Logf("SigmaHQ: %d loaded, %d failed (exit %d)", res.Loaded, len(res.Failed), code)
	if total < 3700 || float64(res.Loaded) < 0.99*float64(total) {
		t.Errorf("%d of %d rules loaded, want at least 99%%", res.Loaded, total)
	}
	if (code != 0) != (len(res.Failed) > 0) {
		t.Errorf("exit code %d with %d failures", code, len(res.Failed))
	}
	for _, f := range res.Failed {
		if !strings.HasSuffix(f.File, ".yml") || f.Error == "" {
			t.Errorf("failure without file or reason: %+v", f)
		}
	}
}

// testEvents is three Sysmon process creations in NXLog's flat shape; the
// first and the third match whoamiRule, the third also the indicator.
var testEvents = []string{
	`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\whoami.exe"}`,
	`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\cmd.exe"}`,
	`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\WHOAMI.EXE","DestinationIp":"203.0.113.7"}`,
}

func TestRulesTest(t *testing.T) {
	dir := t.TempDir()
	var pretty []string
	for _, e := range testEvents {
		var b bytes.Buffer
		json.Indent(&b, []byte(e), "", "  ")
		pretty = append(pretty, b.String())
	}
	writeFiles(t, dir, map[string]string{
		"rules/whoami.yml": whoamiRule,
		"ioc/feed.csv":     "value,type,confidence\n203.0.113.7,ip,95\n",
		"ev.ndjson":        strings.Join(testEvents, "\n") + "\n",
		"ev-array.json":    "[\n" + strings.Join(pretty, ",\n") + "\n]\n",
		"ev-stream.json":   strings.Join(pretty, "\n"),
		"ev-one.json":      pretty[0],
		"ev-bad.json":      testEvents[0] + "\n{nope",
	})
	want := []testAlert{
		{RuleID: "11111111-1111-4111-8111-111111111111", RuleName: "Test Whoami", Sequence: 0, Severity: "high"},
		{RuleID: "11111111-1111-4111-8111-111111111111", RuleName: "Test Whoami", Sequence: 2, Severity: "high"},
		{RuleID: "ioc:feed:critical", RuleName: "Indicator match: feed (critical)", Sequence: 2, Severity: "critical"},
	}
	for _, name := range []string{"ev.ndjson", "ev-array.json", "ev-stream.json", "ev-one.json"} {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runMain(t, "rules", "test", "--rules", filepath.Join(dir, "rules"), "--rules", filepath.Join(dir, "ioc"),
				"--events", filepath.Join(dir, name), "--format", "ndjson")
			if code != 0 {
				t.Fatalf("code %d: %s", code, stderr)
			}
			var got []testAlert
			for line := range strings.Lines(out) {
				var raw map[string]any
				if err := json.Unmarshal([]byte(line), &raw); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				for _, k := range []string{"rule.id", "rule.name", "event.sequence", "severity", "event.id"} {
					if _, ok := raw[k]; !ok {
						t.Errorf("line %q lacks %s", line, k)
					}
				}
				var a testAlert
				json.Unmarshal([]byte(line), &a)
				if len(a.EventID) != 32 {
					t.Errorf("event.id %q", a.EventID)
				}
				a.EventID = ""
				got = append(got, a)
			}
			w := want
			if name == "ev-one.json" {
				w = want[:1]
			}
			if !slices.Equal(got, w) {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
		})
	}
	code, out, _ := runMain(t, "rules", "test", "--rules", filepath.Join(dir, "rules"), "--events", filepath.Join(dir, "ev.ndjson"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "EVENT.SEQUENCE") ||
		!strings.HasPrefix(lines[2], "2 ") || !strings.Contains(lines[2], "Test Whoami") {
		t.Errorf("table: code %d\n%s", code, out)
	}
	code, out, stderr := runMain(t, "rules", "test", "--rules", filepath.Join(dir, "rules"), "--events", filepath.Join(dir, "ev-bad.json"), "--format", "ndjson")
	if code != 2 || strings.Count(out, "\n") != 1 || !strings.Contains(stderr, "event 1") {
		t.Errorf("bad events: code %d, out %q, stderr %q", code, out, stderr)
	}
	for _, args := range [][]string{
		{"--rules", filepath.Join(dir, "rules")},
		{"--rules", filepath.Join(dir, "nothing"), "--events", filepath.Join(dir, "ev.ndjson")},
		{"--rules", filepath.Join(dir, "rules"), "--events", filepath.Join(dir, "absent.json")},
	} {
		if code, _, _ := runMain(t, append([]string{"rules", "test"}, args...)...); code != 2 {
			t.Errorf("%q: code %d, want 2", args, code)
		}
	}
}

// TestRulesTestRegression runs each rule of the sigma-regression dataset
// over its sample events with `rules test`: the rule must fire.
func TestRulesTestRegression(t *testing.T) {
	reg := datasettest.Path(t, "sigma-regression")
	rules := datasettest.Path(t, "sigma")
	var cases int
	err := filepath.WalkDir(reg, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "info.yml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var info struct {
			Meta []struct {
				ID string `yaml:"id"`
			} `yaml:"rule_metadata"`
		}
		if err := yaml.Unmarshal(data, &info); err != nil || len(info.Meta) == 0 {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		dir := filepath.Dir(p)
		rel, _ := filepath.Rel(reg, dir)
		ruleFile := filepath.Join(rules, rel+".yml")
		samples, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, s := range samples {
			cases++
			code, out, stderr := runMain(t, "rules", "test", "--rules", ruleFile, "--events", s, "--format", "ndjson")
			if code != 0 {
				t.Errorf("%s: exit %d: %s", rel, code, stderr)
				continue
			}
			var fired bool
			for line := range strings.Lines(out) {
				var a testAlert
				if json.Unmarshal([]byte(line), &a) == nil && a.RuleID == info.Meta[0].ID && a.RuleName != "" && a.Sequence >= 0 {
					fired = true
				}
			}
			if !fired {
				t.Errorf("%s: rule %s did not fire on %s: %s", rel, info.Meta[0].ID, filepath.Base(s), out)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cases < 100 {
		t.Errorf("only %d regression samples found", cases)
	}
}
