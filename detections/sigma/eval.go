package sigma

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// state is the scratch space of evaluations. States are pooled, so an
// evaluation that matches nothing allocates nothing once the pool is warm.
//
// A state remembers each candidate lookup (slots), and which namespace roots
// ("winlog.", "process.") the event has at all, so that a candidate under an
// absent root costs no lookup. Candidates are looked up lazily, in order, so
// a test that matches on its first candidate looks up no other. Lower-cased
// texts are appended to an arena.
//
// All of this is kept for as long as the state sees the same, unchanged
// event: the engine evaluates many rules on one event in a row, and the pool
// tends to hand the same state back on the same goroutine. The event counts
// as unchanged while its pointer, the backing array and length of its
// Fields, the field names at each position (a fingerprint of the name
// strings' addresses and lengths) and its Dataset are the same; the state
// holds references to all of them, so their addresses cannot be reused for
// another event meanwhile. Set on an existing field changes a value in
// place: values are always read live, and a cached lower-case text is used
// only for the exact text it came from.
type state struct {
	ev      *event.Event
	fields  []event.Field // ev.Fields when the cache was built
	names   uint64        // fingerprint of the field names then
	dsName  string        // ev.Dataset when the cache was built
	dataset event.Value   // Event.Dataset as a value
	gen     uint32        // cache generation: slots of older ones are stale
	slots   []slot        // by fieldRef.id
	cands   []candState   // arena of candidate lookups
	roots   []rootProbe   // roots probed for this event
	buf     []byte        // arena of lower-cased texts
	// reusable: the cache may serve a later getState of the same event
	// (not after getFreshState, which does not fingerprint the names).
	reusable bool
	// shapeIdx, when not nil, gives by candidate name number (cand.nid)
	// the index in ev.Fields of the first field of that name, or
	// candAbsent: the Set sets it for an event of a cached field shape
	// (fieldShape.idx).
	shapeIdx []int32
	// grams[:ngrams] are the trigram sets of the event's long texts
	// (gramsOf).
	grams  []*textGrams
	ngrams int
}

// slot locates the candidate lookups of one field reference.
type slot struct {
	gen uint32
	off int32 // cands[off : off+len(fieldRef.cands)]
}

// candState is the lookup of one candidate.
type candState struct {
	idx   int32  // index into ev.Fields, or one of the cand* constants
	src   string // the scalar text low was computed from
	low   string // lower-cased src, when lowOK
	lowOK bool
}

const (
	candUnknown int32 = -1 // not looked up yet
	candAbsent  int32 = -2
	candDataset int32 = -3 // Event.Dataset
)

type rootProbe struct {
	root    string
	present bool
}

// Bounds on what a pooled state keeps.
const (
	maxScratch = 1 << 20 // bytes of lowered text
	maxLookups = 1 << 16 // candidate lookups
	maxSlots   = 1 << 16 // field references with a cache slot
)

var statePool = sync.Pool{New: func() any { return &state{buf: make([]byte, 0, 1024)} }}

func getState(ev *event.Event) *state {
	st := statePool.Get().(*state)
	var names uint64
	if ev != nil {
		names = nameFingerprint(ev.Fields)
		if st.reusable && st.ev == ev && len(st.fields) == len(ev.Fields) && unsafe.SliceData(st.fields) == unsafe.SliceData(ev.Fields) &&
			st.names == names && st.dsName == ev.Dataset {
			return st
		}
	}
	st.begin(ev, names)
	st.reusable = true
	return st
}

// getFreshState returns a state for one evaluation of ev (Set.EvalAll,
// which evaluates every rule at once): its cache starts empty, without the
// fingerprint of the field names getState checks, and a later getState does
// not reuse it.
func getFreshState(ev *event.Event) *state {
	st := statePool.Get().(*state)
	st.begin(ev, 0)
	st.reusable = false
	return st
}

