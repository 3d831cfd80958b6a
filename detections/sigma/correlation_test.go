package sigma

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

const corrBaseRules = `title: Rule A
id: aaaaaaaa-0000-4000-8000-000000000001
name: rule_a
logsource: {product: test}
detection: {sel: {kind: A}, condition: sel}
---
title: Rule B
id: aaaaaaaa-0000-4000-8000-000000000002
name: rule_b
logsource: {product: test}
detection: {sel: {kind: B}, condition: sel}
---
title: Rule C
id: aaaaaaaa-0000-4000-8000-000000000003
name: rule_c
logsource: {product: test}
detection: {sel: {kind: C}, condition: sel}
`

var t0 = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

// cev is a test event: at seconds after t0 (fractions allowed), of kind
// (A, B, C), for user, with an optional value.
type cev struct {
	at   float64
	kind string
	user string
	val  string
}

func (c cev) event(i int) event.Event {
	ev := event.Event{ID: fmt.Sprintf("e%d", i), Time: t0.Add(time.Duration(c.at * float64(time.Second)))}
	ev.Set("kind", event.StringValue(c.kind))
	ev.Set("User", event.StringValue(c.user))
	if c.val != "" {
		ev.Set("Value", event.StringValue(c.val))
	}
	return ev
}

// loadCorr loads the base rules and a correlation from another file and
// returns the one correlation.
func loadCorr(t *testing.T, corr string) *Correlation {
	t.Helper()
	rules, err := LoadSet([]detections.File{{Path: "base.yml", Data: []byte(corrBaseRules)}, {Path: "corr.yml", Data: []byte(corr)}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	var c *Correlation
	for _, r := range rules {
		if x, ok := r.(*Correlation); ok {
			if c != nil {
				t.Fatal("two correlations returned")
			}
			c = x
		}
	}
	if c == nil {
		t.Fatalf("no correlation among %d rules", len(rules))
	}
	return c
}

// describe renders a finding: group values, time offset and event ids.
func describeFinding(f detections.Finding) string {
	var gb []string
	for _, kv := range f.GroupBy {
		gb = append(gb, kv.Field+"="+kv.Value)
	}
	var ids []string
	for _, ev := range f.Events {
		ids = append(ids, ev.ID)
	}
	return fmt.Sprintf("%s@%gs[%s]", strings.Join(gb, ","), f.Time.Sub(t0).Seconds(), strings.Join(ids, " "))
}

func TestCorrelationTypes(t *testing.T) {
	tests := []struct {
		name   string
		corr   string
		events []cev
		tick   float64 // seconds after t0 for a final Tick (event time); 0 for none
		want   []string
	}{
		{
			name:   "event_count fires at the exact boundary",
			corr:   "type: event_count\n  rules: [rule_a]\n  group-by: [User]\n  timespan: 10s\n  condition: {gte: 3}",
			events: []cev{{0, "A", "u1", ""}, {5, "A", "u1", ""}, {10, "A", "u1", ""}},
			want:   []string{"User=u1@10s[e2 e1 e0]"},
		},
		{
			name:   "event_count just past the boundary",
			corr:   "type: event_count\n  rules: [rule_a]\n  group-by: [User]\n  timespan: 10s\n  condition: {gte: 3}",
			events: []cev{{0, "A", "u1", ""}, {5, "A", "u1", ""}, {10.001, "A", "u1", ""}},
		},
		{
			name: "event_count groups apart and resets after firing",
			corr: "type: event_count\n  rules: [rule_a, aaaaaaaa-0000-4000-8000-000000000002]\n  group-by: [User]\n  timespan: 1m\n  condition: {gt: 1}",
			events: []cev{{0, "A", "u1", ""}, {1, "B", "u2", ""}, {2, "B", "u1", ""}, {3, "A", "u1", ""},
				{4, "C", "u1", ""}, {5, "A", "u1", ""}},
			want: []string{"User=u1@2s[e2 e0]", "User=u1@5s[e5 e3]"},
		},
		{
			name:   "event_count lt judged when the window closes",
			corr:   "type: event_count\n  rules: [rule_a]\n  group-by: [User]\n  timespan: 10s\n  condition: {lt: 3}",
			events: []cev{{0, "A", "u1", ""}, {10, "A", "u1", ""}, {0, "A", "u2", ""}, {1, "A", "u2", ""}, {2, "A", "u2", ""}, {10.5, "A", "u1", ""}},
			tick:   25,
			want:   []string{"User=u1@10s[e1 e0]", "User=u1@20.5s[e5]"},
		},
		{
			name:   "value_count distinct values",
			corr:   "type: value_count\n  rules: [rule_a]\n  group-by: [kind]\n  timespan: 10s\n  condition: {field: User, gte: 3}",
			events: []cev{{0, "A", "u1", ""}, {1, "A", "u1", ""}, {2, "A", "u2", ""}, {12, "A", "u3", ""}, {13, "A", "u4", ""}, {14, "A", "u5", ""}},
			want:   []string{"kind=A@14s[e5 e4 e3]"},
		},
		{
			name:   "temporal any order",
			corr:   "type: temporal\n  rules: [rule_a, rule_b, rule_c]\n  group-by: [User]\n  timespan: 5s",
			events: []cev{{0, "C", "u1", ""}, {1, "B", "u1", ""}, {5, "A", "u2", ""}, {5, "A", "u1", ""}, {6, "A", "u1", ""}},
			want:   []string{"User=u1@5s[e3 e1 e0]"},
		},
		{
			name:   "temporal with count condition",
			corr:   "type: temporal\n  rules: [rule_a, rule_b, rule_c]\n  group-by: [User]\n  timespan: 5s\n  condition: {gte: 2}",
			events: []cev{{0, "C", "u1", ""}, {5.5, "B", "u1", ""}, {6, "B", "u1", ""}, {7, "A", "u1", ""}},
			want:   []string{"User=u1@7s[e3 e2 e1]"},
		},
		{
			name: "temporal_ordered needs the order",
			corr: "type: temporal_ordered\n  rules: [rule_a, rule_b]\n  group-by: [User]\n  timespan: 5s",
			events: []cev{{0, "B", "u1", ""}, {1, "A", "u1", ""}, {2, "A", "u2", ""}, {6, "B", "u1", ""},
				{7.5, "B", "u2", ""}},
			want: []string{"User=u1@6s[e3 e1]"},
		},
		{
			name:   "value_sum",
			corr:   "type: value_sum\n  rules: [rule_a]\n  group-by: [User]\n  timespan: 1h\n  condition: {field: Value, gt: 100}",
			events: []cev{{0, "A", "u1", "60"}, {1, "A", "u1", "x"}, {2, "A", "u1", "40"}, {3, "A", "u1", "0.5"}},
			want:   []string{"User=u1@3s[e3 e2 e1 e0]"},
		},
		{
			name:   "value_avg",
			corr:   "type: value_avg\n  rules: [rule_a]\n  group-by: [User]\n  timespan: 1h\n  condition: {field: Value, gte: 50}",
			events: []cev{{0, "A", "u1", "10"}, {1, "A", "u1", "80"}, {2, "A", "u1", "60"}},
			want:   []string{"User=u1@2s[e2 e1 e0]"},
		},
		{
			name: "value_percentile rare value",
			corr: "type: value_percentile\n  rules: [rule_a]\n  group-by: [kind]\n  timespan: 1h\n  condition: {field: Value, lte: 20}",
			events: []cev{{0, "A", "u", "cmd.exe"}, {1, "A", "u", "cmd.exe"}, {2, "A", "u", "cmd.exe"}, {3, "A", "u", "cmd.exe"},
				{4, "A", "u", "cmd.exe"}, {5, "A", "u", "evil.exe"}},
			want: []string{"kind=A@5s[e5 e4 e3 e2 e1 e0]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadCorr(t, "title: Corr\nid: cccccccc-0000-4000-8000-000000000001\ncorrelation:\n  "+tt.corr+"\n")
			var got []string
			emit := func(f detections.Finding) { got = append(got, describeFinding(f)) }
			for i, e := range tt.events {
				ev := e.event(i)
				if err := c.Eval(context.Background(), &ev, emit); err != nil {
					t.Fatal(err)
				}
			}
			if tt.tick != 0 {
				// Event time stands still: the tick's wall clock equals the
				// moment the newest event was seen plus the advance.
				c.mu.Lock()
				newest := time.Unix(0, c.watermark)
				wall := c.wallAt
				c.mu.Unlock()
				_ = c.Tick(context.Background(), wall.Add(t0.Add(time.Duration(tt.tick*float64(time.Second))).Sub(newest)), emit)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCorrelationChainAndAliases(t *testing.T) {
	corr := `title: Failed then success
id: cccccccc-0000-4000-8000-000000000010
correlation:
  type: temporal_ordered
  rules: [many_a, rule_b]
  group-by: [User]
  timespan: 10s
---
title: Many A
id: cccccccc-0000-4000-8000-000000000011
name: many_a
correlation:
  type: event_count
  rules: [rule_a]
  group-by: [User]
  timespan: 10s
  condition: {gte: 2}
`
	c := loadCorr(t, corr)
	if c.Meta().Title != "Failed then success" {
		t.Fatalf("outer correlation is %q", c.Meta().Title)
	}
	var got []string
	for i, e := range []cev{{0, "A", "u1", ""}, {1, "B", "u1", ""}, {2, "A", "u1", ""}, {3, "B", "u1", ""}} {
		ev := e.event(i)
		_ = c.Eval(context.Background(), &ev, func(f detections.Finding) { got = append(got, describeFinding(f)) })
	}
	if want := []string{"User=u1@3s[e3 e2 e1]"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	alias := `title: Aliased
id: cccccccc-0000-4000-8000-000000000020
correlation:
  type: temporal
  rules: [rule_a, rule_b]
  group-by: [who]
  timespan: 10s
  aliases:
    who: {rule_a: User, rule_b: Value}
`
	c = loadCorr(t, alias)
	got = nil
	for i, e := range []cev{{0, "A", "alice", ""}, {1, "B", "bob", "alice"}} {
		ev := e.event(i)
		_ = c.Eval(context.Background(), &ev, func(f detections.Finding) { got = append(got, describeFinding(f)) })
	}
	if want := []string{"who=alice@1s[e1 e0]"}; !slices.Equal(got, want) {
		t.Errorf("aliases: got %q, want %q", got, want)
	}
}

func TestLoadSetReferencesAndGenerate(t *testing.T) {
	files := func(corr string) []detections.File {
		return []detections.File{{Path: "base.yml", Data: []byte(corrBaseRules)}, {Path: "corr.yml", Data: []byte(corr)}}
	}
	const head = "title: C\nid: cccccccc-0000-4000-8000-000000000030\ncorrelation:\n  type: event_count\n  group-by: [User]\n  timespan: 1m\n  condition: {gte: 2}\n"
	rules, err := LoadSet(files(head + "  rules: [rule_a]\n"))
	if err != nil || len(rules) != 3 { // rule_b, rule_c, the correlation
		t.Fatalf("without generate: %d rules, %v", len(rules), err)
	}
	rules, err = LoadSet(files(head + "  rules: [rule_a]\n  generate: true\n"))
	if err != nil || len(rules) != 4 {
		t.Fatalf("with generate: %d rules, %v", len(rules), err)
	}
	for _, tc := range []struct{ corr, want string }{
		{head + "  rules: [nope]\n", `refers to unknown rule "nope"`},
		{head + "  rules: [rule_a]\n  aliases: {x: {rule_z: User}}\n", `"rule_z" is not one of the correlation's rules`},
		{"title: X\nname: x\ncorrelation: {type: event_count, rules: [y], group-by: [U], timespan: 1m, condition: {gte: 1}}\n---\n" +
			"title: Y\nname: y\ncorrelation: {type: event_count, rules: [x], group-by: [U], timespan: 1m, condition: {gte: 1}}\n", "refers to itself"},
		{"title: X\ncorrelation: {type: sometimes, rules: [rule_a], group-by: [U], timespan: 1w, condition: {gte: one}}\n",
			`unknown correlation type "sometimes"`},
		{"title: X\ncorrelation: {type: value_sum, rules: [rule_a], group-by: [U], timespan: 1m, condition: {gte: 1}}\n", "condition.field: is required"},
		{"title: X\ncorrelation: {type: event_count, rules: [rule_a], group-by: [U], timespan: 1m, condition: {gte: 20000}}\n", "cannot be reached"},
		{"title: X\ncorrelation: {type: event_count, rules: [rule_a], group-by: [U], timespan: 60d, condition: {gte: 2}}\n", "exceeds"},
	} {
		_, err := LoadSet(files(tc.corr))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.corr, err, tc.want)
		}
	}
}

func TestFilters(t *testing.T) {
	filter := `title: Not for admins
logsource: {product: test}
filter:
  rules: [rule_a, aaaaaaaa-0000-4000-8000-000000000002]
  selection: {User|startswith: adm_}
  condition: selection
`
	plain, err := LoadSet([]detections.File{{Path: "base.yml", Data: []byte(corrBaseRules)}})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := LoadSet([]detections.File{{Path: "base.yml", Data: []byte(corrBaseRules)}, {Path: "filter.yml", Data: []byte(filter)}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rules {
		rule := r.(*Rule)
		filtered := rule.info.Title != "Rule C"
		for _, e := range []cev{{0, rule.info.Title[len("Rule "):], "adm_x", ""}, {0, rule.info.Title[len("Rule "):], "bob", ""}} {
			ev := e.event(0)
			want := !(filtered && e.user == "adm_x")
			if got := rule.Match(&ev); got != want {
				t.Errorf("%s on %s: %v, want %v", rule.info.Title, e.user, got, want)
			}
		}
		if changed := r.Meta().Version != plain[i].Meta().Version; changed != filtered {
			t.Errorf("%s: version changed %v, want %v", rule.info.Title, changed, filtered)
		}
	}
	_, err = LoadSet([]detections.File{{Path: "filter.yml", Data: []byte(filter)}})
	if err == nil || !strings.Contains(err.Error(), `unknown rule "rule_a"`) {
		t.Errorf("dangling filter: %v", err)
	}
}

func TestCorrelationBoundedAndSnapshot(t *testing.T) {
	const corr = "title: C\nid: cccccccc-0000-4000-8000-000000000040\ncorrelation:\n  type: event_count\n  rules: [rule_a]\n  group-by: [User]\n  timespan: 1m\n  condition: {gte: 2}\n"
	c := loadCorr(t, corr)
	c.SetMaxGroups(2)
	var fired []string
	emit := func(f detections.Finding) { fired = append(fired, describeFinding(f)) }
	for i, e := range []cev{{0, "A", "u1", ""}, {1, "A", "u2", ""}, {2, "A", "u3", ""}} {
		ev := e.event(i)
		_ = c.Eval(context.Background(), &ev, emit)
	}
	if st := c.Stats(); st.Groups != 2 || st.Evicted != 1 {
		t.Fatalf("stats %+v", st)
	}
	var buf bytes.Buffer
	if err := c.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	// A restarted process: the same rule, fresh state.
	c2 := loadCorr(t, corr)
	if err := c2.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for i, e := range []cev{{3, "A", "u1", ""}, {4, "A", "u3", ""}} {
		ev := e.event(10 + i)
		_ = c2.Eval(context.Background(), &ev, emit)
	}
	if want := []string{"User=u3@4s[e11 e2]"}; !slices.Equal(fired, want) {
		t.Errorf("after restore: %q, want %q (u1 was evicted)", fired, want)
	}
	// Another version of the rule does not take the state.
	c3 := loadCorr(t, strings.Replace(corr, "gte: 2", "gte: 3", 1))
	if err := c3.Restore(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("other version: %v", err)
	}
	if err := c3.Restore(strings.NewReader("{")); err == nil {
		t.Error("truncated snapshot accepted")
	}

	dir := t.TempDir()
	if err := SaveState(dir, []detections.Rule{c2}); err != nil {
		t.Fatal(err)
	}
	c4 := loadCorr(t, corr)
	if err := RestoreState(dir, []detections.Rule{c4}); err != nil {
		t.Fatal(err)
	}
	if st := c4.Stats(); st.Groups != 2 { // u2 and u1 (u3 fired and reset)
		t.Errorf("restored %d groups, want 2", st.Groups)
	}
}

// TestCorrelationTickWallClock checks that Tick closes windows while events
// pause, by event time advanced by the wall clock since the newest event.
func TestCorrelationTickWallClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := loadCorr(t, "title: C\nid: cccccccc-0000-4000-8000-000000000050\ncorrelation:\n  type: event_count\n  rules: [rule_a]\n  group-by: [User]\n  timespan: 10s\n  condition: {lte: 1}\n")
		var got []string
		emit := func(f detections.Finding) { got = append(got, describeFinding(f)) }
		ev := cev{0, "A", "u1", ""}.event(0)
		_ = c.Eval(context.Background(), &ev, emit)
		time.Sleep(10 * time.Second)
		_ = c.Tick(context.Background(), time.Now(), emit)
		if len(got) != 0 {
			t.Fatalf("closed at the boundary: %q", got)
		}
		time.Sleep(time.Nanosecond)
		_ = c.Tick(context.Background(), time.Now(), emit)
		if want := []string{"User=u1@10s[e0]"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}
