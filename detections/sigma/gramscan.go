package sigma

import "math/bits"

// gramLen is the length of the grams a gramScanner looks literals up by.
const gramLen = 4

// foldTable maps ASCII upper-case letters to lower case, other bytes to
// themselves.
var foldTable = func() (t [256]byte) {
	for b := range 256 {
		t[b] = byte(b)
	}
	for b := 'A'; b <= 'Z'; b++ {
		t[b] = byte(b + 'a' - 'A')
	}
	return t
}()

// gramScanner finds, in one pass over a text, every occurrence of a set of
// literals of at least gramLen bytes, ignoring ASCII case like litScanner:
// the gramLen bytes (ASCII lower-cased) ending at each text position are
// checked against a bit set of one gram of each literal, and only on a hit
// are the literals with that gram compared. Its tables are a small
// fraction of a dense automaton's for the same literals, so that they stay
// in the processor's caches when the literals are many. It is immutable
// and safe for concurrent use.
type gramScanner struct {
	bloom []uint64 // by hash of a gram
	shift uint32   // 32 - log2(bits of bloom)
	// slots is an open-addressing table of the grams (a gram, then the
	// literals looked up by it: ids[off : off+n]); slot n == 0 is empty.
	slots    []gramSlot
	slotBits uint32
	ids      []gramLit // per slot run: the literals
	// step > 1: every literal is at least gramLen+step-1 bytes long and
	// is looked up by each of its grams, so that the scan checks the gram
	// ending at one position in step only (those of hash values, 16 hex
	// digits or more, one in 13).
	step int
}

// gramLit is a literal as its gram's slot holds it, so that comparing it
// with the text reads no other memory for literals of up to eight bytes.
type gramLit struct {
	head uint64 // the first eight bytes (fewer: zero above), first lowest
	rest string // the bytes after them
	n    int32  // the literal's length
	at   int32  // the offset of its gram
	out  int32  // reported on a hit
}

type gramSlot struct {
	gram   uint32
	off, n uint32
}

func gramHash(w uint32) uint32 { return w * 0x9E3779B1 }

func slotHash(w uint32) uint32 { return w * 0x85EBCA6B }

// newGramScanner indexes lits (each at least gramLen bytes, ASCII lower
// case); a hit reports out[i] for lits[i].
func newGramScanner(lits []string, out []int32) *gramScanner {
	g := &gramScanner{step: 1}
	type entry struct{ lit, at int32 } // a literal, the offset of its gram
	byGram := map[uint32][]entry{}
	var order []uint32
	add := func(i, at int) {
		w := gramOf(lits[i][at:])
		if byGram[w] == nil {
			order = append(order, w)
		}
		byGram[w] = append(byGram[w], entry{int32(i), int32(at)})
	}
	minLen := len(lits[0])
	for _, l := range lits {
		minLen = min(minLen, len(l))
	}
	if k := minLen - gramLen + 1; k >= minGramStep && len(lits)*k <= maxStepGrams {
		// Every literal spans k gram positions or more: checking one
		// position in k finds it by one of its grams, if each of its
		// grams looks it up.
		g.step = k
		for i, l := range lits {
			for j := 0; j+gramLen <= len(l); j++ {
				add(i, j)
			}
		}
	} else {
		// Each literal is looked up by its gram that the fewest literals
		// share, avoiding the grams of commonText: a gram common among
		// literals (".exe") tends to be common in texts too.
		count := map[uint32]int{}
		for _, l := range lits {
			for j := 0; j+gramLen <= len(l); j++ {
				count[gramOf(l[j:])]++
			}
		}
		for i, l := range lits {
			best := len(l) - gramLen
			for j := best - 1; j >= 0; j-- {
				if gramCost(count, gramOf(l[j:])) < gramCost(count, gramOf(l[best:])) {
					best = j
				}
			}
			add(i, best)
		}
	}
	nbits := max(4096, 16*len(order))
	nbits = min(1<<uint(bits.Len(uint(nbits-1))), 1<<20)
	g.bloom = make([]uint64, nbits/64)
	g.shift = uint32(32 - bits.TrailingZeros(uint(nbits)))
	nslots := 1 << uint(bits.Len(uint(2*len(order)-1)))
	g.slots = make([]gramSlot, nslots)
	g.slotBits = uint32(bits.TrailingZeros(uint(nslots)))
	for _, w := range order {
		h := gramHash(w) >> g.shift
		g.bloom[h>>6] |= 1 << (h & 63)
		k := slotHash(w) >> (32 - g.slotBits)
		for g.slots[k].n != 0 {
			k = (k + 1) & uint32(nslots-1)
		}
		es := byGram[w]
		g.slots[k] = gramSlot{gram: w, off: uint32(len(g.ids)), n: uint32(len(es))}
		for _, e := range es {
			l := lits[e.lit]
			gl := gramLit{n: int32(len(l)), at: e.at, out: out[e.lit]}
			for j := 0; j < min(len(l), 8); j++ {
				gl.head |= uint64(l[j]) << (8 * j)
			}
			if len(l) > 8 {
				gl.rest = l[8:]
			}
			g.ids = append(g.ids, gl)
		}
	}
	return g
}

