// Package asset is the asset inventory: which information system (hệ thống
// thông tin), with its approved security level (cấp độ 1–5), the IP
// addresses and host names of an alert belong to. The inventory is a YAML
// file the center maintains per agency (tenant); Match answers the question
// for one alert in well under a microsecond per address, so the incident
// engine can call it for every alert it groups.
package asset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds the inventory file Load and Parse accept.
const MaxFileBytes = 32 << 20

// System is one information system of the inventory, as written in the file.
type System struct {
	ID     string `yaml:"id"`
	Tenant string `yaml:"tenant"`
	Name   string `yaml:"name"`
	// Level is the approved security level (cấp độ), 1 to 5.
	Level int `yaml:"level"`
	// NationalSecurity marks a system on the national-security list.
	NationalSecurity bool   `yaml:"national_security"`
	Owner            string `yaml:"owner"`
	// CIDRs are the system's networks ("10.1.2.0/24", "2001:db8::/48") or
	// single addresses ("10.1.2.3").
	CIDRs []string `yaml:"cidrs"`
	// Hosts are exact host names ("mail.so-a.gov.vn", "WS-01") or suffix
	// patterns ("*.so-a.gov.vn": any name under that domain, not the
	// domain itself). Matching ignores case and a trailing dot.
	Hosts []string `yaml:"hosts"`
}

// file is the document.
type file struct {
	Systems []System `yaml:"systems"`
}

// Load reads and parses the inventory file at path.
func Load(path string) (*Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading asset inventory: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading asset inventory: %w", err)
	}
	inv, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return inv, nil
}

// Parse decodes, validates and indexes an inventory document. Decoding is
// strict (unknown keys are errors); every problem is reported at once with
// its path (systems[3].cidrs[1]: ...): missing id, tenant or name, level out
// of 1–5, duplicate id, bad CIDR or host pattern, and a network or host name
// given to two systems of the same tenant. An empty document is an empty
// inventory.
func Parse(data []byte) (*Inventory, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("asset inventory larger than %d bytes", MaxFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding asset inventory: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding asset inventory: more than one YAML document")
	}
	return build(f.Systems)
}

// maxHostLen is the longest DNS name.
const maxHostLen = 253

// normHost lowercases a host name and drops a trailing dot.
func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// validHost reports whether h (normalized) is a plausible DNS or NetBIOS
// name: letters, digits, '-', '_' and non-empty dot-separated labels.
func validHost(h string) bool {
	if h == "" || len(h) > maxHostLen {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// parseNet reads a CIDR or a single address; a CIDR with host bits set is
// refused (it is almost always a typo).
func parseNet(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid address or CIDR %q", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("CIDR %q has host bits set (did you mean %s?)", s, m)
	}
	if p.Addr().Is4In6() {
		// ::ffff:10.0.0.0/104 is 10.0.0.0/8; lookups unmap addresses too.
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("CIDR %q spans IPv4-mapped and other IPv6 addresses", s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

func build(systems []System) (*Inventory, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	ids := map[string]int{}
	type owner struct {
		sys  int
		path string
	}
	nets := map[string]map[netip.Prefix]owner{} // tenant → network → first owner
	hosts := map[string]map[string]owner{}      // tenant → host or pattern → first owner
	b := newBuilder()
	for i := range systems {
		s := &systems[i]
		path := fmt.Sprintf("systems[%d]", i)
		s.ID, s.Tenant, s.Name = strings.TrimSpace(s.ID), strings.TrimSpace(s.Tenant), strings.TrimSpace(s.Name)
		switch {
		case s.ID == "":
			bad("%s.id: required", path)
		case len(s.ID) > 128:
			bad("%s.id: longer than 128 bytes", path)
		default:
			if j, dup := ids[s.ID]; dup {
				bad("%s.id: %q is also the id of systems[%d]", path, s.ID, j)
			} else {
				ids[s.ID] = i
			}
		}
		if s.Tenant == "" {
			bad("%s.tenant: required", path)
		}
		if s.Name == "" {
			bad("%s.name: required", path)
		}
		if s.Level < 1 || s.Level > 5 {
			bad("%s.level: %d is not a security level (1 to 5)", path, s.Level)
		}
		if len(s.CIDRs) == 0 && len(s.Hosts) == 0 {
			bad("%s: needs at least one of cidrs and hosts", path)
		}
		if nets[s.Tenant] == nil {
			nets[s.Tenant], hosts[s.Tenant] = map[netip.Prefix]owner{}, map[string]owner{}
		}
		for j, c := range s.CIDRs {
			p, err := parseNet(c)
			at := fmt.Sprintf("%s.cidrs[%d]", path, j)
			if err != nil {
				bad("%s: %v", at, err)
				continue
			}
			if o, dup := nets[s.Tenant][p]; dup {
				if o.sys != i {
					bad("%s: %s is also listed at %s (tenant %q)", at, p, o.path, s.Tenant)
				}
				continue
			}
			nets[s.Tenant][p] = owner{i, at}
			b.addNet(s.Tenant, p, i)
		}
		for j, h := range s.Hosts {
			at := fmt.Sprintf("%s.hosts[%d]", path, j)
			n := normHost(h)
			pattern, suffix := false, n
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				pattern, suffix = true, rest
			}
			if !validHost(suffix) {
				bad("%s: %q is not a host name or a *.domain pattern", at, h)
				continue
			}
			if o, dup := hosts[s.Tenant][n]; dup {
				if o.sys != i {
					bad("%s: %q is also listed at %s (tenant %q)", at, h, o.path, s.Tenant)
				}
				continue
			}
			hosts[s.Tenant][n] = owner{i, at}
			b.addHost(s.Tenant, suffix, pattern, i)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b.finish(systems), nil
}
