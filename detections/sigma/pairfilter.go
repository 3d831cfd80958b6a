package sigma

// pairFilter finds the candidate positions of an anchorScanner's passes 32
// bytes at a time: a position where a pass's anchor byte is followed by a
// byte that may follow it in one of its literals. It works like the Teddy
// prefilter of Hyperscan: each pass is a bucket (a bit, at most 8), and
// four tables give the buckets whose anchor has a byte's low and high
// nibble and those whose next bytes do; a position is a candidate when a
// bucket is in all four. An anchor is exact (one byte per bucket); the
// next bytes may admit a few others (nibbles of different bytes), which
// the scan checks.
type pairFilter struct {
	// tbl holds the anchors' low- and high-nibble tables and the next
	// bytes', 16 entries each, repeated for the two 128-bit lanes.
	tbl [4][32]byte
}

// maxPairBuckets is the number of passes a pairFilter takes.
const maxPairBuckets = 8

// newPairFilter returns the filter of passes, nil when there are too many.
func newPairFilter(passes []anchorPass) *pairFilter {
	if len(passes) == 0 || len(passes) > maxPairBuckets {
		return nil
	}
	f := &pairFilter{}
	for k := range passes {
		bit := byte(1) << k
		p := &passes[k]
		f.set(0, p.b, bit)
		for c := range 256 {
			if p.next[c>>6]&(1<<(c&63)) != 0 {
				f.set(2, byte(c), bit)
			}
		}
	}
	return f
}

// set adds bucket bit to the tables at t (anchor 0, next 2) for byte c.
func (f *pairFilter) set(t int, c, bit byte) {
	for lane := 0; lane < 32; lane += 16 {
		f.tbl[t][lane+int(c&15)] |= bit
		f.tbl[t+1][lane+int(c>>4)] |= bit
	}
}

// buckets returns the buckets that may hold at a position of byte c
// followed by next: c is their anchor, and next may follow it.
func (f *pairFilter) buckets(c, next byte) byte {
	return f.tbl[0][c&15] & f.tbl[1][c>>4] & f.tbl[2][next&15] & f.tbl[3][next>>4]
}

// masks sets out[k], for the blocks k of 32 positions of s with a next
// byte (32k+32 < len(s)), to the bits of their candidate positions, and
// returns the number of blocks done: at most len(out).
func (f *pairFilter) masks(s string, out []uint32) int {
	blocks := min((len(s)-1)/32, len(out))
	if blocks <= 0 {
		return 0
	}
	pairMasks(f, s, out[:blocks])
	return blocks
}

// pairMasksGo is masks without vector instructions.
func pairMasksGo(f *pairFilter, s string, out []uint32) {
	for k := range out {
		var m uint32
		base := 32 * k
		for j := range 32 {
			if f.buckets(s[base+j], s[base+j+1]) != 0 {
				m |= 1 << j
			}
		}
		out[k] = m
	}
}
