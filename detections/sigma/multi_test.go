package sigma

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/internal/wire"
)

func TestLitGroups(t *testing.T) {
	cases := []struct {
		detection string
		want      [][]string // per group, its terms (=exact, #number, else substring); nil: none
	}{
		{"s: {Image|endswith: '\\Cmd.EXE'}\ncondition: s", [][]string{{`\cmd.exe`}}},
		{"s: {Image|endswith: ['\\a.exe', '\\b.exe']}\ncondition: s", [][]string{{`\a.exe`, `\b.exe`}}},
		{"s: {CommandLine|contains|all: [' -x ', 'download']}\ncondition: s", [][]string{{" -x "}, {"download"}}},
		{"s: {A: 'abc*def*'}\ncondition: s", [][]string{{"abc"}, {"def"}}},
		{"a: {A: xyz}\nb: {B|contains: longer}\ncondition: a and b", [][]string{{"=xyz"}, {"longer"}}},
		{"a: {A: xyz}\nb: {B|contains: longer}\ncondition: a and not b", [][]string{{"=xyz"}}},
		{"a: {A: xyz}\nb: {B|re: 'x+'}\ncondition: a or b", nil},
		{"a: {A: xyz}\nb: {B|re: '(?i)Invoke-(Web|Rest)Method\\s+x'}\ncondition: a or b", [][]string{{"=xyz", "invo"}, {"=xyz", "method\t", "method\n", "method\f", "method\r", "method "}}},
		// Under i, k and s also match the Kelvin sign and the long s.
		{"b: {B|re: '(?i)kerberos::golden'}\ncondition: b", [][]string{{"::golden"}}},
		{"b: {B|re: 'kerberos::golden'}\ncondition: b", [][]string{{"kerberos::golden"}}},
		// (a and b) or c distributes: (a or c) and (b or c).
		{"a: {A|contains: aaa, B|contains: [bbb, bbbb]}\nc: {C|contains: ccc}\ncondition: a or c", [][]string{{"aaa", "ccc"}, {"bbb", "bbbb", "ccc"}}},
		{"a: {A|contains: aaa}\nc: {C|contains: ccc}\nd: {D: 1}\ncondition: a or (c and not d)", [][]string{{"aaa", "ccc"}}},
		{"a: {A|contains: aaa}\nd: {D: 1}\ncondition: a or not d", nil},
		{"b: {B|re: 'ab(cde|fgh)'}\ncondition: b", [][]string{{"cde", "fgh"}}},
		{"b: {B|re: '(abc)?x'}\ncondition: b", nil},
		{"b: {B|re: '[Ii][Ee][Xx]\\('}\ncondition: b", [][]string{{"iex("}}},
		{"b: {B|re: 'a[Bb]c'}\ncondition: b", [][]string{{"abc"}}},
		{"b: {B|re: 'a[bc]d'}\ncondition: b", [][]string{{"abd", "acd"}}},
		{"b: {B|re: 'net\\s+user'}\ncondition: b", [][]string{{"\tuser", "\nuser", "\fuser", "\ruser", " user"}, {"net\t", "net\n", "net\f", "net\r", "net "}}},
		{"b: {B|re: 'x[a-z]y'}\ncondition: b", nil},
		{"a: {A: xyz}\ncondition: not a", nil},
		{"a: {A: 5}\ncondition: a", [][]string{{"#5"}}},
		{"a: {A: [5, 'x']}\ncondition: a", [][]string{{"#5", "=x"}}},
		{"a: {A|startswith: 'x'}\ncondition: a", nil},
		{"b: {B|re: 'a+`b+'}\ncondition: b", [][]string{{"`"}}},
		{"b: {B|re: '\\$\\{`?e'}\ncondition: b", [][]string{{"${"}}},
		{"a: {A|cased: ABC}\ncondition: a", [][]string{{"=abc"}}},
		{"a: {A|cased|contains: ABC}\ncondition: a", [][]string{{"abc"}}},
		{"a: {A: 'ÄBC'}\ncondition: a", [][]string{{"Ä", "ä"}}},           // Unicode folding: the case forms of Ä
		{"a: {A|contains: 'Жx-123'}\ncondition: a", [][]string{{"-123"}}}, // or a caseless run
		{"a: {A|contains: 'ſ'}\ncondition: a", nil},                       // whose forms include ASCII s
		{"a: {A: ''}\ncondition: a", [][]string{{"="}}},
		{"a: {A|contains: ''}\ncondition: a", nil},
		{"k: [evil, bad]\ncondition: k", [][]string{{"bad", "evil"}}},
	}
	for _, c := range cases {
		r, err := compileRule(t, detectionRule(c.detection))
		if err != nil {
			t.Fatalf("%s: %v", c.detection, err)
		}
		gs, ok := r.det.litGroups()
		if ok != (c.want != nil) {
			t.Errorf("%s: ok %v, want %v", c.detection, ok, c.want != nil)
		}
		var got [][]string
		for _, g := range gs {
			var lits []string
			for _, term := range g {
				lits = append(lits, [...]string{tSub: "", tExact: "=", tNum: "#"}[term.kind]+term.lit)
			}
			slices.Sort(lits)
			got = append(got, lits)
		}
		slices.SortFunc(got, slices.Compare)
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("%s: groups %q, want %q", c.detection, got, c.want)
		}
	}
}