// begin empties the cache for ev, whose field names have fingerprint names.
func (st *state) begin(ev *event.Event, names uint64) {
	st.ev, st.fields, st.names, st.dsName, st.shapeIdx = ev, nil, names, "", nil
	if ev != nil {
		st.fields, st.dsName = ev.Fields, ev.Dataset
	}
	st.gen++
	if st.gen == 0 {
		clear(st.slots)
		st.gen = 1
	}
	st.cands, st.roots, st.buf = st.cands[:0], st.roots[:0], st.buf[:0]
	for _, g := range st.grams[:st.ngrams] {
		g.text = ""
	}
	st.ngrams = 0
	st.dataset = event.Value{}
	if ev != nil && ev.Dataset != "" {
		st.dataset = event.Value{Kind: event.String, Str: ev.Dataset}
	}
}

// nameFingerprint mixes the address and length of every field name, in
// order: inserting, deleting or renaming a field in place changes it.
func nameFingerprint(fs []event.Field) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := range fs {
		h = (h ^ uint64(uintptr(unsafe.Pointer(unsafe.StringData(fs[i].Name))))) * prime
		h = (h ^ uint64(len(fs[i].Name))) * prime
	}
	return h
}

func putState(st *state) {
	st.shapeIdx = nil
	if cap(st.buf) > maxScratch || cap(st.cands) > maxLookups {
		// Drop the cache with the oversized arenas.
		st.ev, st.fields, st.buf, st.cands = nil, nil, make([]byte, 0, 1024), nil
	}
	statePool.Put(st)
}

// lowerASCII returns s with ASCII letters lower-cased. When s has no upper
// case letter it is returned as is; otherwise the result is appended to the
// arena and stays valid as long as the state caches this event.
func (st *state) lowerASCII(s string) string {
	// The first upper-case letter, eight bytes at a time.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if x := load64(s[i:]); lowerWord(x) != x {
			break
		}
	}
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	start := len(st.buf)
	st.buf = append(st.buf, s...)
	b := st.buf[start:]
	for i &^= 7; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], lowerWord(binary.LittleEndian.Uint64(b[i:])))
	}
	for ; i < len(b); i++ {
		b[i] = foldTable[b[i]]
	}
	// The arena is append-only while the state caches one event: these
	// bytes do not change while the string may be used. When append moves
	// the arena, the old array stays alive through the strings into it.
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// hasRoot reports whether the event has a field under root ("winlog.").
func (st *state) hasRoot(root string) bool {
	for i := range st.roots {
		if st.roots[i].root == root {
			return st.roots[i].present
		}
	}
	fs := st.ev.Fields
	i, _ := slices.BinarySearchFunc(fs, root, cmpField)
	ok := i < len(fs) && strings.HasPrefix(fs[i].Name, root)
	st.roots = append(st.roots, rootProbe{root: root, present: ok})
	return ok
}

func cmpField(f event.Field, name string) int { return strings.Compare(f.Name, name) }

// lookups returns the candidate lookups of f for the current event, one per
// candidate, reserving them on first use. Use with candidate.
func (st *state) lookups(f *fieldRef) []candState {
	n := int32(len(f.cands))
	if f.id < len(st.slots) {
		if s := &st.slots[f.id]; s.gen == st.gen {
			return st.cands[s.off : s.off+n]
		}
	} else if f.id < maxSlots {
		st.slots = append(st.slots, make([]slot, f.id+1-len(st.slots))...)
	}
	off := int32(len(st.cands))
	for range n {
		st.cands = append(st.cands, candState{idx: candUnknown})
	}
	if f.id < len(st.slots) {
		st.slots[f.id] = slot{gen: st.gen, off: off}
	}
	return st.cands[off : off+n]
}

// candidate returns the value of candidate i of f, looking it up when cs[i]
// does not know it yet, or nil when the event does not have it.
func (st *state) candidate(f *fieldRef, cs []candState, i int) *event.Value {
	c := &cs[i]
	if c.idx == candUnknown {
		c.idx = candAbsent
		fc := &f.cands[i]
		switch {
		case fc.dataset && st.dataset.Kind == event.String:
			c.idx = candDataset
		case st.shapeIdx != nil && fc.nid >= 0 && int(fc.nid) < len(st.shapeIdx):
			// The field shape's index: the first field of that name, as
			// the binary search below finds it.
			if j := st.shapeIdx[fc.nid]; j >= 0 {
				c.idx = j
			}
		case fc.root != "" && !st.hasRoot(fc.root):
		default:
			if j, ok := slices.BinarySearchFunc(st.ev.Fields, fc.name, cmpField); ok {
				c.idx = int32(j)
			}
		}
	}
	switch c.idx {
	case candAbsent:
		return nil
	case candDataset:
		return &st.dataset
	}
	return &st.ev.Fields[c.idx].Value
}

