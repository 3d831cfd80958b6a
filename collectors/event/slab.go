package event

import "unsafe"

// FieldSlab carves events' field slices out of shared blocks, saving one
// allocation per event on the collectors' hot paths. An event's fields are
// assembled in the room at the end of the current block (Room) and then
// handed over (Claim) with a capacity of exactly their length, so that
// growing one event's fields (Set) never touches a neighbour's.
//
// A FieldSlab is not safe for concurrent use; the zero value is ready.
type FieldSlab struct {
	block []Field
}

// SlabFields is how many fields one block holds: as many as fit in 32 KiB,
// the largest size the runtime allocates from its per-P caches (larger
// blocks are much slower to allocate and keep more memory alive while any
// of their events is).
const SlabFields = (32 << 10) / int(unsafe.Sizeof(Field{}))

// Room returns an empty slice with room for at least n fields at the end
// of the current block (a new block when it has not). More than a quarter
// of a block gets a slice of its own.
func (s *FieldSlab) Room(n int) []Field {
	if n > SlabFields/4 {
		return make([]Field, 0, n)
	}
	if len(s.block)+n > cap(s.block) {
		s.block = make([]Field, 0, SlabFields)
	}
	return s.block[len(s.block):len(s.block):cap(s.block)]
}

// Claim takes the fields f, assembled in the slice Room returned (grown in
// place or, beyond its room, moved elsewhere), out of the block, and returns
// them with a capacity of exactly their length.
func (s *FieldSlab) Claim(f []Field) []Field {
	if len(s.block) < cap(s.block) && len(f) > 0 && &s.block[:len(s.block)+1][len(s.block)] == &f[0] {
		s.block = s.block[:len(s.block)+len(f)]
	}
	return f[:len(f):len(f)]
}