// minGramStep is the step from which a gramScanner whose literals are all
// long checks one text position in step (gramScanner.step): below it,
// indexing every gram of every literal costs more than it saves. Beyond
// maxStepGrams grams indexed, the tables outgrow the caches and the scan
// is no faster (the 5,254 hash values of the image-load rules: 1.003-1.01
// with it, 2.9 MiB more).
const (
	minGramStep  = 4
	maxStepGrams = 1 << 14
)

// gramCost orders the grams of a literal for looking it up: a gram of
// commonText last, then by the literals sharing it (count).
func gramCost(count map[uint32]int, w uint32) int {
	c := count[w]
	if commonGrams[w] {
		c += 1 << 24
	}
	return c
}

// gramOf packs gramLen bytes, the first in the high byte.
func gramOf(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// scan appends to hits the reported index of each literal occurring in s.
func (g *gramScanner) scan(s string, hits []int32) []int32 {
	if len(s) < gramLen {
		return hits
	}
	fold, bloom, shift := &foldTable, g.bloom, g.shift
	if g.step > 1 {
		for i := gramLen - 1; i < len(s); i += g.step {
			w := uint32(fold[s[i-3]])<<24 | uint32(fold[s[i-2]])<<16 | uint32(fold[s[i-1]])<<8 | uint32(fold[s[i]])
			if h := gramHash(w) >> shift; bloom[h>>6]&(1<<(h&63)) != 0 {
				hits = g.check(s, i+1, w, hits)
			}
		}
		return hits
	}
	w := uint32(fold[s[0]])<<16 | uint32(fold[s[1]])<<8 | uint32(fold[s[2]])
	for i := gramLen - 1; i < len(s); i++ {
		w = w<<8 | uint32(fold[s[i]])
		h := gramHash(w) >> shift
		if bloom[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		hits = g.check(s, i+1, w, hits)
	}
	return hits
}

// check appends the literals whose gram w ends at s[:end].
func (g *gramScanner) check(s string, end int, w uint32, hits []int32) []int32 {
	mask := uint32(len(g.slots) - 1)
	for k := slotHash(w) >> (32 - g.slotBits); ; k = (k + 1) & mask {
		sl := &g.slots[k]
		if sl.n == 0 {
			return hits
		}
		if sl.gram != w {
			continue
		}
		for i := range g.ids[sl.off : sl.off+sl.n] {
			gl := &g.ids[sl.off+uint32(i)]
			start := end - gramLen - int(gl.at)
			if start < 0 || start+int(gl.n) > len(s) {
				continue
			}
			var x uint64
			if gl.n >= 8 {
				x = load64(s[start:])
			} else {
				for j := range int(gl.n) {
					x |= uint64(s[start+j]) << (8 * j)
				}
			}
			if lowerWord(x) != gl.head {
				continue
			}
			if gl.rest != "" && !equalLowerASCII(s[start+8:start+int(gl.n)], gl.rest) {
				continue
			}
			hits = append(hits, gl.out)
		}
		return hits
	}
}

// lowerWord lower-cases the ASCII letters among eight bytes.
func lowerWord(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	h := x &^ high              // each byte's low seven bits
	ge := h + (0x80-'A')*ones   // high bit: at least 'A'
	gt := h + (0x80-'Z'-1)*ones // high bit: above 'Z'
	return x | (ge&^gt&^x&high)>>2
}

// size is the approximate heap the scanner holds, in bytes.
func (g *gramScanner) size() int {
	n := 8*len(g.bloom) + 12*len(g.slots) + 40*len(g.ids)
	for i := range g.ids {
		n += len(g.ids[i].rest)
	}
	return n
}
