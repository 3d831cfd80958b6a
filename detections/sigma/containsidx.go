package sigma

import "strings"

// minIndexed is the number of contains values from which a test looks them
// up by their first three bytes instead of searching for each in turn.
const minIndexed = 8

// containsIndex tells whether a text contains any of many literals (the
// ASCII lower-case contains values of one test), in one pass over the text:
// each position's three bytes are checked against a bit set of the
// literals' first three bytes, and only on a hit are the literals starting
// with them compared; a long text, by the event's gram set of it
// instead (anyIn). It is immutable.
type containsIndex struct {
	bloom [64]uint64          // 4,096 bits by hash of three bytes
	tri   map[uint32][]string // literals by their first three bytes
	short []string            // literals under three bytes, searched in turn
	long  []string            // the others
}

func newContainsIndex(lits []string) *containsIndex {
	x := &containsIndex{tri: map[uint32][]string{}}
	for _, l := range lits {
		if len(l) < 3 {
			x.short = append(x.short, l)
			continue
		}
		x.long = append(x.long, l)
		k := trigram(l, 0)
		h := trigramHash(k)
		x.bloom[h>>6] |= 1 << (h & 63)
		x.tri[k] = append(x.tri[k], l)
	}
	return x
}

func trigram(s string, i int) uint32 {
	return uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
}

func trigramHash(k uint32) uint32 { return (k * 2654435761) >> 20 }

// anyIn is any for a text of the event st evaluates: a long text is
// looked up in its gram set (gramsOf) instead of walked.
func (x *containsIndex) anyIn(st *state, s string) bool {
	if len(s) < minGramText {
		return x.any(s)
	}
	g := st.gramsOf(s, true)
	if g == nil {
		return x.any(s)
	}
	for _, l := range x.short {
		if strings.Contains(s, l) {
			return true
		}
	}
	for _, l := range x.long {
		if g.mayContain(l) && strings.Contains(s, l) {
			return true
		}
	}
	return false
}

// any reports whether s contains one of the literals.
func (x *containsIndex) any(s string) bool {
	for _, l := range x.short {
		if strings.Contains(s, l) {
			return true
		}
	}
	if len(s) < 3 {
		return false
	}
	// k holds the three bytes ending at i, rolled along.
	k := uint32(s[0])<<8 | uint32(s[1])
	for i := 2; i < len(s); i++ {
		k = (k<<8 | uint32(s[i])) & 0xffffff
		if h := trigramHash(k); x.bloom[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		for _, l := range x.tri[k] {
			if strings.HasPrefix(s[i-2:], l) {
				return true
			}
		}
	}
	return false
}

// affixIndex answers many exact, prefix or suffix values of one shape
// (ASCII lower case) with a hash lookup instead of a comparison each: the
// values by their first (prefix), last (suffix) or all (exact) k bytes,
// k the length of the shortest. Image|endswith lists of 50 system
// binaries are common in SigmaHQ rules. It is immutable.
type affixIndex struct {
	shape shape
	k     int
	byKey map[string][]string
}

func newAffixIndex(sh shape, lits []string) *affixIndex {
	x := &affixIndex{shape: sh, k: len(lits[0]), byKey: map[string][]string{}}
	for _, l := range lits {
		x.k = min(x.k, len(l))
	}
	for _, l := range lits {
		k := l[:x.k]
		if sh == shSuffix {
			k = l[len(l)-x.k:]
		}
		x.byKey[k] = append(x.byKey[k], l)
	}
	return x
}

// any reports whether s (lower-cased) has one of the values.
func (x *affixIndex) any(s string) bool {
	if len(s) < x.k {
		return false
	}
	switch x.shape {
	case shExact:
		for _, l := range x.byKey[s[:x.k]] {
			if l == s {
				return true
			}
		}
	case shPrefix:
		for _, l := range x.byKey[s[:x.k]] {
			if strings.HasPrefix(s, l) {
				return true
			}
		}
	case shSuffix:
		for _, l := range x.byKey[s[len(s)-x.k:]] {
			if strings.HasSuffix(s, l) {
				return true
			}
		}
	}
	return false
}

// anyHay is any for a value: its lower-cased text when known, else its
// text, of which only the key's bytes are lowered (into a buffer on the
// stack) and the values compared ASCII case-insensitively.
func (x *affixIndex) anyHay(st *state, h *hay) bool {
	t := h.text
	if h.lowOK || x.k > maxAffixKey {
		return x.any(h.lower(st))
	}
	if len(t) < x.k {
		return false
	}
	var buf [maxAffixKey]byte
	key := buf[:x.k]
	if x.shape == shSuffix {
		copy(key, t[len(t)-x.k:])
	} else {
		copy(key, t[:x.k])
	}
	for i, c := range key {
		key[i] = foldTable[c]
	}
	for _, l := range x.byKey[string(key)] {
		n := len(l)
		switch {
		case x.shape == shExact:
			if len(t) == n && equalLowerASCII(t, l) {
				return true
			}
		case len(t) < n:
		case x.shape == shPrefix:
			if equalLowerASCII(t[:n], l) {
				return true
			}
		default:
			if equalLowerASCII(t[len(t)-n:], l) {
				return true
			}
		}
	}
	return false
}

// maxAffixKey bounds the key anyHay lowers on the stack; a longer one
// lowers the text.
const maxAffixKey = 32

// index builds the indexes of a test that is answered by any of its
// matchers: its ASCII case-insensitive contains values (looked up in the
// lower-cased text), its case-sensitive ones (base64 forms, cased; looked
// up in the text itself), and its ASCII case-insensitive exact, prefix and
// suffix values (affixIndex, one per shape), each when it has at least
// minIndexed of them. The values indexed leave rest; the other matchers
// stay.
func (t *test) index() {
	if t.all {
		return
	}
	var lits, cased []string
	affix := map[shape][]string{}
	for _, m := range t.matchers {
		if m.kind != mGlob {
			continue
		}
		switch {
		case m.pat.shape == shContains && m.pat.fold == foldASCII:
			lits = append(lits, m.pat.lit)
		case m.pat.shape == shContains && m.pat.fold == foldNone:
			cased = append(cased, m.pat.lit)
		case m.pat.fold == foldASCII && m.pat.lit != "" && (m.pat.shape == shExact || m.pat.shape == shPrefix || m.pat.shape == shSuffix):
			affix[m.pat.shape] = append(affix[m.pat.shape], m.pat.lit)
		}
	}
	foldIdx, casedIdx := len(lits) >= minIndexed, len(cased) >= minIndexed
	indexed := func(m *matcher) bool {
		if m.kind != mGlob {
			return false
		}
		switch m.pat.shape {
		case shContains:
			return m.pat.fold == foldASCII && foldIdx || m.pat.fold == foldNone && casedIdx
		case shExact, shPrefix, shSuffix:
			return m.pat.fold == foldASCII && m.pat.lit != "" && len(affix[m.pat.shape]) >= minIndexed
		}
		return false
	}
	var rest []matcher
	for i := range t.matchers {
		if !indexed(&t.matchers[i]) {
			rest = append(rest, t.matchers[i])
		}
	}
	if len(rest) == len(t.matchers) {
		return
	}
	if foldIdx {
		t.cidx = newContainsIndex(lits)
	}
	if casedIdx {
		t.ccidx = newContainsIndex(cased)
	}
	for _, sh := range []shape{shExact, shPrefix, shSuffix} {
		if len(affix[sh]) >= minIndexed {
			t.aidx = append(t.aidx, newAffixIndex(sh, affix[sh]))
		}
	}
	t.rest, t.indexed = rest, true
}
