package asset

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/detections/alert"

	"github.com/mangrove-soc/mangrove/incidents/incident"
)

func loadTestInventory(t testing.TB) *Inventory {
	t.Helper()
	inv, err := Load(filepath.Join("testdata", "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func ids(systems []incident.System) string {
	var out []string
	for _, s := range systems {
		out = append(out, s.ID)
	}
	return strings.Join(out, ",")
}

func TestMatch(t *testing.T) {
	inv := loadTestInventory(t)
	tests := []struct {
		name   string
		tenant string
		ips    []string
		hosts  []string
		want   string
	}{
		{"wide network", "so-a", []string{"10.1.5.5"}, nil, "so-a-core"},
		{"longest prefix wins", "so-a", []string{"10.1.20.5"}, nil, "so-a-portal"},
		{"innermost of three", "so-a", []string{"10.1.20.200"}, nil, "so-a-db"},
		{"edges of the inner networks", "so-a", []string{"10.1.19.255", "10.1.21.0"}, nil, "so-a-core"},
		{"last address of nested", "so-a", []string{"10.1.20.255"}, nil, "so-a-db"},
		{"two systems", "so-a", []string{"10.1.5.5", "10.1.20.130"}, nil, "so-a-core,so-a-db"},
		{"single address", "so-a", []string{"203.0.113.10"}, nil, "so-a-portal"},
		{"next to a single address", "so-a", []string{"203.0.113.11", "203.0.113.9"}, nil, ""},
		{"IPv6", "so-a", []string{"2001:db8:a:1::5"}, nil, "so-a-core"},
		{"IPv4-mapped", "so-a", []string{"::ffff:10.1.20.5"}, nil, "so-a-portal"},
		{"outside", "so-a", []string{"8.8.8.8", "2001:db8:b::1"}, nil, ""},
		{"other tenant's systems never match", "so-b", []string{"10.1.20.200"}, nil, "so-b-core"},
		{"unknown tenant", "so-x", []string{"10.1.5.5"}, []string{"portal.so-a.gov.vn"}, ""},
		{"exact host, any case, trailing dot", "so-a", nil, []string{"Portal.SO-A.gov.vn."}, "so-a-portal"},
		{"netbios name", "so-a", nil, []string{"db-01"}, "so-a-db"},
		{"pattern", "so-a", nil, []string{"ws-17.so-a.local"}, "so-a-core"},
		{"pattern, deeper", "so-a", nil, []string{"a.b.so-a.local"}, "so-a-core"},
		{"pattern does not match the domain itself", "so-a", nil, []string{"so-a.local"}, ""},
		{"longest pattern wins", "so-a", nil, []string{"api.portal.so-a.gov.vn"}, "so-a-portal"},
		{"host and address of the same system, once", "so-a", []string{"10.1.20.7"}, []string{"portal.so-a.gov.vn"}, "so-a-portal"},
		{"no suffix trick", "so-a", nil, []string{"evilso-a.local", ""}, ""},
		{"invalid address ignored", "so-a", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inv.Match(tt.tenant, addrs(tt.ips...), tt.hosts)
			if ids(got) != tt.want {
				t.Fatalf("Match = %q, want %q", ids(got), tt.want)
			}
		})
	}
	got := inv.Match("so-a", addrs("10.1.20.200"), nil)
	if want := (incident.System{ID: "so-a-db", Name: "Cơ sở dữ liệu hộ tịch", Level: 4, NationalSecurity: true}); len(got) != 1 || got[0] != want {
		t.Fatalf("system = %+v, want %+v", got, want)
	}
	if (*Inventory)(nil).Match("so-a", addrs("10.1.5.5"), nil) != nil {
		t.Fatal("nil inventory matched")
	}
	if inv.Match("so-a", []netip.Addr{{}}, nil) != nil {
		t.Fatal("zero address matched")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // every one must appear
	}{
		{"unknown key", "systems:\n  - id: a\n    tenant: t\n    name: n\n    level: 1\n    cidrs: [10.0.0.0/8]\n    colour: red\n",
			[]string{"field colour not found"}},
		{"not a list", "systems: 3\n", []string{"decoding asset inventory"}},
		{"two documents", "systems: []\n---\nsystems: []\n", []string{"more than one YAML document"}},
		{"all problems with paths", `systems:
  - id: a
    tenant: t
    name: A
    level: 6
    cidrs: [10.0.0.0/33, 10.0.0.1/8, nonsense, "fe80::1%eth0"]
    hosts: ["bad host", "*.", "a*.b", "*.ok.example"]
  - id: a
    tenant: ""
    name: ""
    level: 0
  - id: b
    tenant: t
    name: B
    level: 3
    cidrs: [10.0.0.0/8, 10.0.0.0/8]
  - id: c
    tenant: t
    name: C
    level: 2
    cidrs: [10.0.0.0/8]
    hosts: ["*.OK.example."]
`, []string{
			"systems[0].level: 6 is not a security level (1 to 5)",
			`systems[0].cidrs[0]: invalid CIDR "10.0.0.0/33"`,
			`systems[0].cidrs[1]: CIDR "10.0.0.1/8" has host bits set (did you mean 10.0.0.0/8?)`,
			`systems[0].cidrs[2]: invalid address or CIDR "nonsense"`,
			`systems[0].cidrs[3]: address "fe80::1%eth0" has a zone`,
			`systems[0].hosts[0]: "bad host" is not a host name`,
			`systems[0].hosts[1]: "*." is not a host name`,
			`systems[0].hosts[2]: "a*.b" is not a host name`,
			`systems[1].id: "a" is also the id of systems[0]`,
			"systems[1].tenant: required",
			"systems[1].name: required",
			"systems[1].level: 0 is not a security level",
			"systems[1]: needs at least one of cidrs and hosts",
			`systems[3].cidrs[0]: 10.0.0.0/8 is also listed at systems[2].cidrs[0] (tenant "t")`,
			`systems[3].hosts[0]: "*.OK.example." is also listed at systems[0].hosts[3]`,
		}},
		{"missing id", "systems:\n  - tenant: t\n    name: n\n    level: 1\n    hosts: [x]\n", []string{"systems[0].id: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, doc := range []string{"", "systems: []\n", "# only a comment\n"} {
		inv, err := Parse([]byte(doc))
		if err != nil || inv.Len() != 0 {
			t.Fatalf("Parse(%q) = %v, %v", doc, inv, err)
		}
	}
	// The same network listed twice by one system is harmless; the same
	// network in two tenants is normal (private ranges).
	inv, err := Parse([]byte("systems:\n  - {id: a, tenant: t, name: A, level: 1, cidrs: [10.0.0.0/8, 10.0.0.0/8, \"::ffff:10.0.0.0/104\"]}\n" +
		"  - {id: b, tenant: u, name: B, level: 1, cidrs: [10.0.0.0/8]}\n"))
	if err != nil || inv.Len() != 2 {
		t.Fatalf("Parse = %v, %v", inv, err)
	}
	if got := ids(inv.Match("t", addrs("10.9.9.9"), nil)); got != "a" {
		t.Fatalf("Match = %q", got)
	}
}

func TestLoadLimits(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "absent.yaml")); err == nil {
		t.Fatal("loaded a missing file")
	}
	if _, err := Parse(make([]byte, MaxFileBytes+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized file: %v", err)
	}
}

// TestFlattenAgainstBruteForce checks the interval index against a linear
// longest-prefix scan on random nested networks.
func TestFlattenAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var doc strings.Builder
		doc.WriteString("systems:\n")
		type net struct {
			p   netip.Prefix
			sys string
		}
		var nets []net
		seen := map[netip.Prefix]bool{}
		for i := range 40 {
			// Small address space so networks nest and touch often.
			bits := 20 + r.IntN(13)
			a := netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(16)), byte(r.IntN(256))})
			p, _ := a.Prefix(bits)
			if i%10 == 0 {
				p, _ = netip.AddrFrom4([4]byte{255, 255, 255, 255}).Prefix(bits) // top of the space
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			id := fmt.Sprintf("s%d", i)
			nets = append(nets, net{p, id})
			fmt.Fprintf(&doc, "  - {id: %s, tenant: t, name: n, level: 1, cidrs: [%s]}\n", id, p)
		}
		inv, err := Parse([]byte(doc.String()))
		if err != nil {
			t.Fatal(err)
		}
		probe := func(a netip.Addr) {
			want, best := "", -1
			for _, n := range nets {
				if n.p.Contains(a) && n.p.Bits() > best {
					want, best = n.sys, n.p.Bits()
				}
			}
			if got := ids(inv.Match("t", []netip.Addr{a}, nil)); got != want {
				t.Fatalf("round %d: %s matched %q, want %q", round, a, got, want)
			}
		}
		for range 2000 {
			probe(netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(17)), byte(r.IntN(256))}))
		}
		for _, n := range nets {
			probe(n.p.Addr())
			probe(n.p.Addr().Prev())
			last := n.p.Addr()
			for i := 0; i < 1<<(32-n.p.Bits())-1; i++ {
				last = last.Next()
			}
			probe(last)
			if nx := last.Next(); nx.IsValid() {
				probe(nx)
			}
		}
		probe(netip.MustParseAddr("255.255.255.255"))
	}
}

