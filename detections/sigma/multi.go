package sigma

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

// Set evaluates many detection rules at once, with the same results as
// evaluating each (Rule.Eval):
//
//   - each rule has, where its detection allows, groups of necessary terms,
//     each tied to a field (node.litGroups): for every event the rule
//     matches, in each group one term holds for a value of the group's
//     field — a literal occurs in it (ASCII case ignored), or it equals an
//     exact text or number. One automaton per family of event field names
//     finds the literals, in the values of only the fields some rule reads
//     (and of every field for keyword searches); hash tables find the
//     exact values. A rule whose groups are not all satisfied is skipped;
//   - the literals of a family are split by the log source of their rules
//     (scanPart): a field is scanned only for the literals of rules whose
//     log source condition holds for the event, and for keyword literals
//     only where keyword searches look (the message when there is one);
//   - the remaining rules are routed by log source: each distinct pipeline
//     condition (route) is checked at most once per event. The outcome of
//     every route depends only on the values of the few fields the routes
//     read: for events of a field shape seen before, it is cached by those
//     values, so that all routes are known with one lookup, and with them
//     the plan of the scans (routeOutcome): which fields to scan with which
//     parts (two or more small parts of a field merged into one automaton,
//     Set.merged), and the groups the route fields' own values satisfy;
//   - the rules that pass are evaluated with the position of every field
//     they may read taken from the cached shape (fieldShape.idx), not
//     searched by name.
//
// A Set is safe for concurrent use. Its tables are immutable; it keeps
// the merged automata its scan plans ask for (merge.go), at most
// maxMerges.
type Set struct {
	rules []*Rule
	metas []detections.Meta
	// dets are the rules' detections (Rule.det), so that evaluating one
	// reads no Rule, whose metadata lies before it.
	dets []*node
	// routes are the distinct log source conditions (nil: none), routeOf
	// each rule's.
	routes  []*node
	routeOf []int32
	// always lists, in order, the rules without literal groups: evaluated
	// whenever their route holds.
	always []int32
	// groupRule[g] is the rule of group g; groupInfo[g] that rule and its
	// number of groups, for marking, as rule<<3 | groups.
	groupRule []int32
	groupInfo []uint32
	// byName holds the scanner of each event field name some group reads;
	// the one under event.KeyDataset also scans Event.Dataset.
	byName map[string]*fieldScan
	// anyField, when not nil, scans the values of every field without a
	// scanner in byName (whose automata hold its literals too): keyword
	// searches read any field.
	anyField *fieldScan
	// keywords are the fields every keyword search reads first (message):
	// when the event has one as a string, keyword searches read only
	// those, and anyField scans only them. Nil when the searches differ.
	keywords []string
	// scanBytes is the heap held by the automata.
	scanBytes int
	// nids is the number of candidate names numbered when the Set was
	// built (candNameCount): those of its rules, the size of a shape's
	// index.
	nids int
	// routeNames are the event fields the routes read, and routeDataset
	// whether they read Event.Dataset: the routes' outcome is a function
	// of those values, cached per field shape when routeCache.
	routeNames   map[string]bool
	routeDataset bool
	routeCache   bool
	// merges holds the merged automata of scan plans (Set.merged).
	mergeMu sync.Mutex
	merges  map[mergeKey]*fieldScan
}

// fieldScan finds the terms of the groups that read one event field.
type fieldScan struct {
	// parts are the literal automata of the field's family that hold
	// literals of its groups, at most maxParts.
	parts []scanPart
	// exact and nums: the groups satisfied by a value whose ASCII
	// lower-cased text, or whose number, is the key.
	exact    *exactTable
	exactMax int       // the longest key of exact: a longer text is no key
	exactLen [2]uint64 // a bit per length under 128 of a key of exact
	nums     map[float64][]int32
	// alsoAny: the value is scanned by Set.anyField too (keyword literals
	// are not in the parts).
	alsoAny bool
}

// scanPart is one automaton of a field's family, with the groups of the
// field that its literals satisfy. It is scanned only when the event may
// belong to the log source of one of those groups' rules: a rule whose log
// source condition fails cannot match, whatever its literals.
type scanPart struct {
	sc *litScanner // shared by the fields of one family
	// groupIDs[groupOff[i]:groupOff[i+1]] are the groups literal i of sc
	// satisfies here (one array, so that a hit reads no list of its own).
	groupOff []uint32
	groupIDs []int32
	// always: a group's rule has no log source condition; else routes are
	// those of the groups' rules (Set.routes).
	always bool
	routes []int32
	// anyOnly: the groups are keyword searches and the field is not a
	// keyword field, so that they do not read it when the event has one.
	anyOnly bool
}

// partKey names the part of a family's literals: those of the groups of
// the rules of one route, keyword searches (any) or not.
type partKey struct {
	route int32
	any   bool
}

func cmpPartKey(a, b partKey) int {
	switch {
	case a.any != b.any:
		if a.any {
			return -1
		}
		return 1
	case a.route < b.route:
		return -1
	case a.route > b.route:
		return 1
	}
	return 0
}

