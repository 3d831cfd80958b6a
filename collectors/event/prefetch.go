package event

import "unsafe"

// maxPrefetch bounds the bytes of one text or list Prefetch asks for, so
// that a huge value does not flush the cache it is meant to fill.
const maxPrefetch = 64 << 10

// Prefetch asks the processor to bring the event's fields, the texts of
// its values and its lists' elements into its caches (the level below the
// first, so that they do not evict the data in use), without waiting for
// them. An engine calls it for the next event of a batch before it
// evaluates the current one: the event's memory then arrives while the
// current one is evaluated, instead of one cache miss after another when
// the evaluation reaches it. It reads the fields' headers, nothing
// behind them (a read of memory just asked for would wait for it), and
// changes nothing; on architectures without a prefetch routine it does
// nothing.
func (e *Event) Prefetch() {
	if !canPrefetch || len(e.Fields) == 0 {
		return
	}
	prefetch(unsafe.Pointer(unsafe.SliceData(e.Fields)), len(e.Fields)*int(unsafe.Sizeof(Field{})))
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
