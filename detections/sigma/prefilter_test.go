package sigma

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

// TestSetEdgeCases checks that a Set fires exactly the rules that fire one
// by one, on rules and events chosen for the prefilter's edge cases: numbers
// written as strings and as numbers, exact values, lists, keyword searches
// with and without a message field, the dataset, cased values, short rare
// literals, long repeats in regular expressions.
func TestSetEdgeCases(t *testing.T) {
	dets := []string{
		0:  "s: {EventID: 4720}\ncondition: s",
		1:  "s: {EventID: [4720, 4722], TargetUserName|endswith: '$'}\ncondition: s",
		2:  "s: {Status: '0xC000006D'}\ncondition: s",
		3:  "s: {Type: 'A'}\ncondition: s",
		4:  "s: {Type: ''}\ncondition: s",
		5:  "k: ['mimikatz', 'sekurlsa::']\ncondition: k",
		6:  "k: ['mimikatz']\nf: {EventID: 15}\ncondition: k and not f",
		7:  "s: {CommandLine|re: '\\w+`\\w+'}\ncondition: s",
		8:  "s: {CommandLine|re: '.{20,}'}\ncondition: s",
		9:  "s: {CommandLine|re: '(?s).{20,}'}\ncondition: s",
		10: "s: {CommandLine|cased|contains: 'DownloadString'}\ncondition: s",
		11: "s: {Tags|contains|all: ['alpha', 'beta']}\ncondition: s",
		12: "s: {event.dataset: windows.security}\ncondition: s",
		13: "s: {Enabled: true}\ncondition: s",
		14: "s: {Image|endswith: '\\cmd.exe'}\nt: {CommandLine|contains: ' /c '}\ncondition: s and t",
		15: "s: {Image|endswith: '\\cmd.exe'}\nt: {CommandLine|contains: ' /c '}\ncondition: s or t",
		16: "s: {Count|gt: 3}\ncondition: s",
		17: "s: {Name|contains: 'Äpfel'}\ncondition: s",
		18: "s: {CommandLine|re: '(?i)kerberos'}\ncondition: s",
		19: "s: {abxde|contains: evil}\ncondition: s",
	}
	events := []string{
		`{"EventID": 4720, "TargetUserName": "bob$"}`,
		`{"EventID": "4720", "TargetUserName": "BOB$"}`,
		`{"EventID": 4722.0, "TargetUserName": "x$"}`,
		`{"EventID": "04720"}`,
		`{"Status": "0XC000006D", "Type": "a"}`,
		`{"Type": "", "Enabled": true}`,
		`{"Enabled": "TRUE", "Count": 4}`,
		`{"Count": "2"}`,
		`{"message": "sekurlsa::logonpasswords", "CommandLine": "mimikatz.exe"}`,
		`{"CommandLine": "run MIMIKATZ now", "EventID": 1}`,
		`{"CommandLine": "run mimikatz now", "EventID": 15}`,
		`{"CommandLine": "IN` + "`" + `V` + "`" + `oke-Expression"}`,
		`{"CommandLine": "short"}`,
		`{"CommandLine": "0123456789\n0123456789\n0123"}`,
		`{"CommandLine": "01234567890123456789"}`,
		`{"CommandLine": "(New-Object Net.WebClient).DownloadString('x')"}`,
		`{"CommandLine": "(New-Object Net.WebClient).downloadstring('x')"}`,
		`{"Tags": ["Alpha", "gamma", "BETA"]}`,
		`{"Tags": ["alpha", "gamma"]}`,
		`{"event.dataset": "windows.security"}`,
		`{"Image": "C:\\Windows\\System32\\CMD.EXE", "CommandLine": "cmd /c dir"}`,
		`{"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /k dir"}`,
		`{"Image": "C:\\x.exe", "CommandLine": "x /c y"}`,
		`{"Name": "ÄPFEL und Birnen"}`,
		`{"Name": "äpfel"}`,
		`{"CommandLine": "\u212Aerberos (Kelvin sign)"}`,
		// The same cheap shape fingerprint (length, first, middle and last
		// byte of each name), different names: the cache compares names.
		`{"abxye": "evil"}`,
		`{"abxye": "evil"}`,
		`{"abxde": "evil"}`,
		`{"abxye": "evil"}`,
		`{"abxde": "evil"}`,
	}
	var rules []detections.Rule
	for i, d := range dets {
		r, err := compileRule(t, detectionRule(d))
		if err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		rules = append(rules, r)
	}
	set, err := NewSet(rules)
	if err != nil {
		t.Fatal(err)
	}
	// A smaller Set evaluated in between shares the pooled scratch.
	small, err := NewSet(rules[:3])
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	fired := map[int]bool{}
	for ei, js := range events {
		ev := jsonEvent(t, js)
		if strings.Contains(js, "windows.security") {
			ev.Dataset = "windows.security"
		}
		var want, got []int
		for ri, r := range rules {
			_ = r.Eval(ctx, ev, func(detections.Finding) { want = append(want, ri) })
		}
		var gotSmall []int
		_ = small.EvalAll(ctx, ev, func(ri int, _ detections.Finding) { gotSmall = append(gotSmall, ri) })
		wantSmall := slices.DeleteFunc(slices.Clone(want), func(ri int) bool { return ri >= 3 })
		if !slices.Equal(gotSmall, wantSmall) {
			t.Errorf("event %d %s: small set fired %v, rules %v", ei, js, gotSmall, wantSmall)
		}
		_ = set.EvalAll(ctx, ev, func(ri int, _ detections.Finding) { got = append(got, ri) })
		if !slices.Equal(got, want) {
			t.Errorf("event %d %s: set fired %v, rules %v", ei, js, got, want)
		}
		for _, ri := range want {
			fired[ri] = true
		}
	}
	for ri := range dets {
		if !fired[ri] {
			t.Errorf("rule %d (%q) fired on no event: the case proves nothing", ri, dets[ri])
		}
	}
}