// famScan is the automata of one family: one per part.
type famScan struct {
	parts   []*famPart
	part    map[partKey]int // index in parts
	withAny bool            // the keyword literals are in a part
}

// famPart is one automaton of a family.
type famPart struct {
	sc    *litScanner
	index map[string]int32 // by cut literal: its index in sc
	cut   int
}

func newFamPart(set map[string]bool) (*famPart, error) {
	// A part whose trie would be large keeps shorter literals.
	f := &famPart{index: map[string]int32{}, cut: maxLiteral}
	total := 0
	for l := range set {
		total += len(l)
	}
	if total > maxFamilyBytes {
		f.cut = shortLiteral
	}
	keys := make([]string, 0, len(set))
	for l := range set {
		keys = append(keys, cutLiteral(l, f.cut))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for i, k := range keys {
		f.index[k] = int32(i)
	}
	sc, err := newLitScanner(keys)
	if err != nil {
		return nil, err
	}
	f.sc = sc
	return f, nil
}

// Parts: each log source gets an automaton of its own in a family, the
// largest first, at most maxParts per family (a bit mask of them per
// field). A log source of a few keyword literals (NotPetya's, for process
// creation) sharing a part with others would have every process creation
// message scanned for the literals of Exchange and print spooler rules.
const maxParts = 64

// Automaton sizes: a family whose literals add up to more than
// maxFamilyBytes keeps only their last shortLiteral bytes, which bounds its
// automaton (about one state per byte) at the price of a few more
// candidates.
const (
	maxFamilyBytes = 1 << 16
	shortLiteral   = 8
)

// cutLiteral returns n bytes of l: the window with the most grams not of
// commonText ("c:\windows\system32\evil.exe" keeps "evil.exe", not
// ":\window"), then with the most adjacent pairs of punctuation (`\..\`,
// `" -`, rarer in values than words), the last such window on a tie (the
// end of a path or name is the distinctive part).
func cutLiteral(l string, n int) string {
	if len(l) <= n {
		return l
	}
	punct := func(c byte) bool {
		return !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c >= 0x80)
	}
	pairs := make([]int, len(l)) // pairs[i]: l[i-1] and l[i] are punctuation
	rare := make([]int, len(l))  // rare[i]: the gram at i is not common text
	for i := 1; i < len(l); i++ {
		if punct(l[i-1]) && punct(l[i]) {
			pairs[i] = 1
		}
	}
	for i := 0; i+gramLen <= len(l); i++ {
		if !commonGrams[gramOf(l[i:])] {
			rare[i] = 1
		}
	}
	best, bestScore := len(l)-n, -1
	for start := len(l) - n; start >= 0; start-- {
		score := 0
		for i := start + 1; i < start+n; i++ {
			score += pairs[i]
		}
		for i := start; i+gramLen <= start+n; i++ {
			score += len(l) * rare[i]
		}
		if score > bestScore {
			best, bestScore = start, score
		}
	}
	return l[best : best+n]
}

