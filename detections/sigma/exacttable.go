package sigma

import "math/bits"

// exactTable finds the groups satisfied by a value equal to one of many
// texts, ignoring ASCII case, without lower-casing the value first: the
// hash folds ASCII case as it reads eight bytes at a time, and a slot's
// key (ASCII lower case) is compared with the value by equalLowerASCII.
// It replaces a map from the lowered value, whose lookup copied and
// hashed every channel name, event id and account name of every event.
// It is immutable.
type exactTable struct {
	slots []exactSlot // open addressing, a power of two, at most half full
	shift uint32      // 64 - log2(len(slots))
}

type exactSlot struct {
	h      uint64
	key    string
	groups []int32 // nil: empty slot
}

// newExactTable indexes m, whose keys are ASCII lower case (other bytes
// compare exactly).
func newExactTable(m map[string][]int32) *exactTable {
	n := 1 << bits.Len(uint(2*len(m)))
	t := &exactTable{slots: make([]exactSlot, n), shift: uint32(64 - bits.TrailingZeros(uint(n)))}
	for k, gs := range m {
		if len(gs) == 0 {
			continue
		}
		h := foldHash(k)
		i := h >> t.shift
		for t.slots[i].groups != nil {
			i = (i + 1) & uint64(n-1)
		}
		t.slots[i] = exactSlot{h: h, key: k, groups: gs}
	}
	return t
}

// get returns the groups of the key equal to s with its ASCII letters
// lower-cased, nil for none.
func (t *exactTable) get(s string) []int32 {
	h := foldHash(s)
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.groups == nil {
			return nil
		}
		if sl.h == h && len(sl.key) == len(s) && equalLowerASCII(s, sl.key) {
			return sl.groups
		}
	}
}

// foldHash hashes s with its ASCII letters lower-cased, eight bytes at a
// time.
func foldHash(s string) uint64 {
	const (
		m1 = 0x9E3779B97F4A7C15
		m2 = 0xC2B2AE3D27D4EB4F
	)
	h := uint64(len(s)) * m1
	for ; len(s) >= 8; s = s[8:] {
		x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = bits.RotateLeft64((h^lowerWord(x))*m2, 31) * m1
	}
	if len(s) > 0 {
		var x uint64
		for j := range len(s) {
			x |= uint64(s[j]) << (8 * j)
		}
		h = bits.RotateLeft64((h^lowerWord(x))*m2, 31) * m1
	}
	h ^= h >> 29
	h *= m2
	return h ^ h>>32
}
