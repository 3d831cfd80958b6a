package sigma

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// shape is the form of a compiled string pattern; all but shGlob are answered
// by one call of the strings package.
type shape uint8

const (
	shExact    shape = iota // text
	shPrefix                // text*
	shSuffix                // *text
	shContains              // *text*
	shAny                   // *
	shGlob                  // anything else
)

// foldMode says how a pattern compares letters.
type foldMode uint8

const (
	// foldASCII: the pattern is lower case and compared with the ASCII
	// lower-cased haystack. Used when the pattern's only cased letters are
	// ASCII, which is nearly always.
	foldASCII foldMode = iota
	// foldUnicode: Unicode simple case folding, rune by rune, on the
	// original haystack; for patterns with non-ASCII cased letters.
	foldUnicode
	// foldNone: case-sensitive (cased modifier, base64 encodings).
	foldNone
)

// gtokKind is one token of a glob pattern.
type gtokKind uint8

const (
	gLit gtokKind = iota
	gStar
	gOne
)

type gtok struct {
	kind gtokKind
	lit  string
}

// pattern is a compiled Sigma string value.
type pattern struct {
	shape shape
	fold  foldMode
	lit   string // shExact, shPrefix, shSuffix, shContains
	toks  []gtok // shGlob
}

// compilePattern turns a Sigma string (without placeholders) into a pattern.
func compilePattern(s sstring, cased bool) pattern {
	p := pattern{fold: foldNone}
	if !cased {
		p.fold = foldASCII
		for _, q := range s {
			if q.kind == partLit && needsUnicodeFold(q.text) {
				p.fold = foldUnicode
				break
			}
		}
	}
	lit := func(t string) string {
		if p.fold == foldASCII {
			return lowerASCII(t)
		}
		return t
	}
	kinds := make([]partKind, len(s))
	for i, q := range s {
		kinds[i] = q.kind
	}
	switch {
	case len(s) == 0:
		p.shape = shExact
	case len(s) == 1 && kinds[0] == partLit:
		p.shape, p.lit = shExact, lit(s[0].text)
	case len(s) == 1 && kinds[0] == partStar:
		p.shape = shAny
	case len(s) == 2 && kinds[0] == partLit && kinds[1] == partStar:
		p.shape, p.lit = shPrefix, lit(s[0].text)
	case len(s) == 2 && kinds[0] == partStar && kinds[1] == partLit:
		p.shape, p.lit = shSuffix, lit(s[1].text)
	case len(s) == 3 && kinds[0] == partStar && kinds[1] == partLit && kinds[2] == partStar:
		p.shape, p.lit = shContains, lit(s[1].text)
	default:
		p.shape = shGlob
		for _, q := range s {
			switch q.kind {
			case partStar:
				p.toks = append(p.toks, gtok{kind: gStar})
			case partOne:
				p.toks = append(p.toks, gtok{kind: gOne})
			default:
				p.toks = append(p.toks, gtok{kind: gLit, lit: lit(q.text)})
			}
		}
	}
	return p
}

// needsUnicodeFold reports whether s has a non-ASCII letter with other case
// forms.
func needsUnicodeFold(s string) bool {
	for _, r := range s {
		if r >= utf8.RuneSelf && unicode.SimpleFold(r) != r {
			return true
		}
	}
	return false
}

// lowerASCII lower-cases the ASCII letters of s.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// match reports whether the haystack matches p.
func (p *pattern) match(st *state, h *hay) bool {
	var s string
	switch p.fold {
	case foldASCII:
		if !h.lowOK {
			// An exact, prefix or suffix value is compared with the text's
			// bytes ASCII lower-cased as they are read: the text need not
			// be lowered whole.
			switch t, n := h.text, len(p.lit); p.shape {
			case shExact:
				return len(t) == n && equalLowerASCII(t, p.lit)
			case shPrefix:
				return len(t) >= n && equalLowerASCII(t[:n], p.lit)
			case shSuffix:
				return len(t) >= n && equalLowerASCII(t[len(t)-n:], p.lit)
			}
		}
		s = h.lower(st)
	case foldNone:
		s = h.text
	default:
		return p.matchFold(h.text)
	}
	switch p.shape {
	case shExact:
		return s == p.lit
	case shPrefix:
		return strings.HasPrefix(s, p.lit)
	case shSuffix:
		return strings.HasSuffix(s, p.lit)
	case shContains:
		if len(s) >= minGramText && st != nil {
			return st.containsLong(s, p.lit)
		}
		return strings.Contains(s, p.lit)
	case shAny:
		return true
	}
	return globMatch(s, p.toks, false)
}

// matchFold matches with Unicode case folding.
func (p *pattern) matchFold(s string) bool {
	switch p.shape {
	case shExact:
		return strings.EqualFold(s, p.lit)
	case shPrefix:
		_, ok := prefixFold(s, p.lit)
		return ok
	case shSuffix:
		return suffixFold(s, p.lit)
	case shContains:
		return containsFold(s, p.lit)
	case shAny:
		return true
	}
	return globMatch(s, p.toks, true)
}

// globMatch matches s against glob tokens: * any run, ? one character (rune).
// It backtracks to the last star only, which is linear in the common cases
// and O(len(s)·len(toks)) at worst.
func globMatch(s string, toks []gtok, fold bool) bool {
	si, ti := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch t.kind {
			case gStar:
				starT, starS = ti, si
				ti++
				continue
			case gOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			default:
				if fold {
					if n, ok := prefixFold(s[si:], t.lit); ok {
						si += n
						ti++
						continue
					}
				} else if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		if next := starT + 1; !fold && next < len(toks) && toks[next].kind == gLit &&
			toks[next].lit != "" && toks[next].lit[0] < utf8.RuneSelf {
			// The star's run grows to where its literal occurs next (an
			// ASCII byte starts a rune wherever it is), or nowhere.
			j := strings.Index(s[starS:], toks[next].lit)
			if j < 0 {
				return false
			}
			starS += j
		}
		si, ti = starS, starT+1
	}
}

