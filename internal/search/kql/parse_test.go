package kql

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/internal/search"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Node
		str  string // canonical form; "" when equal to in
	}{
		{"", MatchAll{}, "*"},
		{"   ", MatchAll{}, "*"},
		{"*", MatchAll{}, ""},
		{"*:*", MatchAll{}, "*"},
		{`source.ip:10.0.0.5 AND event.action:"logon-failed"`,
			And{[]Node{Term{"source.ip", "10.0.0.5"}, Term{"event.action", "logon-failed"}}},
			`source.ip:10.0.0.5 AND event.action:logon-failed`},
		{`field:value`, Term{"field", "value"}, ""},
		{`field : value`, Term{"field", "value"}, "field:value"},
		{`field:"a phrase"`, Term{"field", "a phrase"}, ""},
		{`field:(a or b or "c d")`,
			Or{[]Node{Term{"field", "a"}, Term{"field", "b"}, Term{"field", "c d"}}},
			`field:a OR field:b OR field:"c d"`},
		{`field:(a and not (b or c))`,
			And{[]Node{Term{"field", "a"}, Not{Or{[]Node{Term{"field", "b"}, Term{"field", "c"}}}}}},
			`field:a AND NOT (field:b OR field:c)`},
		{`process.name:power*`, Wildcard{"process.name", "power*"}, ""},
		{`process.name:p?wer\*`, Wildcard{"process.name", `p?wer\*`}, ""},
		{`process.name:power\*`, Term{"process.name", "power*"}, `process.name:"power*"`},
		{`process.name:"power*"`, Term{"process.name", "power*"}, ""},
		{`user.name:*`, Exists{"user.name"}, ""},
		{`bytes > 100`, Range{"bytes", Gt, "100"}, ""},
		{`bytes>=100`, Range{"bytes", Gte, "100"}, "bytes >= 100"},
		{`bytes < 1e6`, Range{"bytes", Lt, "1e6"}, ""},
		{`bytes <= -7`, Range{"bytes", Lte, "-7"}, ""},
		{`bytes:>100`, Range{"bytes", Gt, "100"}, "bytes > 100"},
		{`bytes:[100 TO 200]`, And{[]Node{Range{"bytes", Gte, "100"}, Range{"bytes", Lte, "200"}}},
			"bytes >= 100 AND bytes <= 200"},
		{`bytes:{100 to *]`, Range{"bytes", Gt, "100"}, "bytes > 100"},
		{`bytes:[* TO *]`, Exists{"bytes"}, "bytes:*"},
		{`@timestamp >= 2026-11-25T10:00:00Z`, Range{"@timestamp", Gte, "2026-11-25T10:00:00Z"}, ""},
		{`@timestamp < "2026-11-25"`, Range{"@timestamp", Lt, "2026-11-25"}, "@timestamp < 2026-11-25"},
		{`not a`, Not{Text{"a", false}}, "NOT a"},
		{`NOT a`, Not{Text{"a", false}}, ""},
		{`-a`, Not{Text{"a", false}}, "NOT a"},
		{`+a`, Text{"a", false}, "a"},
		{`--a`, Not{Not{Text{"a", false}}}, "NOT NOT a"},
		{`a b`, And{[]Node{Text{"a", false}, Text{"b", false}}}, "a AND b"},
		{`a and b AND c && d`, And{[]Node{Text{"a", false}, Text{"b", false}, Text{"c", false}, Text{"d", false}}},
			"a AND b AND c AND d"},
		{`a or b || c`, Or{[]Node{Text{"a", false}, Text{"b", false}, Text{"c", false}}}, "a OR b OR c"},
		{`a or b c`, Or{[]Node{Text{"a", false}, And{[]Node{Text{"b", false}, Text{"c", false}}}}},
			"a OR (b AND c)"},
		{`(a or b) and c`, And{[]Node{Or{[]Node{Text{"a", false}, Text{"b", false}}}, Text{"c", false}}},
			"(a OR b) AND c"},
		{`((a))`, Text{"a", false}, "a"},
		{`failed "logon failed"`, And{[]Node{Text{"failed", false}, Text{"logon failed", false}}}, `failed AND "logon failed"`},
		{`message:"logon failed"`, Text{"logon failed", false}, `"logon failed"`},
		{`message:Power*`, Text{"power*", true}, "power*"},
		{`Power*`, Text{"power*", true}, "power*"},
		{`message:*`, Exists{"message"}, ""},
		{`"and"`, Text{"and", false}, ""},
		{`field:and`, Term{"field", "and"}, `field:"and"`},
		{`source.ip:fe80::1`, Term{"source.ip", "fe80::1"}, ""},
		{`file.path:"C:\Windows\System32"`, Term{"file.path", `C:\Windows\System32`}, `file.path:"C:\\Windows\\System32"`},
		{`f:"say \"hi\""`, Term{"f", `say "hi"`}, ""},
		{`f:a\ b`, Term{"f", "a b"}, `f:"a b"`},
		{`f:a\ b*`, Wildcard{"f", "a b*"}, `f:a\ b*`},
		{`\and:x`, Term{"and", "x"}, ""},
		{`my\ field:x`, Term{"my field", "x"}, ""},
		{`-5`, Not{Text{"5", false}}, "NOT 5"},
		{`f:-5`, Term{"f", "-5"}, ""},
		{`event.code:4625`, Term{"event.code", "4625"}, ""},
		{`f:""`, Term{"f", ""}, ""},
		{`f:(a b)`, And{[]Node{Term{"f", "a"}, Term{"f", "b"}}}, "f:a AND f:b"},
		{`f:[a TO "b c"}`, And{[]Node{Range{"f", Gte, "a"}, Range{"f", Lt, "b c"}}}, `f >= a AND f < "b c"`},
		{`logon-failed`, Text{"logon-failed", false}, ""},
		{`a NOT b`, And{[]Node{Text{"a", false}, Not{Text{"b", false}}}}, "a AND NOT b"},
		{`NOT (a AND b)`, Not{And{[]Node{Text{"a", false}, Text{"b", false}}}}, ""},
		{`(a AND b) AND c`, And{[]Node{And{[]Node{Text{"a", false}, Text{"b", false}}}, Text{"c", false}}}, ""},
		{`héllo wörld`, And{[]Node{Text{"héllo", false}, Text{"wörld", false}}}, "héllo AND wörld"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			if s := got.String(); s != want {
				t.Errorf("String() = %q, want %q", s, want)
			}
			checkRoundTrip(t, tt.in, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{`a AND`, 5, "expected a term"},
		{`AND a`, 0, "unexpected AND"},
		{`a OR OR b`, 5, "unexpected OR"},
		{`(a`, 0, "missing ')'"},
		{`a)`, 1, `unexpected ')'`},
		{`()`, 0, "empty parentheses"},
		{`f:`, 2, "expected a value after ':'"},
		{`f:(a or)`, 7, "expected a value"},
		{`f:(a or and)`, 8, "unexpected AND"},
		{`"abc`, 0, "unterminated string"},
		{`f:"abc`, 2, "unterminated string"},
		{`a\`, 1, "escape at end of query"},
		{`:a`, 0, `unexpected ':'`},
		{`proc*:x`, 0, "wildcards in field names"},
		{`*:x`, 0, "wildcards in field names"},
		{`bytes >`, 7, "expected a value after >"},
		{`bytes > 1*`, 8, "wildcards are not allowed in ranges"},
		{`@timestamp > yesterday`, 13, "needs a time"},
		{`f:[1 TO 2`, 2, "missing ']' or '}'"},
		{`f:[1 2]`, 5, "expected TO"},
		{`*.exe`, 0, "spans several words"},
		{`- a`, 0, `expected a term after '-'`},
		{"a\x00b", 1, "control character"},
		{"a\xffb", 1, "invalid UTF-8"},
		{strings.Repeat("(", 33) + "a" + strings.Repeat(")", 33), 32, "nesting deeper than 32"},
		{strings.Repeat("not ", 33) + "a", 128, "nesting deeper than 32"},
		{strings.Repeat("a ", 257), 512, "more than 256 terms"},
		{strings.Repeat("a", MaxQueryBytes+1), MaxQueryBytes, "query longer than"},
		{"f:" + strings.Repeat("a", MaxPattern) + "*", 2, "wildcard pattern longer"},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			n, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tt.in, n)
			}
			if !errors.Is(err, search.ErrBadQuery) {
				t.Errorf("error %v does not wrap search.ErrBadQuery", err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SyntaxError", err)
			}
			if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Parse(%q) error = %q (offset %d), want %q at offset %d", tt.in, err, se.Offset, tt.msg, tt.offset)
			}
		})
	}
}

func TestParseLimitsAccepted(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("(", 32) + "a" + strings.Repeat(")", 32),
		strings.Repeat("not ", 32) + "a",
		strings.Repeat("a ", 256),
		"f:(" + strings.Repeat("a or ", 255) + "a)",
		"f:" + strings.Repeat("a", MaxPattern-1) + "*",
	} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%.40q...): %v", in, err)
		}
	}
}

// checkRoundTrip verifies that the canonical form of n parses to an equal
// AST and is a fixed point of String.
func checkRoundTrip(t testing.TB, in string, n Node) {
	t.Helper()
	s := n.String()
	if len(s) > MaxQueryBytes {
		return // the canonical form of a long query can exceed the limit
	}
	n2, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q).String() = %q does not parse: %v", in, s, err)
	}
	if !reflect.DeepEqual(n, n2) {
		t.Fatalf("Parse(%q) = %#v, but Parse(String()) = %#v (String %q)", in, n, n2, s)
	}
	if s2 := n2.String(); s2 != s {
		t.Fatalf("String not a fixed point: %q then %q", s, s2)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`source.ip:10.0.0.5 AND event.action:"logon-failed"`,
		`field:(a or b or "c d")`, `process.name:power*`, `f:*`, `bytes > 100`,
		`@timestamp >= 2026-11-25T10:00:00Z`, `not a -b +c`, `(a or b) c`,
		`bytes:[1 TO 2}`, `"logon failed" failed`, `f:a\ b\*`, `f:"C:\Windows"`,
	} {
		f.Add(s)
	}
	ev := sampleEvents()
	f.Fuzz(func(t *testing.T, in string) {
		n, err := Parse(in)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, search.ErrBadQuery) {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError wrapping ErrBadQuery", in, err)
			}
			if se.Offset < 0 || se.Offset > len(in) {
				t.Fatalf("Parse(%q) error offset %d out of range", in, se.Offset)
			}
			return
		}
		checkRoundTrip(t, in, n)
		for i := range ev {
			n.Match(&ev[i])
		}
	})
}
