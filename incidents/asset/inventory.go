package asset

import (
	"cmp"
	"encoding/binary"
	"github.com/mangrove-soc/mangrove/detections/alert"
	"net/netip"
	"slices"

	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// Inventory is a parsed, indexed asset inventory. It is immutable and safe
// for concurrent use; reload by parsing a new one and swapping the pointer.
type Inventory struct {
	systems []incident.System // by system index
	tenants map[string]*tenantIndex
	byID    map[[2]string]int32 // (tenant, id) → system
}

// tenantIndex answers lookups for one tenant's systems.
type tenantIndex struct {
	v4, v6 ranges
	exact  map[string]int32 // host name → system
	suffix map[string]int32 // domain of a *.domain pattern → system
}

// Len returns the number of systems.
func (inv *Inventory) Len() int { return len(inv.systems) }

// System returns the tenant's system with this id.
func (inv *Inventory) System(tenant, id string) (incident.System, bool) {
	i, ok := inv.byID[[2]string{tenant, id}]
	if !ok {
		return incident.System{}, false
	}
	return inv.systems[i], true
}

// Systems returns the tenant's systems an alert touches, from the
// addresses and host names in its group-by values and event.
func (inv *Inventory) Systems(a *alert.Alert) []incident.System {
	ips, hosts := Observables(a)
	return inv.Match(a.Tenant, ips, hosts)
}

// Match returns the tenant's systems that the addresses and host names
// belong to, each once, sorted by ID; nil if none. An address belongs to
// the system with the longest prefix containing it; a host name to the
// system listing it exactly, else to the one with the longest matching
// *.domain pattern. Host names are compared ignoring case and a trailing
// dot; IPv4-mapped IPv6 addresses are looked up as IPv4. Systems of other
// tenants never match. A nil Inventory matches nothing.
func (inv *Inventory) Match(tenant string, ips []netip.Addr, hosts []string) []incident.System {
	if inv == nil {
		return nil
	}
	t := inv.tenants[tenant]
	if t == nil {
		return nil
	}
	var buf [8]int32
	found := buf[:0]
	add := func(i int32) {
		if i >= 0 && !slices.Contains(found, i) {
			found = append(found, i)
		}
	}
	for _, a := range ips {
		a = a.Unmap()
		switch {
		case a.Is4():
			add(t.v4.find(key4(a)))
		case a.Is6():
			add(t.v6.find(key6(a)))
		}
	}
	for _, h := range hosts {
		add(t.host(normHost(h)))
	}
	if len(found) == 0 {
		return nil
	}
	out := make([]incident.System, len(found))
	for i, s := range found {
		out[i] = inv.systems[s]
	}
	slices.SortFunc(out, func(a, b incident.System) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (t *tenantIndex) host(h string) int32 {
	if h == "" {
		return -1
	}
	if i, ok := t.exact[h]; ok {
		return i
	}
	// Longest pattern first: the suffixes after each dot, left to right.
	for i := 0; i < len(h); i++ {
		if h[i] == '.' {
			if s, ok := t.suffix[h[i+1:]]; ok {
				return s
			}
		}
	}
	return -1
}

// u128 is an address as a 128-bit number (IPv4 in the low 32 bits).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// next returns a+1 and whether it overflowed.
func (a u128) next() (u128, bool) {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
	}
	return u128{hi, lo}, lo == 0 && hi == 0
}

func (a u128) prev() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

func key4(a netip.Addr) u128 {
	b := a.As4()
	return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
}

func key6(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// hostMask returns the u128 with the low n bits set.
func hostMask(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{0, 1<<n - 1}
	case n < 128:
		return u128{1<<(n-64) - 1, ^uint64(0)}
	}
	return u128{^uint64(0), ^uint64(0)}
}

// ranges is a sorted list of disjoint address intervals, each owned by the
// system with the longest prefix covering it: a lookup is one binary
// search. Struct of arrays, so the search touches only starts.
type ranges struct {
	starts, ends []u128
	owners       []int32
}

// find returns the owner of x, or -1.
func (r *ranges) find(x u128) int32 {
	lo, hi := 0, len(r.starts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x.less(r.starts[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo == 0 || r.ends[lo-1].less(x) {
		return -1
	}
	return r.owners[lo-1]
}

// prefix is one network of one system, as an interval.
type prefix struct {
	start, end u128
	bits       int
	sys        int32
}

// builder collects networks and host names per tenant.
type builder struct {
	tenants map[string]*tenantBuild
}

type tenantBuild struct {
	v4, v6        []prefix
	exact, suffix map[string]int32
}

func newBuilder() *builder { return &builder{tenants: map[string]*tenantBuild{}} }

func (b *builder) tenant(name string) *tenantBuild {
	t := b.tenants[name]
	if t == nil {
		t = &tenantBuild{exact: map[string]int32{}, suffix: map[string]int32{}}
		b.tenants[name] = t
	}
	return t
}

// addNet adds a masked prefix; the caller has refused duplicates.
func (b *builder) addNet(tenant string, p netip.Prefix, sys int) {
	t := b.tenant(tenant)
	if p.Addr().Is4() {
		start := key4(p.Addr())
		m := hostMask(32 - p.Bits())
		t.v4 = append(t.v4, prefix{start, u128{0, start.lo | m.lo}, p.Bits(), int32(sys)})
		return
	}
	start := key6(p.Addr())
	m := hostMask(128 - p.Bits())
	t.v6 = append(t.v6, prefix{start, u128{start.hi | m.hi, start.lo | m.lo}, p.Bits(), int32(sys)})
}

func (b *builder) addHost(tenant, name string, pattern bool, sys int) {
	t := b.tenant(tenant)
	if pattern {
		t.suffix[name] = int32(sys)
	} else {
		t.exact[name] = int32(sys)
	}
}

func (b *builder) finish(systems []System) *Inventory {
	inv := &Inventory{systems: make([]incident.System, len(systems)), tenants: make(map[string]*tenantIndex, len(b.tenants)),
		byID: make(map[[2]string]int32, len(systems))}
	for i, s := range systems {
		inv.systems[i] = incident.System{ID: s.ID, Name: s.Name, Level: s.Level, NationalSecurity: s.NationalSecurity}
		inv.byID[[2]string{s.Tenant, s.ID}] = int32(i)
	}
	for name, t := range b.tenants {
		inv.tenants[name] = &tenantIndex{v4: flatten(t.v4), v6: flatten(t.v6), exact: t.exact, suffix: t.suffix}
	}
	return inv
}

// flatten turns nested prefixes into disjoint intervals owned by the
// innermost (longest) prefix: a sweep in start order with a stack of the
// prefixes that enclose the current position. Prefixes are either nested or
// disjoint, and distinct.
func flatten(ps []prefix) ranges {
	slices.SortFunc(ps, func(a, b prefix) int {
		switch {
		case a.start.less(b.start):
			return -1
		case b.start.less(a.start):
			return 1
		}
		return cmp.Compare(a.bits, b.bits) // the wider one encloses
	})
	var r ranges
	emit := func(from, to u128, sys int32) {
		if to.less(from) {
			return
		}
		if n := len(r.starts); n > 0 && r.owners[n-1] == sys {
			if next, _ := r.ends[n-1].next(); next == from {
				r.ends[n-1] = to
				return
			}
		}
		r.starts = append(r.starts, from)
		r.ends = append(r.ends, to)
		r.owners = append(r.owners, sys)
	}
	var (
		stack []prefix
		cur   u128 // first address not yet emitted
		done  bool // cur passed the top of the address space
	)
	pop := func() {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !done && !top.end.less(cur) {
			emit(cur, top.end, top.sys)
		}
		if !done {
			cur, done = top.end.next()
		}
	}
	for _, p := range ps {
		for len(stack) > 0 && stack[len(stack)-1].end.less(p.start) {
			pop()
		}
		if len(stack) > 0 && cur.less(p.start) {
			emit(cur, p.start.prev(), stack[len(stack)-1].sys)
		}
		cur, done = p.start, false
		stack = append(stack, p)
	}
	for len(stack) > 0 {
		pop()
	}
	return r
}
