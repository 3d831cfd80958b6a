package rulepack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/detections/sigma"
)

const sevRule = `title: %s
id: %s
status: test
logsource: {product: windows, category: process_creation}
detection:
    s: {Image|endswith: '\%s.exe'}
    condition: s
level: %s
tags: [%s]
`

func writeSigma(t *testing.T, dir, name, id, level, tag string) {
	t.Helper()
	body := strings.NewReplacer("%s", "\x00").Replace(sevRule)
	for _, v := range []string{name, id, name, level, tag} {
		body = strings.Replace(body, "\x00", v, 1)
	}
	p := filepath.Join(dir, name+".yml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSeverityOverride loads Sigma rules and a correlation with overrides by
// ID, path, tag, and two entries selecting one rule (the first applies).
func TestSeverityOverride(t *testing.T) {
	dir := t.TempDir()
	writeSigma(t, dir, "byid", "11111111-0000-0000-0000-000000000001", "low", "attack.execution")
	writeSigma(t, dir, "quiet/bypath", "11111111-0000-0000-0000-000000000002", "high", "attack.execution")
	writeSigma(t, dir, "bytag", "11111111-0000-0000-0000-000000000003", "medium", "attack.t1110")
	writeSigma(t, dir, "first", "11111111-0000-0000-0000-000000000004", "medium", "attack.t1003")
	writeSigma(t, dir, "untouched", "11111111-0000-0000-0000-000000000005", "high", "attack.execution")
	corr := `title: many
id: 11111111-0000-0000-0000-00000000000c
correlation:
    type: event_count
    rules: [11111111-0000-0000-0000-000000000005]
    group-by: [User]
    timespan: 5m
    condition: {gte: 10}
level: medium
`
	if err := os.WriteFile(filepath.Join(dir, "corr.yml"), []byte(corr), 0o644); err != nil {
		t.Fatal(err)
	}
	var reg detections.Registry
	reg.Register(sigma.Kind)
	no := false
	cfg := Config{Builtin: &no, Dirs: []string{dir}, Severity: []SeverityOverride{
		{Rule: "11111111-0000-0000-0000-000000000001", Level: "critical"},
		{Rule: dir + "/quiet/*", Level: "informational"},
		{Rule: "tag:attack.t1110", Level: "High"},
		{Rule: "tag:attack.t1003", Level: "low"},
		{Rule: "11111111-0000-0000-0000-000000000004", Level: "critical"},
		{Rule: "11111111-0000-0000-0000-00000000000c", Level: "critical"},
	}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rules, rep := Load(&reg, cfg)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]alert.Severity{
		"11111111-0000-0000-0000-000000000001": alert.Critical,
		"11111111-0000-0000-0000-000000000002": alert.Informational,
		"11111111-0000-0000-0000-000000000003": alert.High,
		"11111111-0000-0000-0000-000000000004": alert.Low,
		"11111111-0000-0000-0000-00000000000c": alert.Critical,
	}
	var plain []detections.Rule
	for _, r := range rules {
		m := r.Meta()
		if sev, ok := want[m.ID]; ok && m.Severity != sev {
			t.Errorf("%s: severity %s, want %s", m.ID, m.Severity, sev)
		}
		delete(want, m.ID)
		if _, ok := r.(*sigma.Rule); ok {
			plain = append(plain, r)
		} else if _, ok := r.(*sigma.Correlation); !ok {
			t.Errorf("%s: override changed the rule's type to %T", m.ID, r)
		}
	}
	if len(want) > 0 {
		t.Errorf("rules not loaded: %v", want)
	}
	if rep.Overridden != 5 {
		t.Errorf("Overridden = %d, want 5", rep.Overridden)
	}
	// A Set reports the overridden severities too.
	set, err := sigma.NewSet(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range set.Metas() {
		if m.ID == "11111111-0000-0000-0000-000000000001" && m.Severity != alert.Critical {
			t.Errorf("Set meta severity %s, want critical", m.Severity)
		}
	}
}

// TestSeverityOverrideUnsupported checks that a kind without WithSeverity
// keeps its severity and the problem is reported.
func TestSeverityOverrideUnsupported(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.rule"), []byte("r1 x"), 0o644); err != nil {
		t.Fatal(err)
	}
	no := false
	rules, rep := Load(fakeRegistry(), Config{Builtin: &no, Dirs: []string{dir},
		Severity: []SeverityOverride{{Rule: "r1", Level: "high"}}})
	if len(rules) != 1 || rep.Overridden != 0 || len(rep.Errors) != 1 ||
		!strings.Contains(rep.Err().Error(), "do not support a severity override") {
		t.Fatalf("rules %d, report %+v (%v)", len(rules), rep, rep.Err())
	}
}

func TestSeverityConfigValidate(t *testing.T) {
	cases := []struct {
		o    SeverityOverride
		want string // "" for valid
	}{
		{SeverityOverride{Rule: "abc", Level: "high"}, ""},
		{SeverityOverride{Rule: "tag:attack.t1110", Level: "Informational"}, ""},
		{SeverityOverride{Rule: "", Level: "high"}, "severity[0].rule: must not be empty"},
		{SeverityOverride{Rule: "[x", Level: "high"}, "severity[0].rule: bad pattern"},
		{SeverityOverride{Rule: "abc", Level: "urgent"}, `severity[0].level: "urgent"`},
		{SeverityOverride{Rule: "abc"}, `severity[0].level: ""`},
	}
	for _, c := range cases {
		err := Config{Severity: []SeverityOverride{c.o}}.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.o, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
}