func TestLitScanner(t *testing.T) {
	cases := []struct {
		lits []string
		text string
		want []string // the literals found, sorted, once each
	}{
		{[]string{"he", "she", "his", "hers"}, "USHERS", []string{"he", "hers", "she"}},
		{[]string{`\cmd.exe`, ".exe", "cmd"}, `C:\Windows\System32\CMD.EXE /c`, []string{".exe", `\cmd.exe`, "cmd"}},
		{[]string{"abc"}, "ab", nil},
		{[]string{"abc"}, "", nil},
		{[]string{"a\x00b", "ä"}, "xA\x00BxÄä", []string{"a\x00b", "ä"}},
		{[]string{"aaa", "aa"}, "aaaa", []string{"aa", "aaa"}},
		{[]string{"xyz"}, "XYZxyzXyZ", []string{"xyz"}},
	}
	for _, c := range cases {
		sc, err := newLitScanner(c.lits)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range sc.scan(c.text, nil) {
			got = append(got, c.lits[h])
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%q in %q: found %q, want %q", c.lits, c.text, got, c.want)
		}
	}
	if _, err := newLitScanner([]string{""}); err == nil {
		t.Error("empty literal accepted")
	}
	// Long texts are scanned as two overlapping halves: literals at every
	// position, across the middle included, on a small alphabet.
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcAB"[rng.IntN(5)]
		}
		return string(b)
	}
	for range 300 {
		var lits []string
		for range 1 + rng.IntN(6) {
			if l := lowerASCII(word(1 + rng.IntN(12))); !slices.Contains(lits, l) {
				lits = append(lits, l)
			}
		}
		text := word(rng.IntN(400))
		sc, err := newLitScanner(lits)
		if err != nil {
			t.Fatal(err)
		}
		found := make([]bool, len(lits))
		for _, h := range sc.scan(text, nil) {
			found[h] = true
		}
		for i, l := range lits {
			if want := strings.Contains(lowerASCII(text), l); found[i] != want {
				t.Fatalf("%q in %q (%d bytes): found %v, want %v", l, text, len(text), found[i], want)
			}
		}
	}
}