// NewSet builds a Set of rules. Only *Rule (detection rules) can be part of
// a Set; it returns an error naming any other rule.
func NewSet(rules []detections.Rule) (*Set, error) {
	s := &Set{byName: map[string]*fieldScan{}}
	routeOf := map[*node]int32{}
	// Per event field name ("" for any field): the groups of each
	// literal, exact text and number, and the Sigma field that first named
	// it.
	type nameTerms struct {
		family string
		sub    map[string][]int32
		exact  map[string][]int32
		nums   map[float64][]int32
	}
	names := map[string]*nameTerms{}
	var need []int32 // by rule: its number of groups
	keywordField := map[string]bool{}
	kwSeen, kwMixed := false, false
	addTo := func(m map[string][]int32, k string, g int32) {
		if l := m[k]; len(l) == 0 || l[len(l)-1] != g {
			m[k] = append(l, g)
		}
	}
	add := func(name, fam string, t litTerm, g int32) {
		nt := names[name]
		if nt == nil {
			nt = &nameTerms{family: fam, sub: map[string][]int32{}, exact: map[string][]int32{}, nums: map[float64][]int32{}}
			names[name] = nt
		}
		switch t.kind {
		case tSub:
			addTo(nt.sub, t.lit, g)
		case tExact:
			addTo(nt.exact, t.lit, g)
		case tNum:
			addTo(nt.exact, t.lit, g)
			if l := nt.nums[t.num]; len(l) == 0 || l[len(l)-1] != g {
				nt.nums[t.num] = append(l, g)
			}
		}
	}
	for _, dr := range rules {
		r, ok := dr.(*Rule)
		if !ok {
			return nil, fmt.Errorf("sigma: rule %s (%T) cannot be part of a Set", dr.Meta().ID, dr)
		}
		i := int32(len(s.rules))
		s.rules = append(s.rules, r)
		s.metas = append(s.metas, r.meta)
		s.dets = append(s.dets, r.det)
		ri, ok := routeOf[r.ls]
		if !ok {
			ri = int32(len(s.routes))
			routeOf[r.ls] = ri
			s.routes = append(s.routes, r.ls)
		}
		s.routeOf = append(s.routeOf, ri)
		gs, ok := r.det.litGroups()
		need = append(need, int32(len(gs)))
		if !ok {
			s.always = append(s.always, i)
			continue
		}
		for _, g := range gs {
			gi := int32(len(s.groupRule))
			s.groupRule = append(s.groupRule, i)
			for _, t := range g {
				if t.field == nil {
					add("", "", t, gi)
					for _, k := range t.keywords {
						keywordField[k] = true
					}
					switch {
					case !kwSeen:
						s.keywords, kwSeen = t.keywords, true
					case !slices.Equal(s.keywords, t.keywords):
						kwMixed = true
					}
					continue
				}
				for _, c := range t.field.cands {
					add(c.name, t.field.name, t, gi)
				}
			}
		}
	}
	if kwMixed {
		s.keywords = nil
	}
	// The event fields of one Sigma field family (Image, NewProcessName,
	// process.executable, ...) share automata of all their literals: a
	// field's table ignores the literals of the others. Keyword literals
	// (any field) join the automata that are large already and those of
	// the keyword fields (message), so that long values are scanned once;
	// a field of another small family is scanned by the keyword automaton
	// too.
	var anyLits map[string][]int32
	if nt := names[""]; nt != nil {
		anyLits = nt.sub
	}
	famLits := map[string]map[string]bool{}
	famKeyword := map[string]bool{}
	for name, nt := range names {
		if name == "" {
			continue
		}
		if keywordField[name] {
			famKeyword[nt.family] = true
		}
		f := famLits[nt.family]
		if f == nil {
			f = map[string]bool{}
			famLits[nt.family] = f
		}
		for l := range nt.sub {
			f[l] = true
		}
	}
	famLits[""] = map[string]bool{}
	// A family's literals are split by the log source of the rules they
	// come from (partKey), so that an event scans only the literals of
	// rules whose log source it can belong to.
	partOf := func(g int32, fromAny bool) partKey {
		return partKey{route: s.routeOf[s.groupRule[g]], any: fromAny}
	}
	fams := map[string]*famScan{}
	for fam, set := range famLits {
		withAny := fam == "" || len(set) >= len(anyLits) || famKeyword[fam]
		f := &famScan{withAny: withAny, part: map[partKey]int{}}
		byKey := map[partKey]map[string]bool{}
		addKey := func(k partKey, l string) {
			m := byKey[k]
			if m == nil {
				m = map[string]bool{}
				byKey[k] = m
			}
			m[l] = true
		}
		for name, nt := range names {
			if name == "" || nt.family != fam {
				continue
			}
			for l, gs := range nt.sub {
				for _, g := range gs {
					addKey(partOf(g, false), l)
				}
			}
		}
		if withAny {
			for l, gs := range anyLits {
				for _, g := range gs {
					addKey(partOf(g, true), l)
				}
			}
		}
		// The literals of the rules without a log source condition, and
		// those of each log source, get a part each (at most maxParts,
		// the log sources with the most literals first); the others share
		// one, and their keyword literals another.
		keys := make([]partKey, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b partKey) int {
			if d := len(byKey[b]) - len(byKey[a]); d != 0 {
				return d
			}
			return cmpPartKey(a, b)
		})
		misc := [2]int{-1, -1} // by any
		var lits []map[string]bool
		for _, k := range keys {
			own := s.routes[k.route] == nil || len(lits) < maxParts-4
			m := &misc[0]
			if k.any {
				m = &misc[1]
			}
			switch {
			case own:
				f.part[k] = len(lits)
				lits = append(lits, byKey[k])
			case *m < 0:
				*m = len(lits)
				f.part[k] = *m
				lits = append(lits, maps.Clone(byKey[k]))
			default:
				f.part[k] = *m
				maps.Copy(lits[*m], byKey[k])
			}
		}
		for _, set := range lits {
			p, err := newFamPart(set)
			if err != nil {
				return nil, fmt.Errorf("sigma: building the literal automaton of %s: %w", fam, err)
			}
			f.parts = append(f.parts, p)
			s.scanBytes += p.sc.size()
		}
		fams[fam] = f
	}
	for name, nt := range names {
		f := fams[nt.family]
		fs := &fieldScan{}
		if f != nil {
			parts := make([]scanPart, len(f.parts))
			groups := make([][][]int32, len(f.parts)) // by part and literal
			addLits := func(byLit map[string][]int32, fromAny bool) {
				for l, gs := range byLit {
					for _, g := range gs {
						pi := f.part[partOf(g, fromAny)]
						fp := f.parts[pi]
						sp := &parts[pi]
						if groups[pi] == nil {
							sp.sc = fp.sc
							groups[pi] = make([][]int32, len(fp.index))
							sp.anyOnly = fromAny && name != "" && !slices.Contains(s.keywords, name)
						}
						i := fp.index[cutLiteral(l, fp.cut)]
						groups[pi][i] = append(groups[pi][i], g)
					}
				}
			}
			if name != "" {
				addLits(nt.sub, false)
			}
			if name == "" || f.withAny {
				addLits(anyLits, true)
			}
			for pi, sp := range parts {
				if groups[pi] == nil {
					continue
				}
				sp.groupOff = make([]uint32, 1, len(groups[pi])+1)
				for _, gs := range groups[pi] {
					slices.Sort(gs)
					gs = slices.Compact(gs)
					sp.groupIDs = append(sp.groupIDs, gs...)
					sp.groupOff = append(sp.groupOff, uint32(len(sp.groupIDs)))
					for _, g := range gs {
						ri := s.routeOf[s.groupRule[g]]
						if s.routes[ri] == nil {
							sp.always = true
						} else if !slices.Contains(sp.routes, ri) {
							sp.routes = append(sp.routes, ri)
						}
					}
				}
				if sp.always {
					sp.routes = nil
				}
				slices.Sort(sp.routes)
				fs.parts = append(fs.parts, sp)
			}
		}
		if len(nt.exact) > 0 {
			fs.exact = newExactTable(nt.exact)
			for k := range nt.exact {
				fs.exactMax = max(fs.exactMax, len(k))
				if len(k) < 128 {
					fs.exactLen[len(k)>>6] |= 1 << (len(k) & 63)
				}
			}
		}
		if len(nt.nums) > 0 {
			fs.nums = nt.nums
		}
		if name == "" {
			s.anyField = fs
			continue
		}
		if (f == nil || !f.withAny) && anyLits != nil {
			fs.alsoAny = true
		}
		s.byName[name] = fs
	}
	s.routeFields()
	s.nids = candNameCount()
	s.groupInfo = make([]uint32, len(s.groupRule))
	for g, r := range s.groupRule {
		s.groupInfo[g] = uint32(r)<<3 | uint32(need[r])
	}
	return s, nil
}