// TestSetShapeIndex: for an event of a cached field shape, candidates are
// found through the shape's index of names; it gives what the binary
// search gives (the first of equal names), and is not built for names out
// of order, which the search cannot find reliably.
func TestSetShapeIndex(t *testing.T) {
	dets := []string{
		"s: {Image|endswith: '\\cmd.exe'}\ncondition: s",
		"s: {Image|fieldref: ParentImage}\ncondition: s",
		"s: {CommandLine|contains: evil}\nf: {Image: null}\ncondition: s and not f",
		"s: {ParentImage|exists: true}\ncondition: s",
	}
	var rules []detections.Rule
	for i, d := range dets {
		r, err := compileRule(t, detectionRule(d))
		if err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		rules = append(rules, r)
	}
	set, err := NewSet(rules)
	if err != nil {
		t.Fatal(err)
	}
	f := func(name, v string) event.Field { return event.Field{Name: name, Value: event.StringValue(v)} }
	events := []event.Event{
		{Fields: []event.Field{f("CommandLine", "evil x"), f("Image", `C:\cmd.exe`), f("ParentImage", `C:\CMD.EXE`)}},
		{Fields: []event.Field{f("CommandLine", "evil x"), f("Image", `C:.exe`), f("Image", `C:\cmd.exe`)}},
		{Fields: []event.Field{f("CommandLine", "evil x"), f("Image", `C:\cmd.exe`), f("Image", `C:.exe`), f("ParentImage", `C:.exe`)}},
		{Fields: []event.Field{f("Event.EventData.Image", `C:\cmd.exe`), f("Event.EventData.ParentImage", `c:\cmd.exe`), f("winlog.event_data.CommandLine", "EVIL")}},
		// Out of order: the rules alone do not see ParentImage.
		{Fields: []event.Field{f("ParentImage", `C:\cmd.exe`), f("Image", `C:\cmd.exe`), f("CommandLine", "evil")}},
		{Fields: []event.Field{f("Image", `C:\cmd.exe`), f("CommandLine", "evil"), f("ParentImage", `C:\cmd.exe`)}},
	}
	ctx := t.Context()
	fired := 0
	for ei := range events {
		ev := &events[ei]
		var want []int
		for ri, r := range rules {
			_ = r.Eval(ctx, ev, func(detections.Finding) { want = append(want, ri) })
		}
		fired += len(want)
		for rep := range 3 { // the shape is cached from the second time on
			var got []int
			_ = set.EvalAll(ctx, ev, func(ri int, _ detections.Finding) { got = append(got, ri) })
			if !slices.Equal(got, want) {
				t.Errorf("event %d, time %d: set fired %v, rules %v", ei, rep, got, want)
			}
		}
	}
	if fired == 0 {
		t.Error("no rule fired: the case proves nothing")
	}
	sh := &fieldShape{names: []string{"CommandLine", "Image", "Image", "ParentImage"}}
	set.index(sh)
	id, ok := lookupCandName("Image")
	if !ok || sh.idx == nil || sh.idx[id] != 1 {
		t.Errorf("index of sorted names: Image at %v, want 1", sh.idx)
	}
	if id, _ := lookupCandName("NewProcessName"); sh.idx[id] != candAbsent {
		t.Errorf("index: absent NewProcessName at %d", sh.idx[id])
	}
	sh = &fieldShape{names: []string{"ParentImage", "Image"}}
	if set.index(sh); sh.idx != nil {
		t.Error("index built for names out of order")
	}
}

