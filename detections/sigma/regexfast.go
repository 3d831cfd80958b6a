package sigma

import (
	"math"
	"math/bits"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
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
	// win, when not nil, is a run of single bytes every match contains
	// (byteWindow): a text without one does not match, found without the
	// regexp engine.
	win *byteWindow
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
	sh := reShape{minLen: minMatchLen(r), win: windowOf(r)}
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

// byteWindow is a necessary condition of a regular expression: every text
// it matches holds, at some offset, k consecutive bytes each in its set
// (sets[j] for the j-th). The expression `\\[a-z0-9]{1,32}\.[a-z0-9]{1,6}\.[ "']`
// has the window [a-z0-9] . [ "'], which a command line rarely holds, and
// checking it takes a table lookup per byte where the regexp engine
// starts a match at every backslash.
type byteWindow struct {
	sets   []byteSet
	anchor int // the position of the smallest set, searched first
	// one is the anchor's byte when its set has one (searched with the
	// processor's vectorized byte search), else -1.
	one int
}

// byteSet is a set of bytes, a bit each.
type byteSet [4]uint64

func (b *byteSet) add(c byte)      { b[c>>6] |= 1 << (c & 63) }
func (b *byteSet) has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }
func (b *byteSet) size() (n int) {
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// minWindowBits is the selectivity below which a window is not worth
// checking before the regexp: the sum over its positions of
// log2(256/set size), about 2 bytes of fixed text.
const minWindowBits = 14

// maxWindow bounds the positions of a window.
const maxWindow = 256

// windowOf returns the most selective byte window of r, or nil when none
// reaches minWindowBits. Only elements of fixed byte width extend a
// window: an ASCII literal (both cases of a case-folded letter, except k
// and s, which fold to non-ASCII runes too), the bytes of another
// literal rune matched exactly, a class of ASCII bytes; a repeat of one
// such byte with minimum n adds n positions and, unless its count is
// fixed, ends the window, the next one starting with its last n
// positions. Zero-width assertions are skipped; anything else ends the
// window.
func windowOf(r *syntax.Regexp) *byteWindow {
	var best, cur []byteSet
	bestBits := 0.0
	end := func() {
		if b := windowBits(cur); b > bestBits {
			best, bestBits = slices.Clone(cur), b
		}
		cur = cur[:0]
	}
	push := func(b byteSet) {
		if len(cur) == maxWindow {
			end()
		}
		cur = append(cur, b)
	}
	var walk func(r *syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpConcat:
			for _, sub := range r.Sub {
				walk(sub)
			}
		case syntax.OpCapture:
			walk(r.Sub[0])
		case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
			syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpEmptyMatch:
		case syntax.OpLiteral:
			for _, c := range r.Rune {
				if !literalBytes(c, r.Flags&syntax.FoldCase != 0, push) {
					end()
				}
			}
		case syntax.OpCharClass:
			if b, ok := classBytes(r); ok {
				push(b)
			} else {
				end()
			}
		case syntax.OpPlus, syntax.OpRepeat:
			b, ok := singleByte(r.Sub[0])
			lo, fixed := 1, false
			if r.Op == syntax.OpRepeat {
				lo, fixed = r.Min, r.Min == r.Max
			}
			if !ok || lo == 0 {
				end()
				return
			}
			n := min(lo, maxWindow)
			for range n {
				push(b)
			}
			if !fixed {
				end()
				for range n {
					push(b)
				}
			}
		default:
			end()
		}
	}
	walk(r)
	end()
	if bestBits < minWindowBits {
		return nil
	}
	w := &byteWindow{sets: best, one: -1}
	for j := range best {
		if best[j].size() < best[w.anchor].size() {
			w.anchor = j
		}
	}
	if best[w.anchor].size() == 1 {
		for c := range 256 {
			if best[w.anchor].has(byte(c)) {
				w.one = c
			}
		}
	}
	return w
}

// windowBits is the selectivity of a window (minWindowBits).
func windowBits(w []byteSet) float64 {
	b := 0.0
	for i := range w {
		b += math.Log2(256 / float64(w[i].size()))
	}
	return b
}

// literalBytes pushes the positions of rune c as a literal, and reports
// false when it has no fixed bytes (a case-folded letter with a non-ASCII
// fold, or a non-ASCII one).
func literalBytes(c rune, fold bool, push func(byteSet)) bool {
	switch {
	case c < utf8.RuneSelf:
		var b byteSet
		b.add(byte(c))
		if fold && unicode.IsLetter(c) {
			if l := unicode.ToLower(c); l == 'k' || l == 's' {
				return false
			}
			b.add(byte(unicode.ToLower(c)))
			b.add(byte(unicode.ToUpper(c)))
		}
		push(b)
		return true
	case fold && unicode.SimpleFold(c) != c, c == utf8.RuneError:
		// An invalid byte of the text matches U+FFFD as a rune.
		return false
	}
	var buf [utf8.UTFMax]byte
	for _, x := range buf[:utf8.EncodeRune(buf[:], c)] {
		var b byteSet
		b.add(x)
		push(b)
	}
	return true
}

// classBytes returns the bytes of a class of ASCII runes only.
func classBytes(r *syntax.Regexp) (byteSet, bool) {
	var b byteSet
	for i := 0; i+1 < len(r.Rune); i += 2 {
		lo, hi := r.Rune[i], r.Rune[i+1]
		if hi >= utf8.RuneSelf {
			return b, false
		}
		for c := lo; c <= hi; c++ {
			b.add(byte(c))
		}
	}
	return b, len(r.Rune) > 0
}

// singleByte returns the bytes of r when it matches exactly one byte.
func singleByte(r *syntax.Regexp) (byteSet, bool) {
	switch r.Op {
	case syntax.OpCapture:
		return singleByte(r.Sub[0])
	case syntax.OpCharClass:
		return classBytes(r)
	case syntax.OpLiteral:
		if len(r.Rune) != 1 || r.Rune[0] >= utf8.RuneSelf {
			return byteSet{}, false
		}
		var b byteSet
		ok := literalBytes(r.Rune[0], r.Flags&syntax.FoldCase != 0, func(x byteSet) { b = x })
		return b, ok
	}
	return byteSet{}, false
}

// in reports whether s holds the window.
func (w *byteWindow) in(s string) bool {
	k, a := len(w.sets), w.anchor
	if len(s) < k {
		return false
	}
	as := &w.sets[a]
	for i := a; i <= len(s)-k+a; i++ {
		if w.one >= 0 {
			j := strings.IndexByte(s[i:len(s)-k+a+1], byte(w.one))
			if j < 0 {
				return false
			}
			i += j
		} else if !as.has(s[i]) {
			continue
		}
		start, ok := i-a, true
		for j := range w.sets {
			if !w.sets[j].has(s[start+j]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