// Metas returns the rules' Meta, in order.
func (s *Set) Metas() []detections.Meta { return s.metas }

// setScratch is per-evaluation memory, pooled.
type setScratch struct {
	gen   uint32
	gbits []uint64 // a bit per group satisfied (cleared by reset)
	rmark []uint32 // per rule: gen<<3 | groups satisfied during gen
	route []uint32 // per route: gen<<1 | holds, when evaluated
	// known, when not nil, is the outcome of every route for the event
	// (knowRoutes), read instead of route.
	known *routeOutcome
	hits  []int32
	cands []int32
	key   []byte // the route key of the event (knowRoutes)
	// shapes caches the field scanners of each list of field names seen
	// twice (events of one source share a few), by Set and fingerprint;
	// seen holds the fingerprints seen once. A pooled scratch thus keeps
	// the Sets it served alive until the pool drops it.
	shapes map[shapeKey]*fieldShape
	seen   map[shapeKey]bool
	// byAddr finds a cached shape by the addresses and lengths of the
	// event's names (addrFingerprint), which reads no name: the decoders'
	// events share interned names, so that a few lists of addresses stand
	// for each shape.
	byAddr map[shapeKey]*addrShape
	// indexed counts the entries of the cached shapes' indexes, planCells
	// the jobs and groups of their scan plans.
	indexed   int
	planCells int
	// recording: mark appends the groups to rec instead (Set.plan).
	recording bool
	rec       []int32
	// one is the shape of an event whose names are not cached.
	one fieldShape
}

// addrShape is an entry of setScratch.byAddr: the names of events (the
// string headers, which keep their bytes alive and, strings being
// immutable, unchanged) and the cached shape of those names.
type addrShape struct {
	names []string
	sh    *fieldShape
}

// shapeKey identifies a list of field names for one Set: a fingerprint,
// which the cached entry's names confirm.
type shapeKey struct {
	set *Set
	fp  uint64
}

// fieldShape is what a Set reads in the fields of events whose field names
// are names, in order.
type fieldShape struct {
	names  []string
	fields []*fieldScan // per field: its scanner, nil for none
	kw     []bool       // per field: a keyword field (Set.keywords)
	// kwGet are the fields Event.Get finds by the names of keyword fields.
	kwGet []int32
	// route lists the fields the routes read (Set.routeNames), and
	// routeOut the outcome of every route and the plan of the scans by the
	// key of those fields' values (knowRoutes), at most maxRouteKeys.
	route    []int32
	routeOut map[string]*routeOutcome
	// idx, for a cached shape whose names are in order (as decoded), is
	// the index of the first field of each numbered candidate name
	// (cand.nid), candAbsent when none (state.shapeIdx); nil otherwise.
	idx []int32
}

// routeOutcome is what a cached shape knows of its events with one key of
// route field values: whether each route holds, and the plan of the
// field scans, which follows from that (Set.plan).
type routeOutcome struct {
	routes []uint64 // a bit per route
	// plans, by whether the event has a keyword field holding a string
	// (kwOnly, 1): the scans of the fields, made the first time needed,
	// and the groups the route fields' values satisfy (fixed): those
	// values are part of the key, so they are scanned once.
	plans   [2][]scanJob
	fixed   [2][]int32
	planned [2]bool
}