func TestFlattenIPv6Top(t *testing.T) {
	inv, err := Parse([]byte("systems:\n  - {id: all, tenant: t, name: n, level: 1, cidrs: [\"::/0\", \"0.0.0.0/0\"]}\n" +
		"  - {id: top, tenant: t, name: n, level: 2, cidrs: [\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": "top",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:feff": "all",
		"::":              "all",
		"0.0.0.0":         "all",
		"255.255.255.255": "all",
	} {
		if got := ids(inv.Match("t", addrs(addr), nil)); got != want {
			t.Errorf("%s matched %q, want %q", addr, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "inventory.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("systems:\n  - {id: a, tenant: t, name: n, level: 1, cidrs: [\"::/0\"], hosts: [\"*.x\"]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse(data)
		if err != nil {
			return
		}
		// Every listed network's first address matches some system of the
		// tenant (itself or a longer prefix inside it).
		var f file
		_ = yaml.Unmarshal(data, &f)
		for _, s := range f.Systems {
			for _, c := range s.CIDRs {
				p, err := parseNet(c)
				if err != nil {
					t.Fatalf("Parse accepted %q that parseNet refuses", c)
				}
				if len(inv.Match(strings.TrimSpace(s.Tenant), []netip.Addr{p.Addr()}, nil)) != 1 {
					t.Fatalf("%s of %s does not match exactly one system", p, s.ID)
				}
			}
		}
	})
}

func TestSystemByIDAndAlert(t *testing.T) {
	inv, err := Parse([]byte(`systems:
  - {id: portal, tenant: so-a, name: Cổng thông tin, level: 3, cidrs: [10.1.0.0/16], hosts: ["*.so-a.gov.vn"]}
  - {id: portal-b, tenant: so-b, name: Portal B, level: 2, cidrs: [10.1.0.0/16]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := inv.System("so-a", "portal"); !ok || s.Level != 3 {
		t.Fatalf("System(so-a, portal) = %+v, %v", s, ok)
	}
	if _, ok := inv.System("so-b", "portal"); ok {
		t.Fatal("found another tenant's system by its id")
	}
	a := &alert.Alert{Tenant: "so-b", Event: []byte(`{"destination":{"ip":"10.1.2.3"}}`)}
	if got := inv.Systems(a); len(got) != 1 || got[0].Name != "Portal B" {
		t.Fatalf("Systems = %+v", got)
	}
}
