package sigma

import (
	"math/bits"
	"strings"
)

// Anchor scanning: a few literals are found in a long text (a rendered
// message) by searching, with the processor's vectorized byte search, for
// one rare byte of each literal (its anchor), and comparing the literals
// only where an anchor occurs and the byte after it may follow it in one.
// It reads a kilobyte of text faster than an automaton steps through it.
const (
	maxAnchorLits   = 24  // literals of a set scanned by anchors, at most (32 at most: a bit each in anchorPass.hitsAt)
	maxAnchorPasses = 6   // byte searches per text, at most
	minAnchorText   = 256 // shorter texts are scanned by the automaton
)

// anchorScanner finds a set of literals like litScanner, by anchors. It is
// immutable and safe for concurrent use.
type anchorScanner struct {
	passes []anchorPass
	// pf finds the positions where an anchor and a byte that may follow
	// it occur, 32 bytes at a time, for all passes at once (vector
	// instructions where the processor has them).
	pf *pairFilter
}

// anchorPass is one byte search: the literals whose anchor is the byte b
// (a letter's two cases are two passes). next holds, a bit per byte, the
// bytes that may follow the anchor in one of them.
type anchorPass struct {
	b    byte
	next [4]uint64
	lits []anchorLit
	// byPrev, for a pass of more than minPrevLits literals, holds by
	// the byte before the anchor (ASCII case folded) a bit per literal
	// (in lits) that byte may precede; start, those whose anchor is their
	// first byte. hitsAt compares only those, not every literal at each
	// "::" of an IPv6 address.
	byPrev *[256]uint32
	start  uint32
}

// minPrevLits is the number of literals of a pass from which it indexes
// them by the byte before the anchor.
const minPrevLits = 4

type anchorLit struct {
	lit string // ASCII lower case
	at  int    // the offset of the anchor in lit
	id  int32  // reported on a hit
}

// anchorRank orders bytes from rare to common in event texts.
func anchorRank(c byte) int {
	switch {
	case c >= 0x80:
		return 0
	case strings.IndexByte("`^~|<>!$#@;{}[]'\"&+=?*%", c) >= 0:
		return 1
	case strings.IndexByte("qjzxkvy", c) >= 0:
		return 2
	case strings.IndexByte(",()", c) >= 0:
		return 3
	case strings.IndexByte("bfgp", c) >= 0:
		return 4
	case strings.IndexByte(":/_-.", c) >= 0:
		return 6
	case '0' <= c && c <= '9':
		return 7
	case 'a' <= c && c <= 'z':
		return 8
	}
	return 16 // space, backslash, control bytes
}

// anchorCost estimates the price of searching for b: how often it occurs,
// twice for a letter (both cases are searched).
func anchorCost(b byte) int {
	c := anchorRank(b) + 1
	if 'a' <= b && b <= 'z' {
		c *= 2
	}
	return c
}

// newAnchorScanner returns the anchor scanner of lits (ASCII lower case,
// not empty), reporting ids[i] for lits[i], or nil when they are too many
// or need too many searches.
func newAnchorScanner(lits []string, ids []int32) *anchorScanner {
	if len(lits) == 0 || len(lits) > maxAnchorLits {
		return nil
	}
	// Greedily, the anchor byte with the lowest cost per literal it
	// covers, until every literal has one.
	byByte := map[byte][]anchorLit{}
	var order []byte
	done := make([]bool, len(lits))
	for left := len(lits); left > 0; {
		var count [256]int
		for i, l := range lits {
			if done[i] {
				continue
			}
			var seen [256]bool
			for j := 0; j < len(l); j++ {
				if !seen[l[j]] {
					seen[l[j]] = true
					count[l[j]]++
				}
			}
		}
		best := -1
		for b := range 256 {
			if count[b] > 0 && (best < 0 || anchorCost(byte(b))*count[best] < anchorCost(byte(best))*count[b]) {
				best = b
			}
		}
		b := byte(best)
		order = append(order, b)
		for i, l := range lits {
			if at := strings.IndexByte(l, b); !done[i] && at >= 0 {
				byByte[b] = append(byByte[b], anchorLit{lit: l, at: at, id: ids[i]})
				done[i] = true
				left--
			}
		}
	}
	a := &anchorScanner{}
	for _, b := range order {
		p := anchorPass{b: b, lits: byByte[b]}
		for _, l := range p.lits {
			if l.at+1 >= len(l.lit) {
				p.next = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
				continue
			}
			c := l.lit[l.at+1]
			p.next[c>>6] |= 1 << (c & 63)
			if 'a' <= c && c <= 'z' {
				c = c - 'a' + 'A'
				p.next[c>>6] |= 1 << (c & 63)
			}
		}
		if len(p.lits) > minPrevLits {
			p.byPrev = new([256]uint32)
			for i, l := range p.lits {
				if l.at == 0 {
					p.start |= 1 << i
					continue
				}
				c := l.lit[l.at-1]
				p.byPrev[c] |= 1 << i
				if 'a' <= c && c <= 'z' {
					p.byPrev[c-'a'+'A'] |= 1 << i
				}
			}
		}
		a.passes = append(a.passes, p)
		if 'a' <= b && b <= 'z' {
			p.b = b - 'a' + 'A'
			a.passes = append(a.passes, p)
		}
	}
	if len(a.passes) > maxAnchorPasses {
		return nil
	}
	a.pf = newPairFilter(a.passes)
	return a
}

