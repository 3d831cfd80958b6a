package sigma

import (
	"fmt"
	"strings"
	"testing"
)

// TestConditionGrammar evaluates conditions over search identifiers whose
// truth each event sets: identifier x is true when the event has field x.
func TestConditionGrammar(t *testing.T) {
	names := []string{"a", "b", "c", "sel_1", "sel_2", "filter_x", "_hidden"}
	var det strings.Builder
	for _, n := range names {
		fmt.Fprintf(&det, "%s: {%s|exists: true}\n", n, n)
	}
	event := func(true_ ...string) string {
		var parts []string
		for _, n := range true_ {
			parts = append(parts, fmt.Sprintf("%q:1", n))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	cases := []struct {
		cond  string
		true_ []string
		want  bool
	}{
		{"a", []string{"a"}, true},
		{"a", nil, false},
		{"not a", nil, true},
		{"a and b", []string{"a"}, false},
		{"a and b", []string{"a", "b"}, true},
		{"a or b", []string{"b"}, true},
		{"a or b and c", []string{"a"}, true},        // and binds tighter
		{"a or b and c", []string{"b"}, false},       // b and c
		{"(a or b) and c", []string{"a"}, false},     // parentheses
		{"(a or b) and c", []string{"a", "c"}, true}, // parentheses
		{"not a and b", []string{"b"}, true},         // not binds tighter than and
		{"not a and b", []string{"a", "b"}, false},
		{"not (a and b)", []string{"a"}, true},
		{"not not a", []string{"a"}, true},
		{"a AND NOT b", []string{"a"}, true}, // operators are case-insensitive
		{"1 of sel_*", []string{"sel_2"}, true},
		{"1 of sel_*", nil, false},
		{"any of sel_*", []string{"sel_1"}, true},
		{"all of sel_*", []string{"sel_1"}, false},
		{"all of sel_*", []string{"sel_1", "sel_2"}, true},
		{"1 of sel_* and not 1 of filter_*", []string{"sel_1", "filter_x"}, false},
		{"1 of sel_* and not 1 of filter_*", []string{"sel_1"}, true},
		{"1 of them", []string{"c"}, true},
		{"1 of them", []string{"_hidden"}, false}, // them leaves out _ identifiers
		{"all of them", []string{"a", "b", "c", "sel_1", "sel_2", "filter_x"}, true},
		{"1 of _h*", []string{"_hidden"}, true}, // an explicit _ pattern takes them
		{"1 of *", []string{"_hidden"}, false},
		{"1 of *_1", []string{"sel_1"}, true},
		{"((a))", []string{"a"}, true},
		{"a and (b or (c and not a))", []string{"a", "c"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			doc := detectionRule(det.String() + "condition: " + tc.cond)
			r, err := compileRule(t, doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Match(jsonEvent(t, event(tc.true_...))); got != tc.want {
				t.Errorf("%s with %v true = %v, want %v", tc.cond, tc.true_, got, tc.want)
			}
		})
	}
}

func TestConditionList(t *testing.T) {
	r, err := compileRule(t, detectionRule("a: {a|exists: true}\nb: {b|exists: true}\ncondition:\n  - a\n  - b"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Match(jsonEvent(t, `{"b":1}`)) || r.Match(jsonEvent(t, `{"c":1}`)) {
		t.Errorf("a list of conditions must be their OR")
	}
}

func TestConditionErrors(t *testing.T) {
	cases := []struct{ cond, want string }{
		{"", "empty condition"},
		{"a and", "column 6: condition ends early"},
		{"(a", "missing )"},
		{"a)", `unexpected ")"`},
		{"a b", `unexpected "b"`},
		{"and a", `unexpected "and"`},
		{"1 of", "1 of: expected a pattern or them"},
		{"all of (a)", "all of: expected a pattern or them"},
		{"sel*", `wildcard "sel*" outside of 1 of / all of`},
		{"a | count() by b > 3", "aggregations"},
		{"a near b", `unexpected "near"`},
		{"near b", "near is Sigma v1 correlation syntax"},
		{strings.Repeat("not ", 100) + "a", "nested more than 64 deep"},
		{strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100), "nested more than 64 deep"},
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			_, err := parseCondition(tc.cond)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseCondition(%q) = %v, want an error containing %q", tc.cond, err, tc.want)
			}
		})
	}
}

func TestSelects(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"sel*", "selection", true},
		{"sel*", "sel", true},
		{"sel*", "xsel", false},
		{"*sel", "xsel", true},
		{"sel", "selection", false}, // anchored at both ends, unlike pySigma
		{"them", "x", true},
		{"them", "_x", false},
		{"*", "_x", false},
		{"_x*", "_xy", true},
		{"a*b*c", "aXbYc", true},
	}
	for _, tc := range cases {
		if got := selects(tc.pattern, tc.name); got != tc.want {
			t.Errorf("selects(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}