// fieldIDs numbers field references for the state's slots.
var fieldIDs atomic.Int64

// cand is one event field that may hold a Sigma field.
type cand struct {
	name    string
	root    string // name up to and including its first dot, "" if none
	dataset bool   // event.dataset: Event.Dataset
	nid     int32  // the name's number (candNameID), -1 for none
}

// candNames numbers the event field names candidates read, so that a Set
// can resolve every candidate of an event of a known field shape with one
// array lookup (state.shapeIdx); at most maxCandNames.
var candNames struct {
	sync.RWMutex
	ids map[string]int32
}

const maxCandNames = 1 << 16

// candNameID returns the number of an event field name, numbering it when
// new; -1 once maxCandNames are numbered.
func candNameID(name string) int32 {
	candNames.RLock()
	id, ok := candNames.ids[name]
	candNames.RUnlock()
	if ok {
		return id
	}
	candNames.Lock()
	defer candNames.Unlock()
	if id, ok := candNames.ids[name]; ok {
		return id
	}
	if len(candNames.ids) >= maxCandNames {
		return -1
	}
	if candNames.ids == nil {
		candNames.ids = map[string]int32{}
	}
	id = int32(len(candNames.ids))
	candNames.ids[strings.Clone(name)] = id
	return id
}

// lookupCandName returns the number of name, if it has one.
func lookupCandName(name string) (int32, bool) {
	candNames.RLock()
	id, ok := candNames.ids[name]
	candNames.RUnlock()
	return id, ok
}

// candNameCount is how many names are numbered.
func candNameCount() int {
	candNames.RLock()
	defer candNames.RUnlock()
	return len(candNames.ids)
}

// fieldRef is a Sigma field resolved to the event fields that may hold it.
// A field matches when any candidate matches.
type fieldRef struct {
	name  string // the Sigma field name
	cands []cand
	id    int // slot in the evaluation state
}

func newFieldRef(name string, cands []string) *fieldRef {
	f := &fieldRef{name: name, id: int(fieldIDs.Add(1) - 1)}
	for _, c := range cands {
		root := ""
		if i := strings.IndexByte(c, '.'); i > 0 {
			root = c[:i+1]
		}
		f.cands = append(f.cands, cand{name: c, root: root, dataset: c == event.KeyDataset, nid: candNameID(c)})
	}
	return f
}

// present reports whether any candidate is present.
func (f *fieldRef) present(st *state) bool {
	cs := st.lookups(f)
	for i := range cs {
		if st.candidate(f, cs, i) != nil {
			return true
		}
	}
	return false
}

// isNull reports whether the field is absent or null: no candidate holds a
// value other than null (an empty list counts as null).
func (f *fieldRef) isNull(st *state) bool {
	cs := st.lookups(f)
	for i := range cs {
		if v := st.candidate(f, cs, i); v != nil && !nullValue(v) {
			return false
		}
	}
	return true
}

func nullValue(v *event.Value) bool {
	switch v.Kind {
	case event.Null:
		return true
	case event.List:
		for i := range v.List {
			if v.List[i].Kind != event.Null {
				return false
			}
		}
		return true
	}
	return false
}

// testOp is the kind of a detection item.
type testOp uint8

const (
	opValues  testOp = iota // compare the field's values with matchers
	opNull                  // field: null
	opExists                // field|exists: true/false
	opRef                   // field|fieldref: other
	opKeyword               // field-less search
)

// refMode is how fieldref compares two values.
type refMode uint8

const (
	refEqual refMode = iota
	refPrefix
	refSuffix
	refContains
)