// scan appends to hits the reported index of each literal occurring in s.
func (a *anchorScanner) scan(s string, hits []int32) []int32 {
	if a.pf != nil && len(s) >= minPairText {
		return a.scanPairs(s, hits)
	}
	for pi := range a.passes {
		p := &a.passes[pi]
		for from := 0; ; {
			j := strings.IndexByte(s[from:], p.b)
			if j < 0 {
				break
			}
			pos := from + j
			from = pos + 1
			hits = p.hitsAt(s, pos, hits)
		}
	}
	return hits
}

// hitsAt appends the literals of the pass that occur in s with their
// anchor at s[pos] (which is the pass's byte), the byte after it checked
// first.
func (p *anchorPass) hitsAt(s string, pos int, hits []int32) []int32 {
	if pos+1 < len(s) {
		if c := s[pos+1]; p.next[c>>6]&(1<<(c&63)) == 0 {
			return hits
		}
	}
	// The literals to compare, a bit each (at most maxAnchorLits).
	m := uint32(1)<<len(p.lits) - 1
	if p.byPrev != nil {
		m = p.start
		if pos > 0 {
			m |= p.byPrev[s[pos-1]]
		}
	}
	for ; m != 0; m &= m - 1 {
		l := &p.lits[bits.TrailingZeros32(m)]
		if start := pos - l.at; start >= 0 && start+len(l.lit) <= len(s) && equalLowerASCII(s[start:start+len(l.lit)], l.lit) {
			hits = append(hits, l.id)
		}
	}
	return hits
}

// equalLowerASCII reports whether s, ASCII lower-cased, is low (of the
// same length), eight bytes at a time.
func equalLowerASCII(s, low string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if lowerWord(load64(s[i:])) != load64(low[i:]) {
			return false
		}
	}
	for ; i < len(s); i++ {
		if foldTable[s[i]] != low[i] {
			return false
		}
	}
	return true
}

// load64 reads the first eight bytes of s (at least eight), the first in
// the low byte.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// minPairText is the text length from which the pair filter scans it.
const minPairText = 64

// scanPairs is scan by the pair filter: the candidate positions of every
// pass in one pass over s, each checked exactly, then the last byte (an
// anchor there has no next byte to check).
func (a *anchorScanner) scanPairs(s string, hits []int32) []int32 {
	var masks [64]uint32
	for done := 0; ; {
		n := a.pf.masks(s[32*done:], masks[:])
		for k, m := range masks[:n] {
			for ; m != 0; m &= m - 1 {
				pos := 32*(done+k) + bits.TrailingZeros32(m)
				hits = a.check(s, pos, a.pf.buckets(s[pos], s[pos+1]), hits)
			}
		}
		done += n
		if n < len(masks) {
			for pos := 32 * done; pos+1 < len(s); pos++ {
				if b := a.pf.buckets(s[pos], s[pos+1]); b != 0 {
					hits = a.check(s, pos, b, hits)
				}
			}
			break
		}
	}
	return a.check(s, len(s)-1, ^byte(0), hits)
}

// check appends the literals of the passes in buckets (a bit per pass)
// whose anchor is at s[pos] and followed by a byte that may follow it.
func (a *anchorScanner) check(s string, pos int, buckets byte, hits []int32) []int32 {
	for ; buckets != 0; buckets &= buckets - 1 {
		k := bits.TrailingZeros8(buckets)
		if k >= len(a.passes) {
			break
		}
		if p := &a.passes[k]; s[pos] == p.b {
			hits = p.hitsAt(s, pos, hits)
		}
	}
	return hits
}
