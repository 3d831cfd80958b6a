package event

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Field names repeat from event to event. The decoders hand out names from
// one process-wide table, so that equal names share one string: a nested
// name ("Event.System.Channel") costs no allocation once seen, and a
// consumer caching something per list of names (sigma.Set) compares them
// by address. The table is bounded and lock-free: 4-way buckets of
// atomically replaced entries; a name that loses its entry is simply
// copied again the next time.
const (
	internBuckets = 2048
	internWays    = 4
	maxInternLen  = 96 // longer names are not interned
)

type internEntry struct {
	h uint64
	s string
}

var (
	internTab  [internBuckets * internWays]atomic.Pointer[internEntry]
	internSeed = maphash.MakeSeed()
)

// InternName returns a string equal to name, the same string (same
// address) for every equal name while the table keeps it. Names longer
// than 96 bytes and the empty name are returned as they are. It is safe
// for concurrent use.
func InternName(name string) string {
	if len(name) == 0 || len(name) > maxInternLen {
		return name
	}
	h := maphash.String(internSeed, name)
	if s, ok := internFind(h, name); ok {
		return s
	}
	return internStore(h, strings.Clone(name))
}

// internBytes is InternName for a name being built in a buffer: it
// allocates only when the name is not in the table.
func internBytes(b []byte) string {
	if len(b) == 0 || len(b) > maxInternLen {
		return string(b)
	}
	h := maphash.Bytes(internSeed, b)
	// The conversion in the comparison does not allocate.
	if s, ok := internFind(h, unsafe.String(unsafe.SliceData(b), len(b))); ok {
		return s
	}
	return internStore(h, string(b))
}

// internFind returns the table's string equal to name, whose hash is h.
// name may alias a buffer: it is only compared.
func internFind(h uint64, name string) (string, bool) {
	b := internTab[(h%internBuckets)*internWays:][:internWays]
	for i := range b {
		if e := b[i].Load(); e != nil && e.h == h && e.s == name {
			return e.s, true
		}
	}
	return "", false
}

// internStore puts s, whose hash is h, in its bucket, in place of the way
// the hash's high bits choose, and returns it.
func internStore(h uint64, s string) string {
	internTab[(h%internBuckets)*internWays+(h>>62)%internWays].Store(&internEntry{h: h, s: s})
	return s
}

// IsInterned reports whether name is the table's string for its text: the
// same bytes at the same address, so that it is shared rather than part
// of one event's input.
func IsInterned(name string) bool {
	if len(name) == 0 || len(name) > maxInternLen {
		return false
	}
	h := maphash.String(internSeed, name)
	s, ok := internFind(h, name)
	return ok && unsafe.StringData(s) == unsafe.StringData(name)
}

// NameCache is a small cache of interned names in front of InternName, for
// one decoder: a name found in it costs one comparison, without hashing or
// touching the shared table. The zero value is ready; it is not safe for
// concurrent use.
type NameCache struct {
	slots [nameCacheSlots]string
}

const nameCacheSlots = 256

// nameSlot picks a cache slot by a few bytes of a name (not empty).
func nameSlot(n int, first, mid, last byte) int {
	return (int(first) + 5*int(last) + 17*int(mid) + 41*n) & (nameCacheSlots - 1)
}

// Intern returns InternName(name), from the cache when it holds it.
func (c *NameCache) Intern(name string) string {
	n := len(name)
	if n == 0 || n > maxInternLen {
		return name
	}
	slot := &c.slots[nameSlot(n, name[0], name[n>>1], name[n-1])]
	if *slot == name {
		return *slot
	}
	s := InternName(name)
	*slot = s
	return s
}

// internBytes is Intern for a name being built in a buffer.
func (c *NameCache) internBytes(b []byte) string {
	n := len(b)
	if n == 0 || n > maxInternLen {
		return string(b)
	}
	slot := &c.slots[nameSlot(n, b[0], b[n>>1], b[n-1])]
	if *slot == string(b) {
		return *slot
	}
	s := internBytes(b)
	*slot = s
	return s
}
