package sigma

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMeta(t *testing.T) {
	r, err := compileRule(t, whoamiRule)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Meta()
	if m.ID != "8f1a2b3c-0000-4000-8000-000000000001" || m.Title != "Whoami Execution" || m.Kind != "sigma" ||
		m.Severity != alert.High || m.Path != "test.yml" || m.Description != "Detects whoami.exe" {
		t.Errorf("meta = %+v", m)
	}
	if !slices.Equal(m.Tags, []string{"attack.discovery", "attack.t1033"}) || !slices.Equal(m.Techniques, []string{"T1033"}) {
		t.Errorf("tags %v techniques %v", m.Tags, m.Techniques)
	}
	if len(m.Version) != 32 {
		t.Errorf("version %q is not 32 hex characters", m.Version)
	}
	var _ detections.Rule = r
	if Kind.Name != "sigma" || !slices.Equal(Kind.Exts, []string{".yml", ".yaml"}) || Kind.Load == nil {
		t.Errorf("Kind = %+v", Kind)
	}
	var reg detections.Registry
	reg.Register(Kind)
	if k, ok := reg.ForFile("rules/x.YAML"); !ok || k.Name != "sigma" {
		t.Errorf("registry does not find sigma for .YAML")
	}
}

func TestMetaDefaults(t *testing.T) {
	doc := func(extra string) string {
		return "title: t\nlogsource: {category: test_only}\ndetection: {s: {A: x}, condition: s}\n" + extra
	}
	load := func(path, d string) detections.Meta {
		t.Helper()
		rules, err := Load(path, []byte(d))
		if err != nil || len(rules) != 1 {
			t.Fatalf("Load: %d rules, %v", len(rules), err)
		}
		return rules[0].Meta()
	}
	a, b := load("a.yml", doc("")), load("b.yml", doc(""))
	if len(a.ID) != 32 || a.ID == b.ID || a.ID != load("a.yml", doc("")).ID {
		t.Errorf("ids without an id key: %q %q; want stable hashes of the path", a.ID, b.ID)
	}
	for level, want := range map[string]alert.Severity{
		"": alert.Medium, "level: bogus": alert.Medium, "level: informational": alert.Informational,
		"level: low": alert.Low, "level: CRITICAL": alert.Critical,
	} {
		if got := load("a.yml", doc(level)).Severity; got != want {
			t.Errorf("%q: severity %v, want %v", level, got, want)
		}
	}
	m := load("a.yml", doc("tags: [attack.t1059.001, ATTACK.T1003, attack.t1059.001, attack.execution, attack.g0016, car.2016-04-005, attack.t123]"))
	if !slices.Equal(m.Techniques, []string{"T1059.001", "T1003"}) {
		t.Errorf("techniques = %v", m.Techniques)
	}
}

func TestVersion(t *testing.T) {
	base := "title: t\nlogsource: {product: windows, category: process_creation}\ndetection:\n    s: {A: x, B: 'y'}\n    condition: s\nlevel: low\n"
	same := []string{
		"title: other title\nlevel: high\nlogsource: {category: process_creation, product: windows}\ndetection:\n    # comment\n    s: {B: \"y\", A: 'x'}\n    condition: s\n",
	}
	changed := []string{
		strings.Replace(base, "A: x", "A: z", 1),
		strings.Replace(base, "A: x", "A|contains: x", 1),
		strings.Replace(base, "process_creation", "image_load", 1),
		strings.Replace(base, "B: 'y'", "B: 1", 1),
		strings.Replace(base, "condition: s", "condition: not s", 1),
	}
	v := func(d string) string {
		r, err := compileRule(t, d)
		if err != nil {
			t.Fatal(err)
		}
		return r.Meta().Version
	}
	want := v(base)
	for _, d := range same {
		if got := v(d); got != want {
			t.Errorf("version changed without a logic change:\n%s", d)
		}
	}
	for _, d := range changed {
		if got := v(d); got == want {
			t.Errorf("version did not change with the logic:\n%s", d)
		}
	}
}

