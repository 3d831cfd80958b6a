package sigma

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

// TestScanners checks each way of finding literals (automaton, grams,
// anchors, and litScanner, which picks among them) against strings.Contains
// on the ASCII lower-cased text, with literals of every length, non-ASCII
// bytes, and texts long enough for anchors.
func TestScanners(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "abcAB:.-\\ é\x00"
	word := func(n int) string {
		b := make([]byte, 0, n)
		for len(b) < n {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		return string(b)
	}
	type scanFunc func(lits []string, text string) []int32
	ids := func(n int) []int32 {
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(i)
		}
		return out
	}
	kinds := map[string]scanFunc{
		"litScanner": func(lits []string, text string) []int32 {
			sc, err := newLitScanner(lits)
			if err != nil {
				t.Fatal(err)
			}
			return sc.scan(text, nil)
		},
		"dense": func(lits []string, text string) []int32 {
			sc, err := newDense(lits, ids(len(lits)))
			if err != nil {
				t.Fatal(err)
			}
			return sc.scan(text, nil)
		},
		"gram": func(lits []string, text string) []int32 {
			var long []string
			var lids []int32
			for i, l := range lits {
				if len(l) >= gramLen {
					long, lids = append(long, l), append(lids, int32(i))
				}
			}
			if len(long) == 0 {
				return nil
			}
			return newGramScanner(long, lids).scan(text, nil)
		},
		"anchor": func(lits []string, text string) []int32 {
			a := newAnchorScanner(lits, ids(len(lits)))
			if a == nil {
				return nil
			}
			return a.scan(text, nil)
		},
		// The pair filter without vector instructions.
		"anchorScalar": func(lits []string, text string) []int32 {
			a := newAnchorScanner(lits, ids(len(lits)))
			if a == nil {
				return nil
			}
			defer func(v bool) { useAVX2 = v }(useAVX2)
			useAVX2 = false
			return a.scan(text, nil)
		},
	}
	for name, scan := range kinds {
		t.Run(name, func(t *testing.T) {
			checked := 0
			for range 400 {
				var lits []string
				for range 1 + rng.IntN(8) {
					if l := lowerASCII(word(1 + rng.IntN(10))); !slices.Contains(lits, l) {
						lits = append(lits, l)
					}
				}
				text := word(rng.IntN(700))
				// Plant some of the literals, in upper case at times.
				for _, l := range lits {
					if rng.IntN(2) == 0 {
						at := rng.IntN(len(text) + 1)
						if rng.IntN(2) == 0 {
							l = strings.ToUpper(l)
						}
						text = text[:at] + l + text[at:]
					}
				}
				found := make([]bool, len(lits))
				for _, h := range scan(lits, text) {
					found[h] = true
				}
				low := lowerASCII(text)
				for i, l := range lits {
					want := strings.Contains(low, l)
					switch {
					case name == "gram" && len(l) < gramLen:
						continue // not its literals
					case strings.HasPrefix(name, "anchor") && newAnchorScanner(lits, ids(len(lits))) == nil:
						continue // too many searches for these literals
					}
					checked++
					if found[i] != want {
						t.Fatalf("%q in %q: found %v, want %v", l, text, found[i], want)
					}
				}
			}
			if checked < 500 {
				t.Errorf("only %d checks", checked)
			}
		})
	}
}

// TestAnchorPrev checks an anchor pass of many literals, compared only
// where the byte before the anchor may precede it in one (byPrev),
// against strings.Contains: the Mimikatz keywords around IPv6 addresses,
// in both cases, at the start and end of the text.
func TestAnchorPrev(t *testing.T) {
	lits := []string{"::printnightmare", "dpapi::masterkey", "event::clear", "event::drop", "kerberos::golden",
		"kerberos::ptt", "lsadump::", "misc::skeleton", "privilege::debug", "sekurlsa::", "sc::shadowcopies"}
	ids := make([]int32, len(lits))
	for i := range ids {
		ids[i] = int32(i)
	}
	a := newAnchorScanner(lits, ids)
	if a == nil {
		t.Fatal("no anchor scanner")
	}
	indexed := false
	for _, p := range a.passes {
		indexed = indexed || p.byPrev != nil
	}
	if !indexed {
		t.Fatal("no pass indexed by the byte before its anchor: the case proves nothing")
	}
	texts := []string{
		"::printnightmare", "x fe80::1 ::1 SEKURLSA::logonpasswords", "misc::skeleton", "c::shadowcopies sc::shadowcopies",
		"Kerberos::PTT", "lsadump:: dpapi::masterke", "event::clea", "privilege::debug",
	}
	for _, text := range texts {
		for _, pad := range []int{0, 300} {
			text := strings.Repeat("a:b ", pad/4) + text
			found := make([]bool, len(lits))
			for _, h := range a.scan(text, nil) {
				found[h] = true
			}
			for i, l := range lits {
				if want := strings.Contains(lowerASCII(text), l); found[i] != want {
					t.Errorf("%q in %q: found %v, want %v", l, text, found[i], want)
				}
			}
		}
	}
}

