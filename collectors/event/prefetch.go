package event

import "unsafe"

// maxPrefetch bounds the bytes of one field array, text or list the
// prefetches ask for, so that a huge one does not flush the cache it is
// meant to fill.
const maxPrefetch = 64 << 10

// PrefetchAhead is called by a loop that evaluates events in order, before
// it evaluates events[i]: it asks for the fields of events[i+2] and for
// the values of events[i+1], whose fields the call before asked for. Each
// event's memory then arrives while the ones before it are evaluated,
// instead of one cache miss after another when the evaluation reaches
// it. It changes nothing.
func PrefetchAhead(events []Event, i int) {
	if j := i + 2; j >= 0 && j < len(events) {
		events[j].PrefetchFields()
	}
	if j := i + 1; j >= 0 && j < len(events) {
		events[j].PrefetchValues()
	}
}

// PrefetchFields asks the processor to bring the event's field array into
// its caches (the level below the first, so that it does not evict the
// data in use), without waiting for it. It reads nothing; on architectures
// without a prefetch routine it does nothing.
func (e *Event) PrefetchFields() {
	if canPrefetch && len(e.Fields) > 0 {
		prefetch(unsafe.Pointer(unsafe.SliceData(e.Fields)), min(len(e.Fields)*int(unsafe.Sizeof(Field{})), maxPrefetch))
	}
}

// PrefetchValues asks for the texts of the event's values and the
// elements of its lists like PrefetchFields. It reads the field array, so
// it waits for it unless PrefetchFields asked for it a while before; it
// reads nothing the fields point to (a read of memory just asked for
// would wait for it).
func (e *Event) PrefetchValues() {
	if !canPrefetch {
		return
	}
	for i := range e.Fields {
		v := &e.Fields[i].Value
		if n := len(v.Str); n > 0 {
			prefetch(unsafe.Pointer(unsafe.StringData(v.Str)), min(n, maxPrefetch))
		}
		if n := len(v.List); n > 0 {
			prefetch(unsafe.Pointer(unsafe.SliceData(v.List)), min(n*int(unsafe.Sizeof(Value{})), maxPrefetch))
		}
	}
}