func TestInfo(t *testing.T) {
	r, err := compileRule(t, `title: Info
id: 11111111-2222-4333-8444-555555555555
name: info_rule
status: experimental
description: d
author: a, b
license: DRL-1.1
date: 2024-01-02
modified: 2025/03/04
related:
    - id: 00000000-0000-4000-8000-000000000000
      type: derived
references: [https://example.com]
fields: [CommandLine, ParentImage]
falsepositives: Admin activity
logsource: {product: windows, category: process_creation, definition: 'Sysmon'}
detection: {s: {A: x}, condition: s}
level: low
custom_field: kept out
`)
	if err != nil {
		t.Fatal(err)
	}
	in := r.Info()
	if in.Name != "info_rule" || in.Status != "experimental" || in.Author != "a, b" || in.License != "DRL-1.1" ||
		!in.Date.Equal(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)) || !in.Modified.Equal(time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)) ||
		!slices.Equal(in.Fields, []string{"CommandLine", "ParentImage"}) || !slices.Equal(in.FalsePositives, []string{"Admin activity"}) ||
		len(in.Related) != 1 || in.Related[0].Type != "derived" ||
		in.LogSource != (LogSource{Category: "process_creation", Product: "windows", Definition: "Sysmon"}) {
		t.Errorf("info = %+v", in)
	}
}

func TestMultiDocument(t *testing.T) {
	file := `title: First
logsource: {category: test_only}
detection: {s: {A: x}, condition: s}
---
title: Many failed logons
id: 0e95725d-7320-415d-80f7-004da920fc11
correlation:
    type: event_count
    rules: [first]
    group-by: [User]
    timespan: 5m
    condition: {gte: 10}
---
title: Ignore admins
filter:
    rules: [first]
    selection: {User|startswith: adm_}
    condition: not selection
logsource: {category: test_only}
---
---
title: Second
logsource: {category: test_only}
detection: {s: {B: y}, condition: s}
---
title: Broken
logsource: {category: test_only}
detection: {s: {B|nope: y}, condition: s}
`
	rules, err := Load("multi.yml", []byte(file))
	if len(rules) != 2 || rules[0].Meta().Title != "First" || rules[1].Meta().Title != "Second" {
		t.Fatalf("rules = %d, want First and Second", len(rules))
	}
	if rules[0].Meta().ID == rules[1].Meta().ID {
		t.Errorf("documents without ids share id %s", rules[0].Meta().ID)
	}
	var unsupported, other []error
	for _, e := range flatten(err) {
		if errors.Is(e, errors.ErrUnsupported) {
			unsupported = append(unsupported, e)
		} else {
			other = append(other, e)
		}
	}
	if len(unsupported) != 2 || len(other) != 1 {
		t.Fatalf("errors: %d unsupported, %d other: %v", len(unsupported), len(other), err)
	}
	var ue *UnsupportedError
	if !errors.As(unsupported[0], &ue) || ue.What != "correlation rule" || ue.Doc != 2 || ue.Title != "Many failed logons" {
		t.Errorf("unsupported[0] = %v", unsupported[0])
	}
	if want := "multi.yml: document 6: detection.s.B|nope (line 28): unknown modifier \"nope\""; other[0].Error() != want {
		t.Errorf("error %q, want %q", other[0], want)
	}
	// Only unsupported documents: every error is ErrUnsupported.
	rules, err = Load("c.yml", []byte("title: c\ncorrelation: {type: temporal, rules: [a, b], timespan: 1m}\n"))
	if len(rules) != 0 || err == nil {
		t.Fatalf("got %d rules, err %v", len(rules), err)
	}
	for _, e := range flatten(err) {
		if !errors.Is(e, errors.ErrUnsupported) {
			t.Errorf("%v is not ErrUnsupported", e)
		}
	}
}

func TestLimits(t *testing.T) {
	big := "title: t\ndescription: " + strings.Repeat("x", MaxFileBytes) + "\n"
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	cases := []struct{ name, data, want string }{
		{"too large", big, "limit 1048576"},
		{"alias bomb", bomb, "more than 100000 YAML nodes"},
		{"self alias", "a: &a [*a]\n", "YAML"},
		{"not yaml", "title: [unclosed\n", "parsing YAML"},
		{"top-level list", "- a\n- b\n", "must be a mapping, not a list"},
		{"top-level scalar", "just text\n", "must be a mapping"},
		{"missing everything", "foo: bar\n", "title: is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := Load("x.yml", []byte(tc.data))
			if len(rules) != 0 || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %d rules, err %v; want an error containing %q", len(rules), err, tc.want)
			}
		})
	}
	// Empty files and documents hold no rules and no problems.
	for _, d := range []string{"", "---\n", "# only a comment\n"} {
		if rules, err := Load("e.yml", []byte(d)); len(rules) != 0 || err != nil {
			t.Errorf("Load(%q) = %d rules, %v", d, len(rules), err)
		}
	}
}