// TestPairMasks checks the vector pair filter against the scalar one on
// random anchors, next bytes and texts of every length around the blocks'
// edges.
func TestPairMasks(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 here: the scalar filter is the only one")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		passes := make([]anchorPass, 1+rng.IntN(maxPairBuckets))
		for i := range passes {
			passes[i].b = byte(rng.IntN(256))
			for range 1 + rng.IntN(6) {
				c := byte(rng.IntN(256))
				passes[i].next[c>>6] |= 1 << (c & 63)
			}
		}
		f := newPairFilter(passes)
		text := make([]byte, rng.IntN(300))
		for i := range text {
			// Mostly the anchors and next bytes, so that positions hit.
			if rng.IntN(3) == 0 {
				text[i] = passes[rng.IntN(len(passes))].b
			} else {
				text[i] = byte(rng.IntN(256))
			}
		}
		s := string(text)
		var vec, scalar [16]uint32
		n := f.masks(s, vec[:])
		useAVX2 = false
		m := f.masks(s, scalar[:])
		useAVX2 = true
		if n != m || vec != scalar {
			t.Fatalf("text %q: vector %d blocks %x, scalar %d blocks %x", s, n, vec[:n], m, scalar[:m])
		}
	}
}

// TestGramScannerMany checks a gram scanner of many literals sharing grams
// (the last bytes of paths) against strings.Contains.
func TestGramScannerMany(t *testing.T) {
	var lits []string
	for i := range 3000 {
		lits = append(lits, fmt.Sprintf(`\tool%d.exe`, i), fmt.Sprintf("-opt%dx", i))
	}
	g := newGramScanner(lits, func() []int32 {
		out := make([]int32, len(lits))
		for i := range out {
			out[i] = int32(i)
		}
		return out
	}())
	text := `C:\Tools\TOOL1234.EXE -OPT77X -opt78 \tool29.ex \tool2999.exe`
	var got []string
	for _, h := range g.scan(text, nil) {
		got = append(got, lits[h])
	}
	slices.Sort(got)
	got = slices.Compact(got)
	want := []string{"-opt77x", `\tool1234.exe`, `\tool2999.exe`}
	if !slices.Equal(got, want) {
		t.Errorf("found %q, want %q", got, want)
	}
}

// TestAnchorChoice checks that anchors are the rare bytes of the literals
// and that too many searches give no anchor scanner.
func TestAnchorChoice(t *testing.T) {
	a := newAnchorScanner([]string{"sekurlsa::", "lsadump::", "mimidrv.sys"}, []int32{0, 1, 2})
	if a == nil {
		t.Fatal("no anchor scanner")
	}
	var bs []byte
	for _, p := range a.passes {
		bs = append(bs, p.b)
	}
	slices.Sort(bs)
	if string(bs) != ":Vv" {
		t.Errorf("anchors %q, want %q", bs, ":Vv")
	}
	many := []string{"aaaa", "bbbb", "cccc", "dddd"} // letters: two searches each
	if newAnchorScanner(many, []int32{0, 1, 2, 3}) != nil {
		t.Error("anchor scanner of 8 searches")
	}
}