// prefixFold reports whether s starts with prefix under Unicode simple case
// folding, and how many bytes of s the prefix covers.
func prefixFold(s, prefix string) (int, bool) {
	i := 0
	for _, pr := range prefix {
		if i >= len(s) {
			return 0, false
		}
		sr, n := utf8.DecodeRuneInString(s[i:])
		if !equalFoldRune(sr, pr) {
			return 0, false
		}
		i += n
	}
	return i, true
}

// suffixFold reports whether s ends with suffix under case folding.
func suffixFold(s, suffix string) bool {
	i, j := len(s), len(suffix)
	for j > 0 {
		if i == 0 {
			return false
		}
		pr, pn := utf8.DecodeLastRuneInString(suffix[:j])
		sr, sn := utf8.DecodeLastRuneInString(s[:i])
		if !equalFoldRune(sr, pr) {
			return false
		}
		i, j = i-sn, j-pn
	}
	return true
}

// containsFold reports whether s contains sub under case folding.
func containsFold(s, sub string) bool {
	for i := 0; i <= len(s); {
		if _, ok := prefixFold(s[i:], sub); ok {
			return true
		}
		if i == len(s) {
			break
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return false
}

// equalFoldRune reports whether a and b are equal under simple case folding.
func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// hay is one scalar event value being matched, with its text lower-cased at
// most once.
type hay struct {
	kind  event.Kind
	text  string // String and Number: the text; Bool: "true" or "false"
	num   float64
	b     bool
	low   string
	lowOK bool
}

func makeHay(v *event.Value) hay {
	h := hay{kind: v.Kind, text: v.Str, num: v.Num, b: v.Bool}
	if v.Kind == event.Bool {
		h.text = "false"
		if v.Bool {
			h.text = "true"
		}
	}
	return h
}

// lower returns the ASCII lower-cased text, computing it at most once.
func (h *hay) lower(st *state) string {
	if !h.lowOK {
		h.low, h.lowOK = st.lowerASCII(h.text), true
	}
	return h.low
}

// number returns the numeric value of the haystack: a Number's value, or a
// String holding a decimal number.
func (h *hay) number() (float64, bool) {
	switch h.kind {
	case event.Number:
		return h.num, true
	case event.String:
		s := strings.TrimSpace(h.text)
		if !looksNumeric(s) {
			return 0, false
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	return 0, false
}

// looksNumeric rejects text strconv.ParseFloat would fail on before it
// allocates an error for it.
func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

// matchKind is the comparison a matcher makes.
type matchKind uint8

const (
	mGlob  matchKind = iota // string pattern
	mNum                    // plain YAML number: numeric equality, or the same text
	mBool                   // plain YAML boolean
	mRegex                  // re
	mCIDR                   // cidr
	mLT                     // lt
	mLTE                    // lte
	mGT                     // gt
	mGTE                    // gte
	mTime                   // minute ... year: a part of a timestamp equals num
)

// matcher is one compiled value of a detection item. It is a plain struct
// switched on kind rather than an interface, so evaluation inlines and does
// not allocate.
type matcher struct {
	kind   matchKind
	pat    pattern
	num    float64
	text   string // mNum and mBool: the value's text, lower case
	b      bool
	re     *regexp.Regexp
	rs     reShape // mRegex: what the expression's syntax tells
	prefix netip.Prefix
	part   timePart // mTime
}

// match reports whether one scalar event value matches.
func (m *matcher) match(st *state, h *hay) bool {
	switch m.kind {
	case mGlob:
		return m.pat.match(st, h)
	case mNum:
		if h.kind == event.Number {
			return h.num == m.num
		}
		return h.kind == event.String && strings.EqualFold(h.text, m.text)
	case mBool:
		if h.kind == event.Bool {
			return h.b == m.b
		}
		return h.kind == event.String && strings.EqualFold(h.text, m.text)
	case mRegex:
		switch {
		case len(h.text) < m.rs.minLen:
			return false
		case m.rs.win != nil && !m.rs.win.in(h.text):
			return false
		case m.rs.runRunes > 0:
			return m.rs.matchRun(h.text)
		}
		return m.re.MatchString(h.text)
	case mCIDR:
		if h.kind != event.String {
			return false
		}
		a, err := netip.ParseAddr(h.text)
		if err != nil {
			return false
		}
		return m.prefix.Contains(a.WithZone("").Unmap())
	case mTime:
		p, ok := m.part.of(h)
		return ok && float64(p) == m.num
	}
	f, ok := h.number()
	if !ok {
		return false
	}
	switch m.kind {
	case mLT:
		return f < m.num
	case mLTE:
		return f <= m.num
	case mGT:
		return f > m.num
	default:
		return f >= m.num
	}
}

// cost is a rough relative price of one match, used to order the children
// of and/or nodes cheapest first.
func (m *matcher) cost() int {
	switch m.kind {
	case mGlob:
		switch m.pat.shape {
		case shExact, shAny:
			return 2
		case shPrefix, shSuffix:
			return 3
		case shContains:
			return 5
		}
		return 8
	case mRegex:
		return 25
	case mCIDR:
		return 6
	case mTime:
		return 20
	}
	return 1
}