// FuzzLitScanner checks the automaton against strings.Contains on the ASCII
// lower-cased text.
func FuzzLitScanner(f *testing.F) {
	f.Add("he\x00she\x00hers", "USHERS")
	f.Add("abc\x00bc\x00c", "xxABCabc")
	f.Fuzz(func(t *testing.T, lits, text string) {
		var ls []string
		for _, l := range strings.Split(lits, "\x00") {
			if l = lowerASCII(l); l != "" && !slices.Contains(ls, l) {
				ls = append(ls, l)
			}
		}
		if len(ls) == 0 || len(ls) > 64 {
			return
		}
		sc, err := newLitScanner(ls)
		if err != nil {
			t.Fatal(err)
		}
		found := make([]bool, len(ls))
		for _, h := range sc.scan(text, nil) {
			found[h] = true
		}
		low := lowerASCII(text)
		for i, l := range ls {
			if want := strings.Contains(low, l); found[i] != want {
				t.Errorf("%q in %q: found %v, want %v", l, text, found[i], want)
			}
		}
	})
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

// BenchmarkSigmaHQWindowsSet is BenchmarkSigmaHQWindows through a Set, on
// the events as the engine receives them from the bus (consumerCorpus),
// with the next events' memory prefetched while one is evaluated, as the
// engine evaluates a batch (event.PrefetchAhead); set-MiB is the heap the
// Set adds to the compiled rules (its automata and tables).
func BenchmarkSigmaHQWindowsSet(b *testing.B) {
	rules, heap := sigmaHQWindows(b)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	set, err := NewSet(rules)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	setHeap := ms1.HeapAlloc - min(ms0.HeapAlloc, ms1.HeapAlloc)
	events := consumerCorpus(b, otrfCorpus(b, 20_000))
	// Collect the garbage of loading the corpus now, so that no collection
	// started by the loading runs during the loop (EvalAll allocates
	// nothing).
	runtime.GC()
	ctx := b.Context()
	alerts := 0
	emit := func(int, detections.Finding) { alerts++ }
	var lat latencies
	b.ReportAllocs()
	i := 0
	last := time.Now()
	for b.Loop() {
		j := i % len(events)
		i++
		// As the engine does for the next events of a batch (the corpus
		// is one batch, evaluated again and again).
		event.PrefetchAhead(events, j)
		_ = set.EvalAll(ctx, &events[j], emit)
		now := time.Now()
		lat.add(now.Sub(last))
		last = now
	}
	reportRate(b, &lat)
	b.ReportMetric(float64(len(rules)), "rules")
	b.ReportMetric(float64(heap)/(1<<20), "compiled-MiB")
	b.ReportMetric(float64(setHeap)/(1<<20), "set-MiB")
}

// BenchmarkSigmaHQWindowsSetDecoded is BenchmarkSigmaHQWindowsSet in the
// order the pipeline runs it: each bus message (a payload of events) is
// decoded by a wire.Decoder, then its events are evaluated in order, the
// next ones prefetched. events/s counts decoding and evaluation,
// eval-events/s the evaluation alone; p50-ns and p99-ns are the latency of
// evaluating one event.
func BenchmarkSigmaHQWindowsSetDecoded(b *testing.B) {
	rules, _ := sigmaHQWindows(b)
	set, err := NewSet(rules)
	if err != nil {
		b.Fatal(err)
	}
	// Messages of 100 events, as a collector's batches of that size
	// make them.
	var msgs [][]byte
	corpus := otrfCorpus(b, 20_000)
	if len(corpus) == 0 {
		b.Skip("no OTRF events")
	}
	for i := 0; i < len(corpus); i += 100 {
		var msg []byte
		for j := i; j < min(i+100, len(corpus)); j++ {
			if j > i {
				msg = append(msg, '\n')
			}
			msg = event.AppendJSON(msg, &corpus[j])
		}
		msgs = append(msgs, msg)
	}
	corpus = nil
	runtime.GC()
	ctx := b.Context()
	emit := func(int, detections.Finding) {}
	dec := wire.NewDecoder(1 << 20)
	var events []event.Event
	var lat latencies
	var eval time.Duration
	b.ReportAllocs()
	m, k := 0, 0
	for b.Loop() {
		if k == len(events) {
			events, _ = dec.Decode(msgs[m%len(msgs)])
			m++
			k = 0
		}
		t := time.Now()
		event.PrefetchAhead(events, k)
		_ = set.EvalAll(ctx, &events[k], emit)
		k++
		d := time.Since(t)
		eval += d
		lat.add(d)
	}
	reportRate(b, &lat)
	// The engine alone on events just decoded, as in the pipeline.
	b.ReportMetric(float64(b.N)/eval.Seconds(), "eval-events/s")
}

// BenchmarkFieldScan scans the values of one field of the OTRF events
// with the parts of the SigmaHQ Windows Set the event makes live, and
// marks the groups they satisfy (Set.scanText), per field: the cost of
// the prefilter on the fields that hold most of the literals.
func BenchmarkFieldScan(b *testing.B) {
	rules, _ := sigmaHQWindows(b)
	set, err := NewSet(rules)
	if err != nil {
		b.Fatal(err)
	}
	type job struct {
		live uint64
		text string
	}
	fields := []string{"CommandLine", "Image", "Hashes", "CallTrace", "TargetObject", "Message"}
	jobs := map[string][]job{}
	sc := &setScratch{}
	for _, ev := range otrfCorpus(b, 20_000) {
		sc.reset(set)
		st := getFreshState(&ev)
		sh := set.shapeOf(sc, ev.Fields)
		if sh != &sc.one {
			set.knowRoutes(sc, st, sh, &ev)
		}
		for _, name := range fields {
			if v, ok := ev.Get(name); ok && v.Kind == event.String {
				fs := set.byName[name]
				jobs[name] = append(jobs[name], job{set.live(sc, st, fs, true), v.Str})
			}
		}
		putState(st)
	}
	for _, name := range fields {
		b.Run(name, func(b *testing.B) {
			js := jobs[name]
			if len(js) == 0 {
				b.Skip("no values")
			}
			fs := set.byName[name]
			bytes := 0
			for _, j := range js {
				bytes += len(j.text)
			}
			i := 0
			for b.Loop() {
				sc.reset(set)
				j := &js[i%len(js)]
				set.scanText(sc, fs, j.live, j.text)
				i++
			}
			b.ReportMetric(float64(bytes)/float64(len(js)), "bytes/value")
		})
	}
}

// BenchmarkLongCommandLines evaluates the SigmaHQ Windows Set on the OTRF
// events whose command line is 2,000 bytes or more (five encoded
// PowerShell commands of about 5 KB), the tail of BenchmarkSigmaHQWindowsSet.
func BenchmarkLongCommandLines(b *testing.B) {
	rules, _ := sigmaHQWindows(b)
	set, err := NewSet(rules)
	if err != nil {
		b.Fatal(err)
	}
	var long []event.Event
	for _, ev := range otrfCorpus(b, 20_000) {
		if len(ev.GetString("CommandLine")) >= 2000 {
			long = append(long, ev)
		}
	}
	if len(long) == 0 {
		b.Skip("no long command lines")
	}
	runtime.GC()
	ctx := b.Context()
	emit := func(int, detections.Finding) {}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = set.EvalAll(ctx, &long[i%len(long)], emit)
		i++
	}
	b.ReportMetric(float64(len(long)), "events")
}