// test is one compiled detection item: a field, how to compare, and the
// values.
type test struct {
	op       testOp
	field    *fieldRef
	matchers []matcher
	all      bool // every matcher must match (|all); else any
	exists   bool // opExists: the wanted presence
	refs     []*fieldRef
	refMode  refMode
	refCased bool
	keywords []string // opKeyword: fields searched first
	// indexed: cidx, when not nil, holds the ASCII case-insensitive
	// contains values of a test that is not under all, ccidx its
	// case-sensitive ones, aidx its exact, prefix and suffix values, and
	// rest its other matchers (index): a scalar matches when cidx or an
	// index of aidx finds one in its lower-cased text, ccidx in its text,
	// or a matcher of rest matches. matchers still holds them all.
	indexed bool
	cidx    *containsIndex
	ccidx   *containsIndex
	aidx    []*affixIndex
	rest    []matcher
}

func (t *test) eval(st *state) bool {
	var r bool
	switch t.op {
	case opNull:
		r = t.field.isNull(st)
	case opExists:
		r = t.field.present(st) == t.exists
	case opRef:
		r = t.evalRef(st)
	case opKeyword:
		r = t.evalKeyword(st)
	default:
		cs := st.lookups(t.field)
		for i := range cs {
			if v := st.candidate(t.field, cs, i); v != nil && t.matchValue(st, v, &cs[i]) {
				r = true
				break
			}
		}
	}
	return r
}