// scanJob is a scan of the value of the event's field at index field by
// fs, with the parts of live.
type scanJob struct {
	field int32
	live  uint64
	fs    *fieldScan
}

// maxRouteKeys bounds the route outcomes a cached shape keeps; beyond it
// they start afresh.
const maxRouteKeys = 64

// maxShapes bounds the shapes (and the fingerprints seen once) a scratch
// keeps; beyond it the cache starts afresh.
const maxShapes = 1024

// maxPlanCells bounds the jobs and fixed groups of the scan plans a scratch
// keeps (about 6 MiB): beyond it, the events of shapes and route keys
// without a plan are scanned field by field, without one.
const maxPlanCells = 1 << 18

// maxIndexCells bounds the entries of the shape indexes (fieldShape.idx)
// a scratch keeps, 4 MiB: a shape beyond it has none, and its candidates
// are looked up by name. The 2,535 SigmaHQ Windows rules read 648 names.
const maxIndexCells = 1 << 20

// shapeOf returns the scanners of fields: from the cache when an entry has
// the same names, else resolved by name; valid until the next call with
// sc. A list of names seen a second time is cached (a copy), so events of
// ever-new shapes cost no allocation.
func (s *Set) shapeOf(sc *setScratch, fields []event.Field) *fieldShape {
	addr := shapeKey{s, addrFingerprint(fields)}
	if e := sc.byAddr[addr]; e != nil && sameNames(e.names, fields) {
		return e.sh
	}
	sh := s.shapeByName(sc, fields)
	if sh == &sc.one || !shortNames(fields) {
		return sh
	}
	// The event's names are those of sh, perhaps at other addresses: a name
	// interned again after the intern table dropped it, or not interned.
	// The entry keeps the event's names (short, so that it keeps no input
	// buffer alive), to be recognized by address next time.
	e := &addrShape{names: sh.names, sh: sh}
	if !sameNames(sh.names, fields) {
		e.names = make([]string, len(fields))
		for i := range fields {
			e.names[i] = fields[i].Name
		}
	}
	if sc.byAddr == nil || len(sc.byAddr) >= maxShapes {
		sc.byAddr = map[shapeKey]*addrShape{}
	}
	sc.byAddr[addr] = e
	return sh
}

// shortNames reports whether every name is at most maxAddrName bytes long:
// such a name, when not interned, is at worst a slice of a small buffer.
func shortNames(fields []event.Field) bool {
	for i := range fields {
		if len(fields[i].Name) > maxAddrName {
			return false
		}
	}
	return true
}

// maxAddrName bounds the names of the events whose shapes byAddr finds.
const maxAddrName = 128

// addrFingerprint mixes the address, length and position of every field
// name with independent multiplications (nameFingerprint chains them).
func addrFingerprint(fs []event.Field) uint64 {
	h := uint64(len(fs))
	for i := range fs {
		x := uint64(uintptr(unsafe.Pointer(unsafe.StringData(fs[i].Name)))) + uint64(len(fs[i].Name))<<48 + uint64(i)
		h += x * 0x9E3779B97F4A7C15 >> 7
	}
	return h
}

// sameNames reports whether every name of fields is names[i] itself (same
// address and length), comparing no bytes.
func sameNames(names []string, fields []event.Field) bool {
	if len(names) != len(fields) {
		return false
	}
	for i := range fields {
		if len(names[i]) != len(fields[i].Name) || unsafe.StringData(names[i]) != unsafe.StringData(fields[i].Name) {
			return false
		}
	}
	return true
}

// shapeByName is shapeOf by the names' bytes.
func (s *Set) shapeByName(sc *setScratch, fields []event.Field) *fieldShape {
	// A cheap fingerprint (length and three bytes of each name).
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := range fields {
		n := fields[i].Name
		v := uint64(len(n))
		if len(n) > 0 {
			v |= uint64(n[0])<<16 | uint64(n[len(n)/2])<<24 | uint64(n[len(n)-1])<<32
		}
		h = (h ^ v) * prime
	}
	key := shapeKey{s, h}
	if sh := sc.shapes[key]; sh != nil && len(sh.names) == len(fields) {
		same := true
		for i := range fields {
			if sh.names[i] != fields[i].Name {
				same = false
				break
			}
		}
		if same {
			return sh
		}
	}
	if sc.seen[key] {
		sh := &fieldShape{names: make([]string, len(fields))}
		for i := range fields {
			// An interned name is shared (the decoders intern them), and
			// the comparison above then finds the same address; another
			// is copied, as it may be part of the event's input.
			n := fields[i].Name
			if !event.IsInterned(n) {
				n = strings.Clone(n)
			}
			sh.names[i] = n
		}
		s.resolve(sh, fields)
		if sc.shapes == nil || len(sc.shapes) >= maxShapes {
			sc.shapes, sc.indexed, sc.planCells = map[shapeKey]*fieldShape{}, 0, 0
			clear(sc.byAddr)
		}
		if sc.indexed+s.nids <= maxIndexCells {
			s.index(sh)
			sc.indexed += len(sh.idx)
		}
		sc.shapes[key] = sh
		return sh
	}
	if sc.seen == nil || len(sc.seen) >= maxShapes {
		sc.seen = map[shapeKey]bool{}
	}
	sc.seen[key] = true
	sc.one.fields, sc.one.kw, sc.one.route, sc.one.kwGet = sc.one.fields[:0], sc.one.kw[:0], sc.one.route[:0], sc.one.kwGet[:0]
	s.resolve(&sc.one, fields)
	return &sc.one
}

