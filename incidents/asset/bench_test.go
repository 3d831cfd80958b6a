package asset

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// benchInventory builds 10,000 systems with 100,000 networks (10 each:
// one /16-ish parent network per system and nested /24s and /28s, plus
// IPv6) in one tenant, and returns probe addresses inside them.
func benchInventory(b *testing.B) (*Inventory, []netip.Addr) {
	b.Helper()
	r := rand.New(rand.NewPCG(7, 11))
	var doc strings.Builder
	doc.Grow(8 << 20)
	doc.WriteString("systems:\n")
	var probes []netip.Addr
	for i := range 10_000 {
		// System i owns 10.x.y.0/24 blocks derived from i so that
		// networks are unique; nested /28s and single hosts inside.
		base := [4]byte{byte(10 + i>>12), byte(i >> 4), byte(i&15) << 4, 0}
		fmt.Fprintf(&doc, "  - id: sys-%d\n    tenant: so-a\n    name: System %d\n    level: %d\n    cidrs: [", i, i, 1+i%5)
		fmt.Fprintf(&doc, "%d.%d.%d.0/20", base[0], base[1], base[2])
		for j := range 6 {
			fmt.Fprintf(&doc, ", %d.%d.%d.%d/28", base[0], base[1], base[2]+byte(j), 16*r.IntN(16))
		}
		fmt.Fprintf(&doc, ", %d.%d.%d.%d", base[0], base[1], base[2]+8, 1+r.IntN(254))
		fmt.Fprintf(&doc, ", \"2001:db8:%x::/48\", \"2001:db8:%x:1::/64\"]\n", i, i)
		probes = append(probes,
			netip.AddrFrom4([4]byte{base[0], base[1], base[2] + byte(r.IntN(16)), byte(r.IntN(256))}),
			netip.MustParseAddr(fmt.Sprintf("2001:db8:%x:%x::1", i, r.IntN(3))))
	}
	inv, err := Parse([]byte(doc.String()))
	if err != nil {
		b.Fatal(err)
	}
	r.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
	return inv, probes
}

// BenchmarkMatch is one Match call with one address (random over 10,000
// systems / 100,000 networks), the engine's common case.
func BenchmarkMatch(b *testing.B) {
	inv, probes := benchInventory(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if len(inv.Match("so-a", probes[i%len(probes):i%len(probes)+1], nil)) != 1 {
			b.Fatal("no match")
		}
		i++
	}
}

// BenchmarkMatchAlert is a typical alert: two addresses and a host name.
func BenchmarkMatchAlert(b *testing.B) {
	inv, probes := benchInventory(b)
	hosts := []string{"WS-01.so-a.local"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j := i % (len(probes) - 1)
		inv.Match("so-a", probes[j:j+2], hosts)
		i++
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		benchInventory(b)
	}
}
