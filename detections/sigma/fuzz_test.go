package sigma

import (
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// fuzzEvents are evaluated by every rule the fuzzer manages to compile.
var fuzzEvents = []string{
	`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws"},"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami -all","Data":["a",1,null]}}}`,
	`{"EventID":4688,"Channel":"Security","Hostname":"h","NewProcessName":"C:\\x.exe","CommandLine":"x /y","Count":5,"Flag":true,"N":null}`,
	`{"message":"GET /index.php?x=../../etc/passwd","event":{"category":["web"]},"url":{"query":"x=../"},"source":{"ip":"10.1.2.3"}}`,
	`{}`,
}

// FuzzLoad feeds arbitrary bytes to Load and evaluates whatever compiles:
// neither may panic, and every rule must carry an id and a version.
func FuzzLoad(f *testing.F) {
	// Seeds: the corpus in testdata/fuzz/FuzzLoad, the invalid rules of
	// testdata, and a few real SigmaHQ rules when the dataset is present.
	seeds, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yml"))
	if root := os.Getenv("MANGROVE_DATASETS"); root != "" || dirExists(filepath.Join("..", "..", "..", "shared", "datasets", "sigma")) {
		if root == "" {
			root = filepath.Join("..", "..", "..", "shared", "datasets")
		}
		for _, rel := range []string{
			"rules/windows/process_creation/proc_creation_win_whoami_all_execution.yml",
			"rules/windows/process_creation/proc_creation_win_lolbin_unregmp2.yml",
			"rules/network/cisco/bgp/cisco_bgp_md5_auth_failed.yml",
			"rules/windows/process_creation/proc_creation_win_powershell_base64_invoke.yml",
			"rules/windows/builtin/security/win_security_explicit_credential_local_logon.yml",
			"rules/network/zeek/zeek_rdp_public_listener.yml",
			"rules/web/webserver_generic/web_path_traversal_exploitation_attempt.yml",
		} {
			seeds = append(seeds, filepath.Join(root, "sigma", rel))
		}
	}
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	events := make([]*event.Event, len(fuzzEvents))
	for i, js := range fuzzEvents {
		events[i] = jsonEvent(f, js)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := Load("fuzz.yml", data)
		for _, r := range rules {
			m := r.Meta()
			if m.ID == "" || m.Version == "" || m.Kind != "sigma" {
				t.Fatalf("rule without identity: %+v", m)
			}
			for _, ev := range events {
				r.(*Rule).Match(ev)
			}
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("empty error text")
		}
	})
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// FuzzParsePipeline checks that no pipeline text makes the parser panic.
func FuzzParsePipeline(f *testing.F) {
	f.Add(defaultPipelineYAML)
	f.Add([]byte("templates: ['{name}']\nfields: {A: ['{B}', c.d]}\nlogsources:\n  - logsource: {product: p}\n    conditions: [{A: 1}, {B|contains: x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePipeline(data)
		if err == nil {
			p.candidates(LogSource{Product: "p"}, "A")
			p.condition(LogSource{Product: "p"})
		}
	})
}

// FuzzGlob checks the wildcard matcher against Go's regexp, exact and with
// case folding.
// FuzzRegexWindow checks that a regular expression's byte window
// (reShape.win) is in every text the expression matches.
func FuzzRegexWindow(f *testing.F) {
	f.Add(`\\[a-z0-9]{1,32}\.[a-z0-9]{1,6}\.[ "']`, `c:\\a.b. `)
	f.Add(`\s[a-f0-9]{4}\s`, " abcd ")
	f.Add(`(?i)ks{2}abc`, "\u212a\u017fsABC")
	f.Add(`x\x{fffd}yz`, "x\xffyz")
	f.Fuzz(func(t *testing.T, expr, text string) {
		if len(expr) > 64 || len(text) > 512 {
			return
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		sh := shapeOf(re)
		if sh.win != nil && re.MatchString(text) && !sh.win.in(text) {
			t.Fatalf("%q matches %q, but its window is not in it", expr, text)
		}
	})
}

// FuzzRegexLiterals checks that the literal groups of a regular
// expression (regexLiterals) are necessary: in every text it matches, one
// literal of each group occurs, ASCII case ignored.
func FuzzRegexLiterals(f *testing.F) {
	f.Add(`net\s+user\s+`, "NET  USER x")
	f.Add(`a[bc]d|e[ \t]+f`, "xe \t fy")
	f.Add(`(?i)Invoke-(Web|Rest)Method\s+x`, "invoke-restmethod\tX")
	f.Add(`-k\s\w{1,64}(?:\s?(?:-p|-s))?`, "svchost.exe -k netsvcs -p")
	f.Fuzz(func(t *testing.T, expr, text string) {
		if len(expr) > 64 || len(text) > 512 {
			return
		}
		re, err := regexp.Compile(expr)
		if err != nil || !re.MatchString(text) {
			return
		}
		r, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			return
		}
		low := lowerASCII(text)
		for _, g := range regexLiterals(r.Simplify()) {
			if !slices.ContainsFunc(g, func(l string) bool { return strings.Contains(low, l) }) {
				t.Fatalf("%q matches %q, but no literal of %q occurs in it", expr, text, g)
			}
		}
	})
}

// FuzzAffixIndex checks the exact, prefix and suffix indexes (affixIndex)
// against comparing each value: values are the fields of vals split at
// '|' (ASCII lower-cased, as compiled patterns are), text any string.
func FuzzAffixIndex(f *testing.F) {
	f.Add(`\\svchost.exe|\\lsass.exe|\\dwm.exe|a|\\cmd.exe`, `C:\\Windows\\dwm.exe`)
	f.Add(`c:\\windows\\|c:\\program files\\|d:|x`, "D:\\x")
	f.Add(`abc|abd|ab|abcdef`, "abd")
	f.Fuzz(func(t *testing.T, vals, text string) {
		if len(vals) > 512 || len(text) > 256 {
			return
		}
		var lits []string
		for _, v := range strings.Split(vals, "|") {
			if v = lowerASCII(v); v != "" {
				lits = append(lits, v)
			}
		}
		if len(lits) == 0 {
			return
		}
		low := lowerASCII(text)
		for _, sh := range []shape{shExact, shPrefix, shSuffix} {
			want := false
			for _, l := range lits {
				switch sh {
				case shExact:
					want = want || low == l
				case shPrefix:
					want = want || strings.HasPrefix(low, l)
				case shSuffix:
					want = want || strings.HasSuffix(low, l)
				}
			}
			if got := newAffixIndex(sh, lits).any(low); got != want {
				t.Fatalf("shape %d, values %q, text %q: %v, want %v", sh, lits, low, got, want)
			}
		}
	})
}

// FuzzExactTable checks the exact-value table against a map from the
// ASCII lower-cased value.
func FuzzExactTable(f *testing.F) {
	f.Add("security|system|microsoft-windows-sysmon/operational|4688|1", "SYSTEM")
	f.Add("abcdefgh|abcdefghi|ABCDEFGH|\xc3\x89t\xc3\xa9", "AbcdefgH")
	f.Add("x||y", "")
	f.Fuzz(func(t *testing.T, keys, text string) {
		if len(keys) > 1024 || len(text) > 256 {
			return
		}
		m := map[string][]int32{}
		for i, k := range strings.Split(keys, "|") {
			k = lowerASCII(k)
			m[k] = append(m[k], int32(i))
		}
		got, want := newExactTable(m).get(text), m[lowerASCII(text)]
		if !slices.Equal(got, want) {
			t.Fatalf("keys %q, text %q: %v, want %v", keys, text, got, want)
		}
	})
}

func FuzzGlob(f *testing.F) {
	f.Add("a*b?c", "aXXbYc")
	f.Add("**", "")
	f.Add("*a*a*a", "aaaa")
	f.Add("?é*", "éé")
	f.Add("*K*", "\u212a") // Kelvin sign folds to k
	f.Fuzz(func(t *testing.T, pat, text string) {
		// Event text is valid UTF-8 (the decoder checks it); so are rules.
		if len(pat) > 64 || len(text) > 256 || !utf8.ValidString(pat) || !utf8.ValidString(text) {
			return
		}
		s := parseString(strings.ReplaceAll(pat, `\`, ""), false)
		var re strings.Builder
		re.WriteString(`(?s)^`)
		var toks []gtok
		for _, p := range s {
			switch p.kind {
			case partStar:
				re.WriteString(".*")
				toks = append(toks, gtok{kind: gStar})
			case partOne:
				re.WriteString(".")
				toks = append(toks, gtok{kind: gOne})
			default:
				re.WriteString(regexp.QuoteMeta(p.text))
				toks = append(toks, gtok{kind: gLit, lit: p.text})
			}
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String()).MatchString(text)
		if got := globMatch(text, toks, false); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, regexp says %v", text, pat, got, want)
		}
		// Case folding: Unicode simple folding, as regexp's (?i).
		want = regexp.MustCompile("(?i)" + re.String()).MatchString(text)
		if got := globMatch(text, toks, true); got != want {
			t.Fatalf("globMatch(%q, %q, fold) = %v, regexp (?i) says %v", text, pat, got, want)
		}
	})
}

// FuzzFoldCompare checks the ASCII case folding done eight bytes at a
// time (state.lowerASCII, equalLowerASCII) and the affix lookups that
// compare the text without lowering it against the plain definitions.
func FuzzFoldCompare(f *testing.F) {
	f.Add("C:\\Windows\\System32\\SVCHOST.EXE", "\\svchost.exe")
	f.Add("abcdefghABCDEFGH@[`{", "GH@[")
	f.Add("\xc3\x84BC\x80zZ", "bc")
	f.Fuzz(func(t *testing.T, text, lit string) {
		var st state
		low := lowerASCII(text)
		if got := st.lowerASCII(text); got != low {
			t.Fatalf("state.lowerASCII(%q) = %q, want %q", text, got, low)
		}
		if got := equalLowerASCII(text, low); !got {
			t.Fatalf("equalLowerASCII(%q, %q) = false", text, low)
		}
		if len(lit) == len(text) {
			if got, want := equalLowerASCII(text, lit), low == lit; got != want {
				t.Fatalf("equalLowerASCII(%q, %q) = %v, want %v", text, lit, got, want)
			}
		}
		lit = lowerASCII(lit)
		if lit == "" {
			return
		}
		lits := []string{lit, lit + "x", "y" + lit}
		for _, sh := range []shape{shExact, shPrefix, shSuffix} {
			x := newAffixIndex(sh, lits)
			h := hay{text: text}
			if got, want := x.anyHay(&st, &h), x.any(low); got != want {
				t.Fatalf("shape %d, %q in %q: anyHay %v, any %v", sh, lits, text, got, want)
			}
			p := pattern{fold: foldASCII, shape: sh, lit: lit}
			h = hay{text: text}
			var want bool
			switch sh {
			case shExact:
				want = low == lit
			case shPrefix:
				want = strings.HasPrefix(low, lit)
			default:
				want = strings.HasSuffix(low, lit)
			}
			if got := p.match(&st, &h); got != want {
				t.Fatalf("pattern %d %q on %q: %v, want %v", sh, lit, text, got, want)
			}
		}
	})
}
