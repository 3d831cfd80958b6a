package sigma

import "strings"

// Long texts: an event's long value (a 5 KB encoded command line) is read
// by dozens of contains tests of the rules that pass, each searching it for
// its own values. Instead, the state walks such a text once and keeps the
// set of its grams (textGramLen consecutive bytes, hashed to one bit of
// 65,536); a value of textGramLen bytes or more occurs in the text only if
// each of its grams is in the set, so that a value that does not occur is
// nearly always rejected by a few bit tests, and only the others are
// searched for.
//
// Grams of four bytes rather than three: the encoded values of SigmaHQ
// rules (base64 of UTF-16 PowerShell) share most of their trigrams with
// any encoded command line, so that a trigram set let them all through to
// a search of the whole text; with four bytes, the OTRF events whose
// command line is over 3 KB take 30 µs instead of 46.
const (
	minGramText  = 2048 // shorter texts, read by fewer tests, are searched directly
	textGramLen  = 4
	textGramBits = 16 // of a gram's hash
	maxTextGrams = 4  // texts whose grams a state keeps per event
)

// textGrams is the gram set of one text, once built.
type textGrams struct {
	text  string
	built bool
	bits  [1 << textGramBits / 64]uint64
}

func textGramHash(k uint32) uint32 { return (k * 2654435761) >> (32 - textGramBits) }

// build sets g to the grams of s.
func (g *textGrams) build(s string) {
	g.text, g.built = s, true
	clear(g.bits[:])
	if len(s) < textGramLen {
		return
	}
	k := uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2])
	for i := textGramLen - 1; i < len(s); i++ {
		k = k<<8 | uint32(s[i])
		h := textGramHash(k)
		g.bits[h>>6] |= 1 << (h & 63)
	}
}

// mayContain reports whether lit may occur in the text: false when one of
// its grams does not; true for a literal shorter than a gram.
func (g *textGrams) mayContain(lit string) bool {
	if len(lit) < textGramLen {
		return true
	}
	k := uint32(lit[0])<<16 | uint32(lit[1])<<8 | uint32(lit[2])
	for i := textGramLen - 1; i < len(lit); i++ {
		k = k<<8 | uint32(lit[i])
		if h := textGramHash(k); g.bits[h>>6]&(1<<(h&63)) == 0 {
			return false
		}
	}
	return true
}

// gramsOf returns the gram set of s (of minGramText bytes or more),
// building it when eager (a test of many values, which would walk the text
// anyway) or the second time s is asked for during the event (a text
// searched for one value once is searched directly), or nil: the first
// time unless eager, and when the state holds maxTextGrams texts already.
// st may be nil.
func (st *state) gramsOf(s string, eager bool) *textGrams {
	if st == nil {
		return nil
	}
	for _, g := range st.grams[:st.ngrams] {
		if g.text == s {
			if !g.built {
				g.build(s)
			}
			return g
		}
	}
	if st.ngrams == maxTextGrams {
		return nil
	}
	if st.ngrams == len(st.grams) {
		st.grams = append(st.grams, &textGrams{})
	}
	g := st.grams[st.ngrams]
	st.ngrams++
	if eager {
		g.build(s)
		return g
	}
	g.text, g.built = s, false
	return nil
}

// containsLong reports whether the long text s (minGramText bytes or more)
// contains lit, by the state's gram set of s when it has one.
func (st *state) containsLong(s, lit string) bool {
	if len(lit) >= textGramLen {
		if g := st.gramsOf(s, false); g != nil && !g.mayContain(lit) {
			return false
		}
	}
	return strings.Contains(s, lit)
}