// index builds sh.idx when the names of sh are in order, as the decoders
// leave them and the state's binary search expects (else the state looks
// candidates up by name).
func (s *Set) index(sh *fieldShape) {
	for i := 1; i < len(sh.names); i++ {
		if sh.names[i] < sh.names[i-1] {
			return
		}
	}
	sh.idx = make([]int32, s.nids)
	for i := range sh.idx {
		sh.idx[i] = candAbsent
	}
	for i := len(sh.names) - 1; i >= 0; i-- { // the first of equal names wins
		if id, ok := lookupCandName(sh.names[i]); ok && int(id) < len(sh.idx) {
			sh.idx[id] = int32(i)
		}
	}
}

// resolve appends to sh the scanner of each field and whether it is a
// keyword field.
func (s *Set) resolve(sh *fieldShape, fields []event.Field) {
	for i := range fields {
		n := fields[i].Name
		sh.fields = append(sh.fields, s.byName[n])
		kw := slices.Contains(s.keywords, n)
		sh.kw = append(sh.kw, kw)
		if s.routeNames[n] {
			sh.route = append(sh.route, int32(i))
		}
		if kw {
			// The field Event.Get finds by this name: its binary search
			// compares only names.
			j, ok := slices.BinarySearchFunc(fields, n, func(f event.Field, n string) int { return strings.Compare(f.Name, n) })
			if ok && !slices.Contains(sh.kwGet, int32(j)) {
				sh.kwGet = append(sh.kwGet, int32(j))
			}
		}
	}
}

// routeFields collects the event fields the routes read; routes are
// cached only when nothing else decides them (keyword searches read any
// field).
func (s *Set) routeFields() {
	s.routeNames, s.routeCache = map[string]bool{}, true
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind != nTest {
			for _, k := range n.kids {
				walk(k)
			}
			return
		}
		t := n.test
		if t.op == opKeyword {
			s.routeCache = false
			return
		}
		for _, f := range append([]*fieldRef{t.field}, t.refs...) {
			if f == nil {
				continue
			}
			for _, c := range f.cands {
				s.routeNames[c.name] = true
				s.routeDataset = s.routeDataset || c.dataset
			}
		}
	}
	for _, r := range s.routes {
		if r != nil {
			walk(r)
		}
	}
}

// knowRoutes decides every route for the event of cached shape sh at
// once: from the outcome cached for the same values of the fields they
// read, else by evaluating them all (and caching the outcome), which it
// returns.
func (s *Set) knowRoutes(sc *setScratch, st *state, sh *fieldShape, ev *event.Event) *routeOutcome {
	key := sc.key[:0]
	for _, i := range sh.route {
		key = appendValueKey(key, &ev.Fields[i].Value)
	}
	if s.routeDataset {
		key = binary.LittleEndian.AppendUint32(key, uint32(len(ev.Dataset)))
		key = append(key, ev.Dataset...)
	}
	sc.key = key
	if out, ok := sh.routeOut[string(key)]; ok {
		sc.known = out
		return out
	}
	out := &routeOutcome{routes: make([]uint64, (len(s.routes)+63)/64)}
	for ri := range s.routes {
		if s.routeHolds(sc, st, int32(ri)) {
			out.routes[ri>>6] |= 1 << (ri & 63)
		}
	}
	if sh.routeOut == nil || len(sh.routeOut) >= maxRouteKeys {
		sh.routeOut = map[string]*routeOutcome{}
	}
	sh.routeOut[string(key)] = out
	sc.known = out
	return out
}