// TestShapeByAddress checks the shape cache by name addresses: events
// whose names are other copies of a cached shape's names (interned again,
// or not interned) find that shape, then by their own addresses, and
// names of other bytes never do.
func TestShapeByAddress(t *testing.T) {
	r, err := compileRule(t, detectionRule("s: {Image|endswith: '\\cmd.exe'}\ncondition: s"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet([]detections.Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	fields := func(names ...string) []event.Field {
		var fs []event.Field
		for _, n := range names {
			fs = append(fs, event.Field{Name: n, Value: event.StringValue(`C:\cmd.exe`)})
		}
		return fs
	}
	sc := &setScratch{}
	a := fields("CommandLine", "Image")
	set.shapeOf(sc, a)
	cached := set.shapeOf(sc, a) // seen twice: cached
	if cached == &sc.one {
		t.Fatal("shape not cached the second time")
	}
	// The same names at other addresses.
	b := fields(strings.Clone("CommandLine"), strings.Clone("Image"))
	if got := set.shapeOf(sc, b); got != cached {
		t.Fatal("copies of the names: another shape")
	}
	if e := sc.byAddr[shapeKey{set, addrFingerprint(b)}]; e == nil || !sameNames(e.names, b) {
		t.Fatal("copies of the names: not cached by their addresses")
	}
	if got := set.shapeOf(sc, b); got != cached {
		t.Fatal("copies of the names, by address: another shape")
	}
	// Other bytes, same lengths.
	c := fields("CommandLinf", "Imagf")
	if got := set.shapeOf(sc, c); got == cached || got.fields[1] != nil {
		t.Fatalf("other names found the shape of %v", cached.names)
	}
}

func TestRegexShape(t *testing.T) {
	exprs := []string{`.{5,}`, `(?s).{5,}`, `(.{5,})`, `(?i)abc.{2,}`, `a{3}b|cd`, `x*`, `[ab]{4,}`, `.{0,}`}
	texts := []string{"", "abcd", "abcde", "ab\ncde", "ABCxx", "aaab", "cd", "a\xffbcd", "ééééé", "abab"}
	for _, e := range exprs {
		re := regexp.MustCompile(e)
		m := matcher{kind: mRegex, re: re, rs: shapeOf(re)}
		for _, s := range texts {
			h := makeHay(&event.Value{Kind: event.String, Str: s})
			if got, want := m.match(nil, &h), re.MatchString(s); got != want {
				t.Errorf("%q on %q: %v, regexp says %v (shape %+v)", e, s, got, want, m.rs)
			}
		}
	}
	if sh := shapeOf(regexp.MustCompile(`.{1000,}`)); sh.runRunes != 1000 || sh.minLen != 1000 {
		t.Errorf(".{1000,}: shape %+v", sh)
	}
}

// TestRegexWindow checks the byte windows of SigmaHQ-like expressions:
// which have one, how long, and that a text without it does not match.
func TestRegexWindow(t *testing.T) {
	tests := []struct {
		expr  string
		width int // 0: no window
		texts []string
	}{
		// Raspberry Robin: the last repeat's final byte, a dot, a quote.
		{`\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}`, 3,
			[]string{`C:\Windows\cmd.exe /c`, `x \ab.cd.ef.gh" y`, `\a.b. `, `\a.b.`, `a.b. `}},
		// SNAKE: 64 hex digits between white space, then 16.
		{`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`, 82,
			[]string{"jpsetup.exe " + strings.Repeat("a1", 32) + " 0123456789abcdef", "jpsetup.exe " + strings.Repeat("a1", 31) + " 0123456789abcdef"}},
		// k folds to the Kelvin sign, so does (?i)[a-z]: the window stops
		// before them.
		{`(?i)invoke-[a-z]{3}`, 4, []string{"INVOKE-Exp", "invoke-ex", "invo\u212ae-abc", "invo"}},
		{`(?i)mimikatz`, 4, []string{"MIMIKATZ", "mimi\u212aatz", "mim"}},
		{`(?i)cmd\.exe`, 7, []string{"CMD.EXE", "cmd.ex"}},
		{`a.b`, 0, nil},
		{`(abc|def)ghi`, 3, []string{"abcghi", "defghi", "ghi"}},
		{`^x{4,}yyz$`, 7, []string{"xxxxyyz", "xxxyyz", "xxxxxxyyz"}},
		{`\bpowershell\b.*-enc`, 10, []string{"powershell -enc", "xpowershell"}},
		{`é{3}`, 0, []string{"ééé", "éé"}},
		{`[é]abc`, 5, []string{"éabc", "Éabc"}},
		{`(?i)[é]`, 0, nil},
	}
	for _, tt := range tests {
		re := regexp.MustCompile(tt.expr)
		sh := shapeOf(re)
		switch {
		case tt.width == 0 && sh.win != nil:
			t.Errorf("%s: window of %d, want none", tt.expr, len(sh.win.sets))
		case tt.width != 0 && (sh.win == nil || len(sh.win.sets) != tt.width):
			t.Errorf("%s: window %+v, want %d bytes", tt.expr, sh.win, tt.width)
		}
		m := matcher{kind: mRegex, re: re, rs: sh}
		for _, s := range tt.texts {
			h := makeHay(&event.Value{Kind: event.String, Str: s})
			if got, want := m.match(nil, &h), re.MatchString(s); got != want {
				t.Errorf("%s on %q: %v, regexp says %v", tt.expr, s, got, want)
			}
		}
	}
}

// TestAffixIndex checks tests with many exact, prefix and suffix values,
// which are looked up by hash (affixIndex), against their matchers one by
// one.
func TestAffixIndex(t *testing.T) {
	bins := []string{`\\svchost.exe`, `\\lsass.exe`, `\\dwm.exe`, `\\wsl.exe`, `\\RuntimeBroker.exe`, `\\cmd.exe`, `\\powershell.exe`, `\\pwsh.exe`, `\\x.exe`}
	dirs := []string{`C:\\Windows\\System32\\`, `C:\\Windows\\SysWOW64\\`, `C:\\$WINDOWS.~BT\\`, `C:\\Windows\\`, `C:\\Program Files\\`, `D:\\`, `C:\\Users\\Public\\`, `C:\\ProgramData\\`}
	names := []string{`cmd.exe`, `PowerShell.EXE`, `pwsh.dll`, `wscript.exe`, `cscript.exe`, `mshta.exe`, `rundll32.exe`, `regsvr32.exe`, `a`}
	texts := []string{"", "a", "A", "x", "c", "p", `C:\Windows\System32\svchost.exe`, `C:\WINDOWS\SYSTEM32\LSASS.EXE`, `c:\windows\dwm.exe`,
		`C:\Windows\wsl.exe.bak`, `\x.exe`, `x.exe`, `powershell.exe`, `POWERSHELL.EXE`, `pwsh.dl`, `pwsh.dll`, `D:`, `D:\`, `C:\Windows`,
		`C:\ProgramData\x\cmd.exe`, `regsvr32.exe `, `é\cmd.exe`, `C:\$windows.~bt\setup.exe`}
	mk := func(field, mod string, vals []string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "s: {%s%s: [", field, mod)
		for i, v := range vals {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "'%s'", v)
		}
		b.WriteString("]}\ncondition: s")
		return b.String()
	}
	for _, det := range []string{
		mk("Image", "|endswith", bins),
		mk("Image", "|startswith", dirs),
		mk("OriginalFileName", "", names),
		// Mixed with matchers that stay (a wildcard, a cased value).
		mk("Image", "|endswith", append(slices.Clone(bins), `\\*32.exe`)),
		mk("OriginalFileName", "", append(slices.Clone(names), "cmd*", "")),
	} {
		r, err := compileRule(t, detectionRule(det))
		if err != nil {
			t.Fatal(err)
		}
		tt := r.det.test
		if len(tt.aidx) == 0 {
			t.Fatalf("%s: no affix index", det)
		}
		for _, s := range texts {
			st := getFreshState(&event.Event{})
			h := makeHay(&event.Value{Kind: event.String, Str: s})
			got := tt.matchHay(st, &h)
			want := false
			for i := range tt.matchers {
				h := makeHay(&event.Value{Kind: event.String, Str: s})
				want = want || tt.matchers[i].match(st, &h)
			}
			putState(st)
			if got != want {
				t.Errorf("%s on %q: %v, the matchers say %v", det, s, got, want)
			}
		}
	}
}

func TestContainsIndex(t *testing.T) {
	lits := []string{"invoke-expression", "iex", "downloadstring", "-enc", "ab", "x", "net.webclient", "bitsadmin", "certutil"}
	x := newContainsIndex(lits)
	texts := []string{"", "a", "ab", "powershell -nop iex(x)", "powershell -nop", "y", "certutil -urlcache",
		"(new-object net.webclient).downloadstring('u')", "cmd /c echo", "-en", "zzzzzzzzzzzzbitsadmi", "zzbitsadmin"}
	for _, s := range texts {
		want := slices.ContainsFunc(lits, func(l string) bool { return strings.Contains(s, l) })
		if got := x.any(s); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
	// A test with many contains values uses the index and gives the same
	// verdicts as its matchers one by one.
	r, err := compileRule(t, detectionRule("s: {CommandLine|contains: [Invoke-Expression, iex, DownloadString, '-enc', Net.WebClient, bitsadmin, certutil, ab, ' /c ']}\ncondition: s"))
	if err != nil {
		t.Fatal(err)
	}
	if r.det.test.cidx == nil {
		t.Fatal("test not indexed")
	}
	for _, s := range texts {
		ev := jsonEvent(t, `{"CommandLine": `+strconv.Quote(strings.ToUpper(s))+`}`)
		want := false
		st := getState(ev)
		for _, m := range r.det.test.matchers {
			h := makeHay(&event.Value{Kind: event.String, Str: strings.ToUpper(s)})
			want = want || m.match(st, &h)
		}
		putState(st)
		if got := r.Match(ev); got != want {
			t.Errorf("%q: rule %v, matchers %v", s, got, want)
		}
	}
}

// TestCasedContainsIndex: a test with many case-sensitive contains values
// (cased, base64 forms) looks them up in one index, beside the
// case-insensitive ones, with the verdicts of its matchers one by one.
func TestCasedContainsIndex(t *testing.T) {
	r, err := compileRule(t, detectionRule(`s:
  - CommandLine|contains|cased: [SQBFAFgA, aQBlAHgA, SUVY, lFW, JAB, Net.WebClient, DownloadString, iEx, ab]
  - CommandLine|base64offset|contains: [DisableRealtimeMonitoring, Set-MpPreference, Add-MpPreference]
  - CommandLine|contains: [' /c ', 'X']
condition: s`))
	if err != nil {
		t.Fatal(err)
	}
	var tests []*test
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == nTest {
			tests = append(tests, n.test)
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(r.det)
	indexed := 0
	for _, tt := range tests {
		if tt.ccidx != nil {
			indexed++
		}
	}
	if indexed != 2 {
		t.Fatalf("%d tests with a cased index, want 2", indexed)
	}
	texts := []string{"", "a", "ab", "AB", "powershell -enc SQBFAFgA", "powershell -enc sqbfafga", "iex", "iEx(x)",
		"(New-Object Net.WebClient).DownloadString('u')", "(new-object net.webclient)", "lfw", "JABzAD0", "jab",
		"cmd /c echo", "U2V0LU1wUHJlZmVyZW5jZ", "RGlzYWJsZVJlYWx0aW1lTW9uaXRvcmluZ", "x", "zzzzSUVY", "SUV"}
	for _, s := range texts {
		ev := jsonEvent(t, `{"CommandLine": `+strconv.Quote(s)+`}`)
		want := false
		st := getState(ev)
		for _, tt := range tests {
			for _, m := range tt.matchers {
				h := makeHay(&event.Value{Kind: event.String, Str: s})
				want = want || m.match(st, &h)
			}
		}
		putState(st)
		if got := r.Match(ev); got != want {
			t.Errorf("%q: rule %v, matchers %v", s, got, want)
		}
	}
}

// TestSetConcurrent evaluates one Set from several goroutines on events of
// different field-name shapes (each goroutine's pooled scratch caches them)
// and checks every result against the rules evaluated alone; with -race it
// also checks that nothing is shared.
func TestSetConcurrent(t *testing.T) {
	dets := []string{
		"s: {Image|endswith: '\\cmd.exe'}\nt: {CommandLine|contains: ' /c '}\ncondition: s and t",
		"k: ['mimikatz']\ncondition: k",
		"s: {abxde|contains: evil}\ncondition: s",
		"s: {EventID: 4720}\ncondition: s",
	}
	events := []string{
		`{"Image": "C:\\Windows\\cmd.exe", "CommandLine": "cmd /c dir"}`,
		`{"Image": "C:\\Windows\\cmd.exe", "CommandLine": "cmd /k dir", "EventID": 4720}`,
		`{"message": "MIMIKATZ here", "CommandLine": "x"}`,
		`{"CommandLine": "run mimikatz"}`,
		`{"abxye": "evil"}`,
		`{"abxde": "evil"}`,
		`{"EventID": "4720", "abxde": "good"}`,
	}
	var rules []detections.Rule
	for i, d := range dets {
		r, err := compileRule(t, detectionRule(d))
		if err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		rules = append(rules, r)
	}
	set, err := NewSet(rules)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	evs := make([]*event.Event, len(events))
	want := make([][]int, len(events))
	for i, js := range events {
		evs[i] = jsonEvent(t, js)
		for ri, r := range rules {
			_ = r.Eval(ctx, evs[i], func(detections.Finding) { want[i] = append(want[i], ri) })
		}
	}
	if len(slices.Concat(want...)) == 0 {
		t.Fatal("no rule fires: the comparison proves nothing")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 300 {
				i := (n*7 + g) % len(evs)
				var got []int
				_ = set.EvalAll(ctx, evs[i], func(ri int, _ detections.Finding) { got = append(got, ri) })
				if !slices.Equal(got, want[i]) {
					t.Errorf("goroutine %d, event %d: set fired %v, rules %v", g, i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}
