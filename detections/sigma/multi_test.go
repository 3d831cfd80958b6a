package sigma

import (
	"slices"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections"
)

func TestLiterals(t *testing.T) {
	cases := []struct {
		detection string
		want      []string // nil: no literal set
	}{
		{"s: {Image|endswith: '\\Cmd.EXE'}\ncondition: s", []string{`\cmd.exe`}},
		{"s: {Image|endswith: ['\\a.exe', '\\b.exe']}\ncondition: s", []string{`\a.exe`, `\b.exe`}},
		{"s: {CommandLine|contains|all: [' -x ', 'download']}\ncondition: s", []string{"download"}},
		{"s: {A: 'abc*def*'}\ncondition: s", []string{"abc"}},
		{"a: {A: xyz}\nb: {B|contains: longer}\ncondition: a and b", []string{"longer"}},
		{"a: {A: xyz}\nb: {B|re: 'x+'}\ncondition: a or b", nil},
		{"a: {A: xyz}\nb: {B|re: '(?i)Invoke-(Web|Rest)Method\\s+x'}\ncondition: a or b", []string{"xyz", "invoke-"}},
		{"b: {B|re: 'ab(cde|fgh)'}\ncondition: b", []string{"cde", "fgh"}},
		{"b: {B|re: '(abc)?x'}\ncondition: b", nil},
		{"a: {A: xyz}\ncondition: not a", nil},
		{"a: {A: 5}\ncondition: a", nil},
		{"a: {A|cased: ABC}\ncondition: a", []string{"abc"}},
		{"a: {A: 'ÄBC'}\ncondition: a", []string{"Ä", "ä"}},           // Unicode folding: the case forms of Ä
		{"a: {A|contains: 'Жx-123'}\ncondition: a", []string{"-123"}}, // or a caseless run
		{"a: {A|contains: 'ſ'}\ncondition: a", nil},                   // whose forms include ASCII s
		{"a: {A: ''}\ncondition: a", nil},
		{"k: [evil, bad]\ncondition: k", []string{"evil", "bad"}},
	}
	for _, c := range cases {
		r, err := compileRule(t, detectionRule(c.detection))
		if err != nil {
			t.Fatalf("%s: %v", c.detection, err)
		}
		got, ok := r.det.literals()
		if !ok {
			got = nil
		}
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: literals %q, want %q", c.detection, got, want)
		}
	}
}

// TestSetMatchesRules checks that a Set fires exactly the rules that fire
// when each rule is evaluated alone, for every SigmaHQ Windows rule on the
// OTRF corpus.
func TestSetMatchesRules(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates ~2,500 rules one by one on 1,600 events")
	}
	rules, _ := sigmaHQWindows(t)
	var plain []detections.Rule
	for _, r := range rules {
		if _, ok := r.(*Rule); ok {
			plain = append(plain, r)
		}
	}
	set, err := NewSet(plain)
	if err != nil {
		t.Fatal(err)
	}
	events := otrfCorpus(t, 1600)
	ctx := t.Context()
	start := time.Now()
	fired := 0
	for i := range events {
		ev := &events[i]
		var want, got []int
		for ri, r := range plain {
			_ = r.Eval(ctx, ev, func(detections.Finding) { want = append(want, ri) })
		}
		_ = set.EvalAll(ctx, ev, func(ri int, f detections.Finding) {
			if len(f.Events) != 1 || f.Events[0] != ev {
				t.Errorf("event %d: finding %+v", i, f)
			}
			got = append(got, ri)
		})
		slices.Sort(got)
		fired += len(want)
		if !slices.Equal(got, want) {
			t.Errorf("event %d (%s): set fired %v, rules %v", i, ev.ID, got, want)
		}
	}
	if fired == 0 {
		t.Error("no rule fired on the corpus: the comparison proves nothing")
	}
	t.Logf("%d rules, %d events, %d matches, %s", len(plain), len(events), fired, time.Since(start))
}

// BenchmarkSigmaHQWindowsSet is BenchmarkSigmaHQWindows through a Set.
func BenchmarkSigmaHQWindowsSet(b *testing.B) {
	rules, heap := sigmaHQWindows(b)
	set, err := NewSet(rules)
	if err != nil {
		b.Fatal(err)
	}
	events := otrfCorpus(b, 20_000)
	ctx := b.Context()
	alerts := 0
	emit := func(int, detections.Finding) { alerts++ }
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := &events[i%len(events)]
		i++
		t := time.Now()
		_ = set.EvalAll(ctx, ev, emit)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(len(rules)), "rules")
	b.ReportMetric(float64(heap)/(1<<20), "compiled-MiB")
}
