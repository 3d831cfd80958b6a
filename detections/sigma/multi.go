package sigma

import (
	"context"
	"fmt"
	"regexp/syntax"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/coregx/ahocorasick"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

// Literal lengths: any part of a necessary literal is necessary too, so
// literals are cut to their last maxLiteral bytes (the end of a path or
// name is the distinctive part) to keep the automaton small; literals
// shorter than minLiteral occur in nearly every event and are not used.
const (
	maxLiteral = 16
	minLiteral = 3
)

// Set evaluates many detection rules at once, with the same results as
// evaluating each (Rule.Eval):
//
//   - rules are routed by log source: each distinct pipeline condition is
//     checked once per event, and only the rules behind the conditions that
//     hold go on;
//   - each rule has, where its detection allows, a set of necessary literals
//     (one of them occurs, ASCII lower-cased, in some value of any event the
//     rule matches); one Aho-Corasick pass over the event's lower-cased
//     values finds them, and rules none of whose literals occur are skipped.
//
// A Set is immutable and safe for concurrent use.
type Set struct {
	rules  []*Rule
	metas  []detections.Meta
	routes []route
	// always[i]: rule i has no literal set and is evaluated whenever its
	// route holds.
	always []bool
	ac     *ahocorasick.Automaton
	byLit  [][]int32 // per automaton pattern: the rules it admits
}

type route struct {
	ls    *node // nil: no log source condition
	rules []int32
}

// NewSet builds a Set of rules. Only *Rule (detection rules) can be part of
// a Set; it returns an error naming any other rule.
func NewSet(rules []detections.Rule) (*Set, error) {
	s := &Set{}
	routeOf := map[*node]int{}
	lits := map[string]int{}
	var pats []string
	for _, dr := range rules {
		r, ok := dr.(*Rule)
		if !ok {
			return nil, fmt.Errorf("sigma: rule %s (%T) cannot be part of a Set", dr.Meta().ID, dr)
		}
		i := int32(len(s.rules))
		s.rules = append(s.rules, r)
		s.metas = append(s.metas, r.meta)
		ri, ok := routeOf[r.ls]
		if !ok {
			ri = len(s.routes)
			routeOf[r.ls] = ri
			s.routes = append(s.routes, route{ls: r.ls})
		}
		s.routes[ri].rules = append(s.routes[ri].rules, i)
		ls, ok := r.det.literals()
		s.always = append(s.always, !ok)
		for _, l := range ls {
			if len(l) > maxLiteral {
				l = l[len(l)-maxLiteral:]
			}
			p, seen := lits[l]
			if !seen {
				p = len(pats)
				lits[l] = p
				pats = append(pats, l)
				s.byLit = append(s.byLit, nil)
			}
			if n := len(s.byLit[p]); n == 0 || s.byLit[p][n-1] != i {
				s.byLit[p] = append(s.byLit[p], i)
			}
		}
	}
	if len(pats) > 0 {
		ac, err := ahocorasick.NewBuilder().AddStrings(pats).Build()
		if err != nil {
			return nil, fmt.Errorf("sigma: building the literal automaton: %w", err)
		}
		s.ac = ac
	}
	return s, nil
}

// Metas returns the rules' Meta, in order.
func (s *Set) Metas() []detections.Meta { return s.metas }

// setScratch is per-evaluation memory, pooled.
type setScratch struct {
	hay  []byte
	mark []uint32 // per rule: gen when a literal of the rule occurred
	gen  uint32
}

var setScratchPool = sync.Pool{New: func() any { return &setScratch{hay: make([]byte, 0, 4096)} }}

// EvalAll evaluates every rule of the set on ev and calls emit with the
// index of each matching rule (in Metas) and its Finding, in rule order
// within each log source route. It never fails.
func (s *Set) EvalAll(ctx context.Context, ev *event.Event, emit func(rule int, f detections.Finding)) error {
	sc := setScratchPool.Get().(*setScratch)
	defer setScratchPool.Put(sc)
	if len(sc.mark) < len(s.rules) {
		sc.mark = make([]uint32, len(s.rules))
		sc.gen = 0
	}
	sc.gen++
	if sc.gen == 0 { // wrapped: forget every old mark
		clear(sc.mark)
		sc.gen = 1
	}
	scanned := false
	st := getState(ev)
	defer putState(st)
	for ri := range s.routes {
		rt := &s.routes[ri]
		if rt.ls != nil && !rt.ls.eval(st) {
			continue
		}
		if !scanned && s.ac != nil {
			scanned = true
			sc.hay = appendHay(sc.hay[:0], ev)
			for _, m := range s.ac.FindAllOverlapping(sc.hay) {
				for _, i := range s.byLit[m.PatternID] {
					sc.mark[i] = sc.gen
				}
			}
		}
		for _, i := range rt.rules {
			if !s.always[i] && sc.mark[i] != sc.gen {
				continue
			}
			if s.rules[i].det.eval(st) {
				emit(int(i), s.rules[i].finding(ev))
			}
		}
	}
	return nil
}

// appendHay appends the ASCII lower-cased text of every value of ev, each
// followed by a NUL, and of its dataset.
func appendHay(b []byte, ev *event.Event) []byte {
	b = appendLower(b, ev.Dataset)
	for i := range ev.Fields {
		b = appendValue(b, &ev.Fields[i].Value)
	}
	return b
}

func appendValue(b []byte, v *event.Value) []byte {
	switch v.Kind {
	case event.String, event.Number:
		return appendLower(b, v.Str)
	case event.Bool:
		if v.Bool {
			return append(b, "true\x00"...)
		}
		return append(b, "false\x00"...)
	case event.List:
		for i := range v.List {
			b = appendValue(b, &v.List[i])
		}
	}
	return b
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return append(b, 0)
}

// literals returns strings of which at least one occurs, ASCII lower-cased,
// in a value (or the dataset) of every event the node holds for; ok is
// false when no such set is known (negations, numbers, regular
// expressions, Unicode folding, ...).
func (n *node) literals() ([]string, bool) {
	switch n.kind {
	case nTest:
		return n.test.literals()
	case nAnd:
		var best []string
		found := false
		for _, k := range n.kids {
			if l, ok := k.literals(); ok && (!found || betterLits(l, best)) {
				best, found = l, true
			}
		}
		return best, found
	case nOr:
		var all []string
		for _, k := range n.kids {
			l, ok := k.literals()
			if !ok {
				return nil, false
			}
			all = append(all, l...)
		}
		return all, len(all) > 0
	}
	return nil, false
}

// betterLits prefers the set whose shortest literal is longer (up to
// maxLiteral), then the smaller set.
func betterLits(a, b []string) bool {
	ma, mb := minLen(a), minLen(b)
	if ma != mb {
		return ma > mb
	}
	return len(a) < len(b)
}

func minLen(l []string) int {
	m := maxLiteral
	for _, s := range l {
		m = min(m, len(s))
	}
	return m
}

func (t *test) literals() ([]string, bool) {
	if (t.op != opValues && t.op != opKeyword) || len(t.matchers) == 0 {
		return nil, false
	}
	if t.all {
		// Every matcher must match: any one's literal is necessary.
		var best []string
		for i := range t.matchers {
			if l, ok := t.matchers[i].literal(); ok && (best == nil || betterLits(l, best)) {
				best = l
			}
		}
		return best, best != nil
	}
	out := make([]string, 0, len(t.matchers))
	for i := range t.matchers {
		l, ok := t.matchers[i].literal()
		if !ok {
			return nil, false
		}
		out = append(out, l...)
	}
	return out, true
}

// literal returns strings one of which occurs, ASCII lower-cased, in every
// value the matcher matches; each at least minLiteral bytes long, or a
// non-ASCII character's encoding (rare in events).
func (m *matcher) literal() ([]string, bool) {
	if m.kind == mRegex {
		r, err := syntax.Parse(m.re.String(), syntax.Perl)
		if err != nil {
			return nil, false
		}
		return regexLiterals(r.Simplify())
	}
	if m.kind != mGlob {
		return nil, false
	}
	lit := ""
	switch m.pat.shape {
	case shExact, shPrefix, shSuffix, shContains:
		lit = m.pat.lit
	case shGlob:
		for _, t := range m.pat.toks {
			if t.kind == gLit && len(t.lit) > len(lit) {
				lit = t.lit
			}
		}
	}
	if m.pat.fold == foldUnicode {
		return unicodeLiterals(lit)
	}
	if len(lit) < minLiteral {
		return nil, false
	}
	return []string{lowerASCII(lit)}, true
}

// unicodeLiterals returns the necessary literals of a pattern compared by
// Unicode simple folding: its longest run of characters without other case
// forms when long enough, or else every case form of its first non-ASCII
// cased character.
func unicodeLiterals(lit string) ([]string, bool) {
	best, run := "", 0
	for i, r := range lit {
		if unicode.SimpleFold(r) != r {
			run = i + utf8.RuneLen(r)
			continue
		}
		if i+utf8.RuneLen(r)-run > len(best) {
			best = lit[run : i+utf8.RuneLen(r)]
		}
	}
	if len(best) >= minLiteral {
		return []string{best}, true
	}
	for _, r := range lit {
		if r < utf8.RuneSelf || unicode.SimpleFold(r) == r {
			continue
		}
		var out []string
		for f := r; ; {
			if f < utf8.RuneSelf {
				return nil, false // an ASCII form: too common
			}
			out = append(out, string(f))
			if f = unicode.SimpleFold(f); f == r {
				return out, true
			}
		}
	}
	return nil, false
}

// regexLiterals returns literals one of which occurs in every text the
// expression matches, like node.literals: a concatenation needs any one of
// its parts, an alternation one of its branches.
func regexLiterals(r *syntax.Regexp) ([]string, bool) {
	switch r.Op {
	case syntax.OpLiteral:
		s := string(r.Rune)
		if len(s) < minLiteral || (r.Flags&syntax.FoldCase != 0 && needsUnicodeFold(s)) {
			return nil, false
		}
		return []string{lowerASCII(s)}, true
	case syntax.OpCapture, syntax.OpPlus:
		return regexLiterals(r.Sub[0])
	case syntax.OpRepeat:
		if r.Min >= 1 {
			return regexLiterals(r.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		for _, sub := range r.Sub {
			if l, ok := regexLiterals(sub); ok && (best == nil || betterLits(l, best)) {
				best = l
			}
		}
		return best, best != nil
	case syntax.OpAlternate:
		var all []string
		for _, sub := range r.Sub {
			l, ok := regexLiterals(sub)
			if !ok {
				return nil, false
			}
			all = append(all, l...)
		}
		return all, true
	}
	return nil, false
}
