package sigma

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Literal lengths: any part of a necessary literal is necessary too, so
// literals are cut to their last maxLiteral bytes (the end of a path or
// name is the distinctive part) to keep the automata small; literals
// shorter than minLiteral occur in nearly every event and are not used.
const (
	maxLiteral = 16
	minLiteral = 3
)

// maxGroups bounds the literal groups kept for one rule: the strongest ones.
// A Set counts them in three bits (Set.groupInfo).
const maxGroups = 6

var _ [7 - maxGroups]struct{} // maxGroups fits in three bits

// termKind is how a litTerm is found in an event.
type termKind uint8

const (
	// tSub: lit (ASCII lower case) occurs, ASCII case ignored, in a value.
	tSub termKind = iota
	// tExact: a value's text, ASCII lower-cased, equals lit.
	tExact
	// tNum: a Number value equals num, or a value's text, ASCII
	// lower-cased, equals lit (the number's text, lower case).
	tNum
)

// litTerm is a necessary condition on one value of field (a scalar, or an
// element of a list), or of any field of the event when field is nil
// (keyword searches, tSub only).
type litTerm struct {
	field *fieldRef
	kind  termKind
	lit   string
	num   float64
	// keywords: for a keyword term, the fields a keyword search reads
	// first (message, ...).
	keywords []string
}

// strength orders terms for choosing groups: exact values are the most
// selective, then longer literals; a literal of common text (commonText:
// ".exe", "\windows\", "system32") is the weakest, 0.
func (t litTerm) strength() int {
	if t.kind != tSub {
		return maxLiteral + 1
	}
	if isCommonLiteral(t.lit) {
		return 0
	}
	return min(len(t.lit), maxLiteral)
}

// litGroup is a set of terms at least one of which holds for every event a
// node holds for.
type litGroup []litTerm

// litGroups returns groups of terms, each of which holds (one of its terms
// occurs) for every event the node holds for: a conjunction of
// disjunctions. ok is false when no group is known (negations, keyword
// searches of numbers, regular expressions without literals, ...). At most
// maxGroups groups are returned, the strongest.
func (n *node) litGroups() ([]litGroup, bool) {
	gs := strongest(n.groups(), maxGroups)
	// A group with a term of common text holds for nearly every event:
	// its literal would be found, and the group marked, again and again
	// for little. It is kept only when the rule has no other.
	if len(gs) > 1 && minStrength(gs[0]) > 0 {
		gs = slices.DeleteFunc(gs, func(g litGroup) bool { return minStrength(g) == 0 })
	}
	return gs, len(gs) > 0
}

func (n *node) groups() []litGroup {
	switch n.kind {
	case nTest:
		return n.test.groups()
	case nAnd:
		var all []litGroup
		for _, k := range n.kids {
			all = append(all, k.groups()...)
		}
		return all
	case nOr:
		alts := make([][]litGroup, len(n.kids))
		for i, k := range n.kids {
			alts[i] = k.groups()
		}
		return orGroups(alts)
	}
	return nil
}

// maxDistribute is the number of alternatives up to which orGroups
// distributes; beyond, each alternative gives its strongest group only.
const maxDistribute = 4

// orGroups returns groups that hold whenever one of the alternatives' holds
// (each alternative a conjunction of groups): (A1 and A2) or B is (A1 or B)
// and (A2 or B). The distribution is bounded to maxGroups results; an
// alternative without groups makes the result empty.
func orGroups(alts [][]litGroup) []litGroup {
	combos := []litGroup{nil}
	for _, a := range alts {
		if len(a) == 0 {
			return nil
		}
		keep := 1
		if len(alts) <= maxDistribute {
			keep = max(1, maxGroups/len(combos))
		}
		a = strongest(a, keep)
		next := make([]litGroup, 0, len(combos)*len(a))
		for _, c := range combos {
			for _, g := range a {
				next = append(next, append(slices.Clip(c), g...))
			}
		}
		combos = next
	}
	return combos
}

// strongest returns the n strongest groups of gs (all when there are no
// more), strongest first, reordering gs.
func strongest(gs []litGroup, n int) []litGroup {
	slices.SortStableFunc(gs, func(a, b litGroup) int {
		switch {
		case betterGroup(a, b):
			return -1
		case betterGroup(b, a):
			return 1
		}
		return 0
	})
	return gs[:min(n, len(gs))]
}

// betterGroup prefers the group whose weakest term is stronger, then the
// smaller group.
func betterGroup(a, b litGroup) bool {
	ma, mb := minStrength(a), minStrength(b)
	if ma != mb {
		return ma > mb
	}
	return len(a) < len(b)
}

func minStrength(g litGroup) int {
	m := maxLiteral + 1
	for _, t := range g {
		m = min(m, t.strength())
	}
	return m
}

