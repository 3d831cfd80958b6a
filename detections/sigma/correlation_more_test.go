package sigma

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

// TestSpecCorrelationExamples parses the correlation and filter documents of
// the specification's schema tests, and runs the specification's complete
// example (failed logins followed by a success, a correlation chain).
func TestSpecCorrelationExamples(t *testing.T) {
	dir := datasettest.Path(t, "sigma-spec", "tests", "schema")
	for _, sub := range []string{"correlation", "filter"} {
		files, _ := filepath.Glob(filepath.Join(dir, sub, "*.yml"))
		if len(files) == 0 {
			t.Fatalf("no %s examples in %s", sub, dir)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = LoadSet([]detections.File{{Path: f, Data: data}})
			// The examples refer to rules that are not part of them; the
			// only problems allowed are that and the ecs taxonomy, which
			// this package rejects for every kind of document.
			if err == nil {
				continue
			}
			for e := range strings.Lines(err.Error()) {
				if !strings.Contains(e, "unknown rule") && !strings.Contains(e, `taxonomy "ecs" is not supported`) {
					t.Errorf("%s: %v", filepath.Base(f), e)
				}
			}
		}
	}

	rules, err := LoadSet([]detections.File{{Path: "spec.yml", Data: []byte(specExample)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Meta().ID != "b180ead8-d58f-40b2-ae54-c8940995b9b6" {
		t.Fatalf("rules %v", rules)
	}
	var alerts []string
	for i := range 12 {
		id := 4625
		if i == 11 {
			id = 4624
		}
		ev := event.Event{ID: fmt.Sprint(i), Time: t0.Add(time.Duration(i) * 30 * time.Second)}
		ev.Set("Channel", event.StringValue("Security"))
		ev.Set("EventID", event.NumberValue(float64(id)))
		ev.Set("TargetUserName", event.StringValue("admin"))
		_ = rules[0].Eval(context.Background(), &ev, func(f detections.Finding) { alerts = append(alerts, describeFinding(f)) })
	}
	if want := "TargetUserName=admin@330s[11 9]"; len(alerts) != 1 || alerts[0] != want {
		t.Errorf("alerts %q, want one like %q", alerts, want)
	}
}

// specExample is the specification's closing example, grouped by
// TargetUserName (the field Windows security events carry).
const specExample = `title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - TargetUserName
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - TargetUserName
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
`

// FuzzLoadSet feeds arbitrary bytes as a correlation file next to the base
// rules, and evaluates and snapshots whatever loads: nothing may panic.
func FuzzLoadSet(f *testing.F) {
	f.Add([]byte(specExample))
	f.Add([]byte("title: C\ncorrelation: {type: value_count, rules: [rule_a, rule_b], group-by: [User], timespan: 1m, condition: {field: Value, gte: 2}}\n"))
	f.Add([]byte("title: F\nlogsource: {product: test}\nfilter: {rules: [rule_a], sel: {User: x}, condition: sel}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxFileBytes {
			return
		}
		rules, _ := LoadSet([]detections.File{{Path: "base.yml", Data: []byte(corrBaseRules)}, {Path: "fuzz.yml", Data: data}})
		for _, r := range rules {
			for i, e := range []cev{{0, "A", "u", "1"}, {1, "B", "u", "x"}, {2, "C", "u", "3"}} {
				ev := e.event(i)
				_ = r.Eval(context.Background(), &ev, func(detections.Finding) {})
			}
			if st, ok := r.(detections.Stateful); ok {
				var buf bytes.Buffer
				if err := st.Snapshot(&buf); err != nil {
					t.Fatal(err)
				}
				if err := st.Restore(&buf); err != nil {
					t.Fatalf("own snapshot rejected: %v", err)
				}
			}
		}
	})
}

// FuzzRestore feeds arbitrary snapshots to Restore: it may reject them but
// not panic, and the correlation must keep working.
func FuzzRestore(f *testing.F) {
	c := loadCorrF(f)
	ev := cev{0, "A", "u", ""}.event(0)
	_ = c.Eval(context.Background(), &ev, func(detections.Finding) {})
	var buf bytes.Buffer
	_ = c.Snapshot(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := loadCorrF(t)
		_ = c.Restore(bytes.NewReader(data))
		ev := cev{5, "A", "u", ""}.event(1)
		_ = c.Eval(context.Background(), &ev, func(detections.Finding) {})
		_ = c.Tick(context.Background(), time.Now(), func(detections.Finding) {})
	})
}

func loadCorrF(tb testing.TB) *Correlation {
	rules, err := LoadSet([]detections.File{{Path: "base.yml", Data: []byte(corrBaseRules)}, {Path: "c.yml", Data: []byte(
		"title: C\nid: cccccccc-0000-4000-8000-000000000060\ncorrelation: {type: temporal, rules: [rule_a, rule_b], group-by: [User], timespan: 1m}\n")}})
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range rules {
		if c, ok := r.(*Correlation); ok {
			return c
		}
	}
	tb.Fatal("no correlation")
	return nil
}

// BenchmarkCorrelationEventCount measures an event_count rule grouped by
// user over 10,000 users, one event at a time.
func BenchmarkCorrelationEventCount(b *testing.B) {
	rules, err := LoadSet([]detections.File{{Path: "base.yml", Data: []byte(corrBaseRules)}, {Path: "c.yml", Data: []byte(
		"title: C\nid: cccccccc-0000-4000-8000-000000000070\ncorrelation: {type: event_count, rules: [rule_a], group-by: [User], timespan: 5m, condition: {gte: 100}}\n")}})
	if err != nil {
		b.Fatal(err)
	}
	var c *Correlation
	for _, r := range rules {
		if x, ok := r.(*Correlation); ok {
			c = x
		}
	}
	const users = 10_000
	events := make([]event.Event, 4*users)
	for i := range events {
		events[i] = cev{float64(i) / 1000, "A", fmt.Sprintf("user%d", i%users), ""}.event(i)
	}
	ctx := context.Background()
	fired := 0
	emit := func(detections.Finding) { fired++ }
	b.ReportAllocs()
	i := 0
	start := time.Now()
	for b.Loop() {
		ev := &events[i%len(events)]
		// Event time moves on with every pass over the corpus.
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		_ = c.Eval(ctx, ev, emit)
		i++
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(c.Stats().Groups), "groups")
}

// TestCorrelationConcurrent runs Eval, Tick, Snapshot and Stats from several
// goroutines at once (meaningful under -race) and checks that no event is
// lost: 4 × 500 events of one user with gte 10 fire exactly 200 times.
func TestCorrelationConcurrent(t *testing.T) {
	c := loadCorr(t, "title: C\nid: cccccccc-0000-4000-8000-000000000080\ncorrelation:\n  type: event_count\n  rules: [rule_a]\n  group-by: [User]\n  timespan: 1h\n  condition: {gte: 10}\n")
	var mu sync.Mutex
	fired := 0
	emit := func(detections.Finding) { mu.Lock(); fired++; mu.Unlock() }
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				ev := cev{float64(i), "A", "u", ""}.event(g*1000 + i)
				_ = c.Eval(context.Background(), &ev, emit)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_ = c.Tick(context.Background(), time.Now(), emit)
			_ = c.Snapshot(io.Discard)
			_ = c.Stats()
		}
	})
	wg.Wait()
	if fired != 200 {
		t.Errorf("fired %d times, want 200", fired)
	}
}