// TestGlobJump checks glob matching, whose stars jump to the next
// occurrence of the literal after them, against regular expressions.
func TestGlobJump(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "b", ">", "%", `\`, "é"}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 3000 {
		var toks []gtok
		var re strings.Builder
		re.WriteString("(?s)^")
		for range 1 + rng.IntN(5) {
			switch rng.IntN(3) {
			case 0:
				toks = append(toks, gtok{kind: gStar})
				re.WriteString(".*")
			case 1:
				toks = append(toks, gtok{kind: gOne})
				re.WriteString(".")
			default:
				l := word(1 + rng.IntN(3))
				toks = append(toks, gtok{kind: gLit, lit: l})
				re.WriteString(regexp.QuoteMeta(l))
			}
		}
		re.WriteString("$")
		s := word(rng.IntN(12))
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := globMatch(s, toks, false); got != want {
			t.Fatalf("%q against %s: %v, want %v", s, re.String(), got, want)
		}
	}
}

// TestShortNonASCIILiterals checks that a short value with a non-ASCII
// character is a prefilter literal, so that its rule is not evaluated on
// every event.
func TestShortNonASCIILiterals(t *testing.T) {
	r, err := compileRule(t, detectionRule("s: {CommandLine|contains: ['ˣ', '®', '―']}\ncondition: s"))
	if err != nil {
		t.Fatal(err)
	}
	gs, ok := r.det.litGroups()
	if !ok || len(gs) != 1 || len(gs[0]) != 3 {
		t.Fatalf("groups %v, ok %v, want one of three literals", gs, ok)
	}
	set, err := NewSet([]detections.Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  string
		want bool
	}{{"cmd /c whoamiˣ", true}, {"NOTEPAD®.EXE", true}, {"cmd /c whoami", false}, {"a―b", true}} {
		ev := &event.Event{Fields: []event.Field{{Name: "CommandLine", Value: event.StringValue(c.cmd)}}}
		got := false
		_ = set.EvalAll(t.Context(), ev, func(int, detections.Finding) { got = true })
		if got != c.want {
			t.Errorf("%q: match %v, want %v", c.cmd, got, c.want)
		}
	}
}

// TestSetRoutes evaluates rules of several log sources through a Set on
// events of one field shape whose values decide the log source, many times
// over on several goroutines, so that the outcome of the routes is cached
// per shape: the Set must fire what each rule fires.
func TestSetRoutes(t *testing.T) {
	docs := []string{
		`title: proc
logsource: {category: process_creation, product: windows}
detection:
    s: {CommandLine|contains: 'evil.exe'}
    condition: s`,
		`title: security
logsource: {service: security, product: windows}
detection:
    s: {CommandLine|contains: 'evil.exe'}
    condition: s`,
		`title: keyword
logsource: {product: windows}
detection:
    k: ['sekurlsa::']
    condition: k`,
		`title: registry
logsource: {category: registry_set, product: windows}
detection:
    s: {TargetObject|endswith: '\Run\evil'}
    condition: s`,
	}
	var rules []detections.Rule
	for _, d := range docs {
		r, err := compileRule(t, d)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	set, err := NewSet(rules)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(channel string, id float64, cmd, msg, target string) *event.Event {
		return &event.Event{Fields: []event.Field{
			{Name: "Channel", Value: event.StringValue(channel)},
			{Name: "CommandLine", Value: event.StringValue(cmd)},
			{Name: "EventID", Value: event.NumberValue(id)},
			{Name: "Message", Value: event.StringValue(msg)},
			{Name: "TargetObject", Value: event.StringValue(target)},
		}}
	}
	long := strings.Repeat("Process Create: x. ", 20)
	events := []*event.Event{
		mk("Microsoft-Windows-Sysmon/Operational", 1, `C:\evil.exe`, "", ""),
		mk("Security", 4688, `C:\EVIL.EXE /x`, long+"SEKURLSA::logonpasswords", ""),
		mk("Microsoft-Windows-Sysmon/Operational", 13, `C:\evil.exe`, long, `HKLM\Run\evil`),
		mk("Security", 4624, `C:\evil.exe`, "sekurlsa::", ""),
		mk("Microsoft-Windows-Sysmon/Operational", 1, `C:\good.exe`, long, `HKLM\Run\evil`),
		mk("Application", 1, `C:\evil.exe`, long, ""),
		// The same shape and routes, the message a string or not: keyword
		// searches read only the message, or every field (the scan plans
		// of a shape are kept for both).
		mk("Security", 4624, `C:\x.exe sekurlsa::x`, long, ""),
		mk("Security", 4624, `C:\x.exe sekurlsa::x`, long, ""),
	}
	events[len(events)-1].Fields[3].Value = event.NumberValue(7)
	want := make([][]int, len(events))
	for i, ev := range events {
		for ri, r := range rules {
			_ = r.Eval(t.Context(), ev, func(detections.Finding) { want[i] = append(want[i], ri) })
		}
	}
	if len(slices.Concat(want...)) == 0 {
		t.Fatal("no rule fires: the comparison proves nothing")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 200 {
				i := (n*5 + g) % len(events)
				var got []int
				_ = set.EvalAll(t.Context(), events[i], func(ri int, _ detections.Finding) { got = append(got, ri) })
				if !slices.Equal(got, want[i]) {
					t.Errorf("goroutine %d, event %d: set fired %v, rules %v", g, i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	// A scratch whose plans are at their bound scans field by field, with
	// the same findings.
	full := &setScratch{planCells: maxPlanCells, shapes: map[shapeKey]*fieldShape{}}
	for n := range 3 * len(events) {
		i := n % len(events)
		var got []int
		set.evalWith(full, events[i], func(ri int, _ detections.Finding) { got = append(got, ri) })
		if !slices.Equal(got, want[i]) {
			t.Errorf("plans at their bound, event %d: set fired %v, rules %v", i, got, want[i])
		}
	}
	outcomes := 0
	for _, sh := range full.shapes {
		for _, out := range sh.routeOut {
			outcomes++
			if out.planned[0] || out.planned[1] {
				t.Error("a plan made beyond maxPlanCells")
			}
		}
	}
	if outcomes == 0 {
		t.Error("no route outcome cached: the bound was not reached")
	}
	// A Security 4688 event is a process creation too: its command line is
	// scanned for the literals of both rules by one merged automaton.
	merged := 0
	for _, m := range set.merges {
		if m != nil {
			merged++
		}
	}
	if merged == 0 {
		t.Error("no merged automaton: the case does not cover merging")
	}
}

// TestAppendValueKey checks that route keys tell apart values that a
// condition may tell apart.
func TestAppendValueKey(t *testing.T) {
	vals := []event.Value{
		{},
		event.StringValue(""),
		event.StringValue("1"),
		event.NumberValue(1),
		{Kind: event.Number, Num: 1, Str: "1.0"},
		event.BoolValue(true),
		event.BoolValue(false),
		{Kind: event.List, List: []event.Value{event.StringValue("ab")}},
		{Kind: event.List, List: []event.Value{event.StringValue("a"), event.StringValue("b")}},
	}
	seen := map[string]int{}
	for i := range vals {
		k := string(appendValueKey(nil, &vals[i]))
		if j, dup := seen[k]; dup {
			t.Errorf("values %d and %d have the same key", j, i)
		}
		seen[k] = i
	}
	// Two fields' keys concatenated stay apart: ("a", "bc") and ("ab", "c").
	a, b := event.StringValue("a"), event.StringValue("bc")
	c, d := event.StringValue("ab"), event.StringValue("c")
	if string(appendValueKey(appendValueKey(nil, &a), &b)) == string(appendValueKey(appendValueKey(nil, &c), &d)) {
		t.Error("concatenated keys collide")
	}
}

// TestGramStep checks a gram scanner of long literals (hash values), which
// checks one position in step, against strings.Contains: every literal
// placed at every offset of texts of every length up to twice its own,
// with hex digits around it.
func TestGramStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hex := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "0123456789abcdef"[rng.IntN(16)]
		}
		return string(b)
	}
	for _, n := range []int{7, 8, 16} {
		var lits []string
		for range 200 {
			lits = append(lits, hex(n))
		}
		slices.Sort(lits)
		lits = slices.Compact(lits)
		ids := make([]int32, len(lits))
		for i := range ids {
			ids[i] = int32(i)
		}
		g := newGramScanner(lits, ids)
		if want := n - gramLen + 1; g.step != want {
			t.Fatalf("literals of %d bytes: step %d, want %d", n, g.step, want)
		}
		for li := 0; li < len(lits); li += 17 {
			for size := n; size <= 2*n+5; size++ {
				for off := 0; off+n <= size; off++ {
					text := []byte(hex(size))
					copy(text[off:], strings.ToUpper(lits[li]))
					found := map[int32]bool{}
					for _, h := range g.scan(string(text), nil) {
						found[h] = true
					}
					low := strings.ToLower(string(text))
					for i, l := range lits {
						if want := strings.Contains(low, l); found[int32(i)] != want {
							t.Fatalf("%q in %q: found %v, want %v", l, text, found[int32(i)], want)
						}
					}
				}
			}
		}
	}
	// Literals of several lengths: the step is that of the shortest.
	if g := newGramScanner([]string{"abcdefghij", "0123456"}, []int32{0, 1}); g.step != 4 {
		t.Errorf("step %d, want 4", g.step)
	}
	if g := newGramScanner([]string{"abcdefghij", "012345"}, []int32{0, 1}); g.step != 1 {
		t.Errorf("step %d, want 1 (below minGramStep)", g.step)
	}
}