// plan returns the scans of the fields of ev, of shape sh, whose routes
// are known, kwOnly telling whether it has a keyword field holding a
// string: for each field with a scanner, its parts worth scanning (live),
// and the keyword scanner where keyword searches look. A field with no
// part to scan and no exact values or numbers is left out; a route field
// is scanned now, its groups returned as fixed, since every event with the
// same route key has its value.
func (s *Set) plan(sc *setScratch, st *state, sh *fieldShape, ev *event.Event, kwOnly bool) (jobs []scanJob, fixed []int32) {
	add := func(i int, fs *fieldScan) {
		live := s.live(sc, st, fs, kwOnly)
		if bits.OnesCount64(live) >= 2 {
			if m := s.merged(fs, live); m != nil {
				fs, live = m, 1
			}
		}
		switch {
		case live == 0 && fs.exact == nil && fs.nums == nil:
		case slices.Contains(sh.route, int32(i)):
			// A route field: its value is the key's, and so are the
			// groups it satisfies.
			sc.recording, sc.rec = true, sc.rec[:0]
			s.scanValue(sc, fs, live, &ev.Fields[i].Value)
			sc.recording = false
			fixed = append(fixed, sc.rec...)
		default:
			jobs = append(jobs, scanJob{field: int32(i), live: live, fs: fs})
		}
	}
	for i := range sh.fields {
		fs, also := s.scannersOf(sh, i, kwOnly)
		if also != nil {
			add(i, also)
		}
		if fs != nil {
			add(i, fs)
		}
	}
	slices.Sort(fixed)
	return jobs, slices.Clip(slices.Compact(fixed))
}

// scannersOf returns the scanners of field i of an event of shape sh: its
// own, or the keyword scanner for a field without one where keyword
// searches look (in the keyword fields only when the event has one as a
// string, kwOnly, else in every field); also, the keyword scanner besides
// its own when the field's automata lack the keyword literals. Nil for
// none.
func (s *Set) scannersOf(sh *fieldShape, i int, kwOnly bool) (fs, also *fieldScan) {
	fs = sh.fields[i]
	any := s.anyField != nil && (!kwOnly || sh.kw[i])
	switch {
	case fs == nil && any:
		fs = s.anyField
	case fs != nil && fs.alsoAny && any:
		also = s.anyField
	}
	return fs, also
}

// appendValueKey appends all of v to a route key, unambiguously.
func appendValueKey(b []byte, v *event.Value) []byte {
	b = append(b, byte(v.Kind))
	if v.Bool {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Num))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v.Str)))
	b = append(b, v.Str...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v.List)))
	for i := range v.List {
		b = appendValueKey(b, &v.List[i])
	}
	return b
}

var setScratchPool = sync.Pool{New: func() any { return &setScratch{} }}

// reset readies sc for one evaluation of s.
//
// Marks are valid when equal to gen, which grows with every use of the
// scratch, whichever Set uses it; all marks are cleared together when an
// array grows (for a larger Set) or gen would overflow.
func (sc *setScratch) reset(s *Set) {
	if len(sc.rmark) < len(s.rules) || len(sc.route) < len(s.routes) {
		sc.rmark = make([]uint32, max(len(sc.rmark), len(s.rules)))
		sc.route = make([]uint32, max(len(sc.route), len(s.routes)))
		sc.gen = 0
	}
	// A bit per group: a few kilobytes, cleared at once, that stay in the
	// processor's first-level cache.
	if n := (len(s.groupInfo) + 63) / 64; len(sc.gbits) < n {
		sc.gbits = make([]uint64, n)
	} else {
		clear(sc.gbits[:n])
	}
	sc.gen++
	if sc.gen >= 1<<28 { // rule marks keep gen<<3
		clear(sc.rmark)
		clear(sc.route)
		sc.gen = 1
	}
	sc.cands = sc.cands[:0]
	sc.known = nil
}

// EvalAll evaluates every rule of the set on ev and calls emit with the
// index of each matching rule (in Metas) and its Finding, in rule order.
// It never fails.
func (s *Set) EvalAll(ctx context.Context, ev *event.Event, emit func(rule int, f detections.Finding)) error {
	sc := setScratchPool.Get().(*setScratch)
	defer setScratchPool.Put(sc)
	s.evalWith(sc, ev, emit)
	return nil
}

// evalWith is EvalAll with the scratch sc.
func (s *Set) evalWith(sc *setScratch, ev *event.Event, emit func(rule int, f detections.Finding)) {
	sc.reset(s)
	st := getFreshState(ev)
	defer putState(st)
	if len(s.byName) > 0 || s.anyField != nil {
		// Each field's scanner, and whether the event has a keyword field
		// holding a string.
		sh := s.shapeOf(sc, ev.Fields)
		var out *routeOutcome
		if sh != &sc.one {
			st.shapeIdx = sh.idx
			if s.routeCache {
				out = s.knowRoutes(sc, st, sh, ev)
			}
		}
		kwOnly := false
		if s.anyField != nil {
			// A keyword field holding a string, as keyword searches find it
			// (Event.Get).
			for _, j := range sh.kwGet {
				if ev.Fields[j].Value.Kind == event.String {
					kwOnly = true
					break
				}
			}
		}
		// The shape and the routes fix what to scan in each field: the
		// plan, made the first time (within maxPlanCells).
		k := 0
		if kwOnly {
			k = 1
		}
		if out != nil && !out.planned[k] && sc.planCells < maxPlanCells {
			out.plans[k], out.fixed[k] = s.plan(sc, st, sh, ev, kwOnly)
			out.planned[k] = true
			sc.planCells += len(out.plans[k]) + len(out.fixed[k]) + 1
		}
		if out != nil && out.planned[k] {
			s.mark(sc, out.fixed[k])
			for _, j := range out.plans[k] {
				s.scanValue(sc, j.fs, j.live, &ev.Fields[j.field].Value)
			}
		} else {
			for i := range ev.Fields {
				fs, also := s.scannersOf(sh, i, kwOnly)
				if also != nil {
					s.scanValue(sc, also, s.live(sc, st, also, kwOnly), &ev.Fields[i].Value)
				}
				if fs != nil {
					s.scanValue(sc, fs, s.live(sc, st, fs, kwOnly), &ev.Fields[i].Value)
				}
			}
		}
		if ev.Dataset != "" {
			if fs := s.byName[event.KeyDataset]; fs != nil {
				s.scanText(sc, fs, s.live(sc, st, fs, kwOnly), ev.Dataset)
			}
		}
	}
	slices.Sort(sc.cands)
	// Merge the candidates with the rules evaluated always, in rule order.
	a, c := s.always, sc.cands
	for len(a) > 0 || len(c) > 0 {
		var i int32
		if len(c) == 0 || len(a) > 0 && a[0] < c[0] {
			i, a = a[0], a[1:]
		} else {
			i, c = c[0], c[1:]
		}
		if !s.routeHolds(sc, st, s.routeOf[i]) {
			continue
		}
		if s.dets[i].eval(st) {
			emit(int(i), s.rules[i].finding(ev))
		}
	}
}