func (t *test) groups() []litGroup {
	if (t.op != opValues && t.op != opKeyword) || len(t.matchers) == 0 {
		return nil
	}
	field := t.field
	if t.op == opKeyword {
		field = nil
	}
	alts := make([][]litGroup, len(t.matchers))
	for i := range t.matchers {
		m := &t.matchers[i]
		if field != nil {
			switch {
			case m.kind == mNum:
				alts[i] = []litGroup{{{field: field, kind: tNum, lit: m.text, num: m.num}}}
				continue
			case m.kind == mGlob && m.pat.shape == shExact && m.pat.fold != foldUnicode:
				alts[i] = []litGroup{{{field: field, kind: tExact, lit: lowerASCII(m.pat.lit)}}}
				continue
			}
		}
		for _, ls := range m.literals() {
			g := make(litGroup, len(ls))
			for j, l := range ls {
				if len(l) > maxLiteral {
					l = l[len(l)-maxLiteral:]
				}
				g[j] = litTerm{field: field, lit: l}
				if field == nil {
					g[j].keywords = t.keywords
				}
			}
			alts[i] = append(alts[i], g)
		}
	}
	if t.all {
		// Every matcher must match: all their groups hold.
		var out []litGroup
		for _, a := range alts {
			out = append(out, a...)
		}
		return out
	}
	return orGroups(alts)
}

// literals returns groups of strings, a conjunction of disjunctions: in
// each group one string occurs, ASCII lower-cased, in every value the
// matcher matches. Each string is usable (usableLiteral), or a non-ASCII
// character's encoding (rare in events). Nil when none is known.
func (m *matcher) literals() [][]string {
	switch m.kind {
	case mRegex:
		r, err := syntax.Parse(m.re.String(), syntax.Perl)
		if err != nil {
			return nil
		}
		return regexLiterals(r.Simplify())
	case mGlob:
	default:
		return nil
	}
	var lits []string
	switch m.pat.shape {
	case shExact, shPrefix, shSuffix, shContains:
		lits = []string{m.pat.lit}
	case shGlob:
		for _, t := range m.pat.toks {
			if t.kind == gLit {
				lits = append(lits, t.lit)
			}
		}
	}
	var out [][]string
	for _, lit := range lits {
		if m.pat.fold == foldUnicode {
			if u, ok := unicodeLiterals(lit); ok {
				out = append(out, u)
			}
			continue
		}
		if usableLiteral(lit) {
			out = append(out, []string{lowerASCII(lit)})
		}
	}
	return out
}

