package sigma

import (
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// reShape is what a regular expression's syntax tells before running it:
// texts it cannot match by their length, and the one common expression
// answered without the regexp engine.
type reShape struct {
	// minLen is a lower bound on the bytes of any text containing a match:
	// a shorter text does not match.
	minLen int
	// runRunes > 0: the expression is exactly .{runRunes,} and matches a
	// text iff it holds runRunes consecutive runes (each invalid byte
	// counting as one) not interrupted by a newline (any rune at all when
	// anyNL, the s flag). The regexp engine runs such repeats one
	// instruction per count, which is slow for counts in the thousands.
	runRunes int
	anyNL    bool
}

// maxMinLen caps minLen against overflow in nested repeats.
const maxMinLen = 1 << 20

// shapeOf analyses re. An expression it cannot parse again (never, for a
// compiled one) gets the zero shape, which changes nothing.
func shapeOf(re *regexp.Regexp) reShape {
	r, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return reShape{}
	}
	sh := reShape{minLen: minMatchLen(r)}
	for r.Op == syntax.OpCapture {
		r = r.Sub[0]
	}
	if r.Op == syntax.OpRepeat && r.Max == -1 && r.Min > 0 {
		switch r.Sub[0].Op {
		case syntax.OpAnyCharNotNL:
			sh.runRunes = r.Min
		case syntax.OpAnyChar:
			sh.runRunes, sh.anyNL = r.Min, true
		}
	}
	return sh
}

// minMatchLen returns a lower bound on the bytes of a text r matches: one
// per rune (every rune takes at least one byte, whatever its case form).
func minMatchLen(r *syntax.Regexp) int {
	switch r.Op {
	case syntax.OpLiteral:
		return len(r.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minMatchLen(r.Sub[0])
	case syntax.OpRepeat:
		return min(r.Min*minMatchLen(r.Sub[0]), maxMinLen)
	case syntax.OpConcat:
		n := 0
		for _, s := range r.Sub {
			n = min(n+minMatchLen(s), maxMinLen)
		}
		return n
	case syntax.OpAlternate:
		n := maxMinLen
		for _, s := range r.Sub {
			n = min(n, minMatchLen(s))
		}
		return n
	}
	return 0
}

// matchRun reports whether s matches the expression, for a shape with
// runRunes set.
func (sh *reShape) matchRun(s string) bool {
	run := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == '\n' && !sh.anyNL {
			run = 0
			continue
		}
		if run++; run >= sh.runRunes {
			return true
		}
	}
	return false
}