// matchValue matches one event value: a scalar, or a list of which any
// element may match. Under all, every matcher must be matched by some
// element. p, when not nil, caches the lowered text of a scalar.
func (t *test) matchValue(st *state, v *event.Value, p *candState) bool {
	if v.Kind != event.List {
		if v.Kind == event.Null {
			return false
		}
		h := makeHay(v)
		if p != nil && p.lowOK && p.src == h.text {
			h.low, h.lowOK = p.low, true
		}
		ok := t.matchHay(st, &h)
		if p != nil && h.lowOK {
			p.src, p.low, p.lowOK = h.text, h.low, true
		}
		return ok
	}
	if !t.all {
		for i := range v.List {
			if e := &v.List[i]; e.Kind != event.Null {
				h := makeHay(e)
				if t.matchHay(st, &h) {
					return true
				}
			}
		}
		return false
	}
	for mi := range t.matchers {
		found := false
		for i := range v.List {
			if e := &v.List[i]; e.Kind != event.Null {
				h := makeHay(e)
				if t.matchers[mi].match(st, &h) {
					found = true
					break
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// matchHay applies the matchers to one scalar.
func (t *test) matchHay(st *state, h *hay) bool {
	if t.indexed {
		if t.cidx != nil && t.cidx.anyIn(st, h.lower(st)) {
			return true
		}
		if t.ccidx != nil && t.ccidx.anyIn(st, h.text) {
			return true
		}
		for _, x := range t.aidx {
			if x.anyHay(st, h) {
				return true
			}
		}
		for i := range t.rest {
			if t.rest[i].match(st, h) {
				return true
			}
		}
		return false
	}
	if t.all {
		for i := range t.matchers {
			if !t.matchers[i].match(st, h) {
				return false
			}
		}
		return true
	}
	for i := range t.matchers {
		if t.matchers[i].match(st, h) {
			return true
		}
	}
	return false
}

// evalKeyword searches the keyword fields (message) when the event has one,
// and every string value of the event otherwise.
func (t *test) evalKeyword(st *state) bool {
	ev := st.ev
	found := false
	for _, name := range t.keywords {
		if v, ok := ev.Get(name); ok && v.Kind == event.String {
			found = true
			if t.matchValue(st, &v, nil) {
				return true
			}
		}
	}
	if found {
		return false
	}
	if !t.all {
		for i := range ev.Fields {
			if v := &ev.Fields[i].Value; stringish(v) && t.matchValue(st, v, nil) {
				return true
			}
		}
		return false
	}
	for mi := range t.matchers {
		one := test{matchers: t.matchers[mi : mi+1]}
		found := false
		for i := range ev.Fields {
			if v := &ev.Fields[i].Value; stringish(v) && one.matchValue(st, v, nil) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// stringish reports whether keyword search looks at v: strings, and lists
// holding strings.
func stringish(v *event.Value) bool {
	switch v.Kind {
	case event.String:
		return true
	case event.List:
		for i := range v.List {
			if v.List[i].Kind == event.String {
				return true
			}
		}
	}
	return false
}

// evalRef compares the field with the referenced fields (fieldref). Any pair
// of candidate values may match.
func (t *test) evalRef(st *state) bool {
	for _, ref := range t.refs {
		ok := t.refMatches(st, ref)
		if ok && !t.all {
			return true
		}
		if !ok && t.all {
			return false
		}
	}
	return t.all
}

func (t *test) refMatches(st *state, ref *fieldRef) bool {
	as := st.lookups(t.field)
	for i := range as {
		a := st.candidate(t.field, as, i)
		if a == nil {
			continue
		}
		bs := st.lookups(ref)
		for j := range bs {
			if b := st.candidate(ref, bs, j); b != nil && t.refValues(a, b) {
				return true
			}
		}
	}
	return false
}

// refValues compares two values, any element of a list with any element of
// the other.
func (t *test) refValues(a, b *event.Value) bool {
	switch {
	case a.Kind == event.List:
		for i := range a.List {
			if t.refValues(&a.List[i], b) {
				return true
			}
		}
		return false
	case b.Kind == event.List:
		for i := range b.List {
			if t.refValues(a, &b.List[i]) {
				return true
			}
		}
		return false
	case a.Kind == event.Null || b.Kind == event.Null:
		return false
	case a.Kind == event.Number && b.Kind == event.Number && t.refMode == refEqual:
		return a.Num == b.Num
	}
	ha, hb := makeHay(a), makeHay(b)
	return t.compareRef(ha.text, hb.text)
}

// compareRef compares a value with the value of a referenced field.
func (t *test) compareRef(s, ref string) bool {
	if t.refCased {
		switch t.refMode {
		case refPrefix:
			return strings.HasPrefix(s, ref)
		case refSuffix:
			return strings.HasSuffix(s, ref)
		case refContains:
			return strings.Contains(s, ref)
		}
		return s == ref
	}
	switch t.refMode {
	case refPrefix:
		_, ok := prefixFold(s, ref)
		return ok
	case refSuffix:
		return suffixFold(s, ref)
	case refContains:
		return containsFold(s, ref)
	}
	return strings.EqualFold(s, ref)
}

// cost estimates the price of evaluating t.
func (t *test) cost() int {
	switch t.op {
	case opNull, opExists:
		return len(t.field.cands)
	case opRef:
		return 10 * len(t.refs)
	case opKeyword:
		c := 0
		for i := range t.matchers {
			c += t.matchers[i].cost()
		}
		return 100 + 10*c
	}
	c := 0
	if t.indexed {
		if t.cidx != nil {
			c += 10
		}
		if t.ccidx != nil {
			c += 10
		}
		c += 5 * len(t.aidx)
		for i := range t.rest {
			c += t.rest[i].cost()
		}
		return 2*len(t.field.cands) + c
	}
	for i := range t.matchers {
		c += t.matchers[i].cost()
	}
	return 2*len(t.field.cands) + c
}

// nodeKind is the kind of a node of a compiled condition.
type nodeKind uint8

const (
	nTest nodeKind = iota
	nAnd
	nOr
	nNot
)

// node is a compiled boolean expression over tests.
type node struct {
	kind nodeKind
	test *test
	kids []*node
	// Set by optimize: the estimated price of evaluating the node.
	optimized bool
	costv     int
}

func (n *node) eval(st *state) bool {
	switch n.kind {
	case nTest:
		return n.test.eval(st)
	case nAnd:
		for _, k := range n.kids {
			if !k.eval(st) {
				return false
			}
		}
		return true
	case nOr:
		for _, k := range n.kids {
			if k.eval(st) {
				return true
			}
		}
		return false
	default:
		return !n.kids[0].eval(st)
	}
}