// unicodeLiterals returns the necessary literals of a pattern compared by
// Unicode simple folding: its longest run of characters without other case
// forms when long enough or not all ASCII, or else every case form of its
// first non-ASCII cased character.
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
	if len(best) >= minLiteral || !isASCII(best) {
		// A run with a non-ASCII character is rare enough however short.
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// maxRegexLiterals bounds the strings of one group taken from a regular
// expression.
const maxRegexLiterals = 64

// regexLiterals returns groups of strings like matcher.literals for a
// regular expression: every part of a concatenation holds (adjacent
// literal characters and one-letter case classes are joined into longer
// literals first), and an alternation holds when one branch does.
func regexLiterals(r *syntax.Regexp) [][]string {
	switch r.Op {
	case syntax.OpLiteral:
		s := lowerASCII(string(r.Rune))
		if r.Flags&syntax.FoldCase != 0 {
			if needsUnicodeFold(s) {
				return nil
			}
			s = longestFoldSafe(s)
		}
		if !usableLiteral(s) {
			return nil
		}
		return [][]string{{s}}
	case syntax.OpCapture, syntax.OpPlus:
		return regexLiterals(r.Sub[0])
	case syntax.OpRepeat:
		if r.Min >= 1 {
			return regexLiterals(r.Sub[0])
		}
	case syntax.OpConcat:
		// runs are the texts the elements read so far match, one of
		// which occurs: a literal extends each; a small class of bytes
		// (\s, [ "']) multiplies them, and when repeated (\s+) ends them,
		// the next runs starting with its last byte (net\s+user: "net "
		// or "net\t"..., then " user" or "\tuser"...).
		var out [][]string
		runs := []string{""}
		flush := func() {
			for _, r := range runs {
				if !usableLiteral(r) {
					runs = []string{""}
					return
				}
			}
			out = append(out, runs)
			runs = []string{""}
		}
		for _, sub := range r.Sub {
			if s, ok := regexText(sub); ok {
				for i := range runs {
					runs[i] += s
				}
				continue
			}
			if cs, repeated, ok := regexClassRun(sub); ok {
				if len(runs)*len(cs) > maxRegexLiterals {
					flush()
				}
				next := make([]string, 0, len(runs)*len(cs))
				for _, r := range runs {
					for _, c := range cs {
						next = append(next, r+c)
					}
				}
				runs = next
				if repeated {
					flush()
					runs = slices.Clone(cs)
				}
				continue
			}
			flush()
			out = append(out, regexLiterals(sub)...)
		}
		flush()
		return out
	case syntax.OpAlternate:
		alts := make([][]litGroup, len(r.Sub))
		for i, sub := range r.Sub {
			for _, g := range regexLiterals(sub) {
				lg := make(litGroup, len(g))
				for j, l := range g {
					lg[j] = litTerm{lit: l}
				}
				alts[i] = append(alts[i], lg)
			}
		}
		var out [][]string
		for _, g := range orGroups(alts) {
			if len(g) > maxRegexLiterals {
				continue
			}
			ls := make([]string, len(g))
			for i, t := range g {
				ls[i] = t.lit
			}
			out = append(out, ls)
		}
		return out
	}
	return nil
}

// longestFoldSafe returns the longest run of s (ASCII lower case) without k
// or s: under Unicode case folding, as regular expressions with the i flag
// fold, k also matches the Kelvin sign and s the long s, which ASCII
// lower-casing does not give.
func longestFoldSafe(s string) string {
	best := ""
	for _, run := range strings.FieldsFunc(s, func(r rune) bool { return r == 'k' || r == 's' }) {
		if len(run) > len(best) {
			best = run
		}
	}
	return best
}

// regexText returns the ASCII lower-case text that sub matches exactly,
// ASCII case ignored: a literal (under the i flag, one without k or s), or
// a character class that is one ASCII letter in both cases ([Ee]), or one
// non-letter byte.
func regexText(sub *syntax.Regexp) (string, bool) {
	switch sub.Op {
	case syntax.OpLiteral:
		s := lowerASCII(string(sub.Rune))
		if sub.Flags&syntax.FoldCase != 0 && (needsUnicodeFold(s) || strings.ContainsAny(s, "ks")) {
			return "", false
		}
		return s, true
	case syntax.OpCharClass:
		rs := sub.Rune // pairs of ranges
		switch {
		case len(rs) == 2 && rs[0] == rs[1] && rs[0] < utf8.RuneSelf:
			return lowerASCII(string(rs[0])), true
		case len(rs) == 4 && rs[0] == rs[1] && rs[2] == rs[3] && rs[2] < utf8.RuneSelf &&
			'A' <= rs[0] && rs[0] <= 'Z' && rs[2] == rs[0]+'a'-'A':
			return string(rs[2]), true
		}
	}
	return "", false
}

// maxClassBytes bounds the bytes of a class regexClassRun takes.
const maxClassBytes = 6

// regexClassRun reports whether sub matches one byte of a small set of
// ASCII bytes (cs, lower case, at most maxClassBytes), once or, when
// repeated, one or more times (then the run of them may be longer).
func regexClassRun(sub *syntax.Regexp) (cs []string, repeated, ok bool) {
	switch sub.Op {
	case syntax.OpCharClass:
		seen := map[string]bool{}
		rs := sub.Rune
		for i := 0; i+1 < len(rs); i += 2 {
			if rs[i+1] >= utf8.RuneSelf || rs[i+1]-rs[i] >= maxClassBytes {
				return nil, false, false
			}
			for c := rs[i]; c <= rs[i+1]; c++ {
				if l := lowerASCII(string(c)); !seen[l] {
					seen[l] = true
					cs = append(cs, l)
				}
			}
			if len(cs) > maxClassBytes {
				return nil, false, false
			}
		}
		slices.Sort(cs)
		return cs, false, len(cs) > 0
	case syntax.OpPlus:
		cs, _, ok := regexClassRun(sub.Sub[0])
		return cs, true, ok
	case syntax.OpRepeat:
		if sub.Min < 1 {
			return nil, false, false
		}
		cs, _, ok := regexClassRun(sub.Sub[0])
		return cs, sub.Max != 1 || sub.Min != 1, ok
	}
	return nil, false, false
}

// rareBytes are punctuation seldom found in event values: a literal made
// of them is selective even when short.
const rareBytes = "`^{}$~|<>!"

// usableLiteral reports whether lit is selective enough for the
// prefilter: at least minLiteral bytes, or holding a non-ASCII character
// (rare in events), or made of rare bytes only.
func usableLiteral(lit string) bool {
	if len(lit) >= minLiteral {
		return true
	}
	if lit == "" {
		return false
	}
	if !isASCII(lit) {
		return true
	}
	for i := 0; i < len(lit); i++ {
		if !strings.ContainsRune(rareBytes, rune(lit[i])) {
			return false
		}
	}
	return true
}