// routeHolds evaluates log source condition ri at most once per event.
func (s *Set) routeHolds(sc *setScratch, st *state, ri int32) bool {
	if k := sc.known; k != nil {
		return k.routes[ri>>6]>>(ri&63)&1 == 1
	}
	ls := s.routes[ri]
	if ls == nil {
		return true
	}
	if m := sc.route[ri]; m>>1 == sc.gen {
		return m&1 == 1
	}
	ok := ls.eval(st)
	m := sc.gen << 1
	if ok {
		m |= 1
	}
	sc.route[ri] = m
	return ok
}

// live returns the parts of fs worth scanning for the event, a bit each:
// those holding groups of a rule whose route may hold, and keyword literals
// only where keyword searches look.
func (s *Set) live(sc *setScratch, st *state, fs *fieldScan, kwOnly bool) uint64 {
	var m uint64
	for i := range fs.parts {
		p := &fs.parts[i]
		switch {
		case p.anyOnly && kwOnly:
		case p.always:
			m |= 1 << i
		default:
			for _, ri := range p.routes {
				if s.routeHolds(sc, st, ri) {
					m |= 1 << i
					break
				}
			}
		}
	}
	return m
}

// scanValue scans a value of a field: a scalar, or each element of a list,
// with the parts of fs in live.
func (s *Set) scanValue(sc *setScratch, fs *fieldScan, live uint64, v *event.Value) {
	switch v.Kind {
	case event.String:
		s.scanText(sc, fs, live, v.Str)
	case event.Number:
		s.scanText(sc, fs, live, v.Str)
		if fs.nums != nil {
			s.mark(sc, fs.nums[v.Num])
		}
	case event.Bool:
		if v.Bool {
			s.scanText(sc, fs, live, "true")
		} else {
			s.scanText(sc, fs, live, "false")
		}
	case event.List:
		for i := range v.List {
			e := &v.List[i]
			if e.Kind == event.List {
				// Matchers see a nested list (never decoded, but Set can
				// make one) as a scalar with its text.
				s.scanText(sc, fs, live, e.Str)
			}
			s.scanValue(sc, fs, live, e)
		}
	}
}

// scanText marks the groups satisfied by a value's text.
func (s *Set) scanText(sc *setScratch, fs *fieldScan, live uint64, text string) {
	for ; live != 0; live &= live - 1 {
		p := &fs.parts[bits.TrailingZeros64(live)]
		sc.hits = p.sc.scan(text, sc.hits[:0])
		for _, h := range sc.hits {
			s.mark(sc, p.groupIDs[p.groupOff[h]:p.groupOff[h+1]])
		}
	}
	if n := len(text); fs.exact != nil && n <= fs.exactMax && (n >= 128 || fs.exactLen[n>>6]&(1<<(n&63)) != 0) {
		s.mark(sc, fs.exact.get(text))
	}
}

// mark marks groups satisfied, and adds each rule whose every group is now
// satisfied to the candidates.
func (s *Set) mark(sc *setScratch, groups []int32) {
	if sc.recording {
		sc.rec = append(sc.rec, groups...)
		return
	}
	gen := sc.gen
	for _, g := range groups {
		w, bit := g>>6, uint64(1)<<(g&63)
		if sc.gbits[w]&bit != 0 {
			continue
		}
		sc.gbits[w] |= bit
		gi := s.groupInfo[g]
		r := gi >> 3
		m := sc.rmark[r]
		if m>>3 != gen {
			m = gen << 3
		}
		m++
		sc.rmark[r] = m
		if m&7 == gi&7 {
			sc.cands = append(sc.cands, int32(r))
		}
	}
}