// TestInvalidRules checks the complete error text for broken rules against
// golden files: every problem at once, with its YAML path and line.
func TestInvalidRules(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/invalid/*.yml: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rules, err := Load(filepath.ToSlash(f), data)
			if len(rules) != 0 || err == nil {
				t.Fatalf("%d rules, err %v; want it rejected", len(rules), err)
			}
			golden := strings.TrimSuffix(f, ".yml") + ".golden"
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s (run with -update after review):\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestEvalConcurrent runs one rule from many goroutines, as the engine
// does; the race detector checks the pooled scratch space.
func TestEvalConcurrent(t *testing.T) {
	r, err := compileRule(t, whoamiRule)
	if err != nil {
		t.Fatal(err)
	}
	hit := jsonEvent(t, `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\WHOAMI.exe","ParentImage":"C:\\X\\CMD.EXE"}`)
	miss := jsonEvent(t, `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\CMD.exe","ParentImage":"C:\\X\\EXPLORER.EXE"}`)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				ev, want := hit, true
				if (g+i)%2 == 1 {
					ev, want = miss, false
				}
				if got := r.Match(ev); got != want {
					t.Errorf("goroutine %d: Match = %v, want %v", g, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	r, err := compileRule(t, whoamiRule)
	if err != nil {
		t.Fatal(err)
	}
	kw, err := compileRule(t, detectionRule("k: ['mimikatz', 'sekurlsa']\ncondition: k"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		r  *Rule
		js string
	}{
		"miss":         {r, `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\CMD.exe","ParentImage":"C:\\X\\EXPLORER.EXE","CommandLine":"CMD /C DIR"}`},
		"hit":          {r, `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\WHOAMI.exe","ParentImage":"C:\\X\\CMD.EXE"}`},
		"other source": {r, `{"EventID":3,"Channel":"Microsoft-Windows-Sysmon/Operational"}`},
		"keywords":     {kw, `{"Image":"C:\\Tools\\Procdump.exe","CommandLine":"PROCDUMP -ma lsass.exe"}`},
	} {
		// Two equal events in turn, so every Match starts without cached
		// lookups.
		evs := [2]*event.Event{jsonEvent(t, tc.js), jsonEvent(t, tc.js)}
		tc.r.Match(evs[0]) // warm the pool
		i := 0
		if n := testing.AllocsPerRun(100, func() { tc.r.Match(evs[i&1]); i++ }); n != 0 {
			t.Errorf("%s: %.1f allocations per Match, want 0", name, n)
		}
	}
}

// TestStateCache checks that lookups cached across evaluations of the same
// event never outlive a change of the event.
func TestStateCache(t *testing.T) {
	r, err := compileRule(t, whoamiRule)
	if err != nil {
		t.Fatal(err)
	}
	ev := jsonEvent(t, `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\WHOAMI.exe","ParentImage":"C:\\X\\CMD.EXE","Zeta":1}`)
	check := func(step string, want bool) {
		t.Helper()
		for range 3 { // repeated: later rounds use the cache
			if got := r.Match(ev); got != want {
				t.Fatalf("%s: Match = %v, want %v", step, got, want)
			}
		}
	}
	check("initial", true)
	ev.Set("Image", event.StringValue(`C:\Windows\System32\CMD.EXE`)) // in place
	check("value changed in place", false)
	ev.Set("Image", event.StringValue(`C:\Windows\System32\whoami.exe`))
	check("value changed back", true)
	ev.Set("ParentImage", event.StringValue(`C:\Windows\explorer.exe`))
	check("filter now holds", false)
	ev.Delete("ParentImage")
	check("field deleted", true)
	// Insert and delete in place: same array, same length, shifted names.
	ev.Fields = slices.Grow(ev.Fields, 4)
	check("after grow", true)
	ev.Set("AParent", event.StringValue("x"))
	ev.Delete("Zeta")
	check("insert and delete in place", true)
	ev.Set("Channel", event.StringValue("Security"))
	check("channel changed", false)
	var d event.Decoder
	if err := d.Decode([]byte(`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","OriginalFileName":"whoami.exe"}`), ev); err != nil {
		t.Fatal(err)
	}
	check("other event decoded into the same Event", true)

	syslog, err := compileRule(t, "title: s\nlogsource: {product: linux, service: syslog}\ndetection: {k: [session opened], condition: k}\n")
	if err != nil {
		t.Fatal(err)
	}
	ev = jsonEvent(t, `{"message":"pam: session opened for root"}`)
	if syslog.Match(ev) {
		t.Fatalf("matched without a syslog dataset")
	}
	ev.Dataset = "syslog"
	if !syslog.Match(ev) {
		t.Fatalf("dataset change not seen")
	}
}
