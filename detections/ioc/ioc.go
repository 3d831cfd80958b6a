// Package ioc provides indicator-of-compromise sets: IP addresses and CIDR
// blocks, domains, URLs, file hashes and e-mail addresses, read from CSV,
// MISP JSON exports and STIX 2.1 bundles, and matched against the event
// fields of the right type. An indicator set file is a rule kind (Kind) of
// the detection engine.
//
// Lookups cost one hash-map probe per candidate value: exact IPs, URLs,
// hashes and e-mails are map keys; a domain is probed once per label suffix
// (so a listed domain matches its subdomains); a CIDR block is probed once
// per distinct prefix length present in the set (at most 33 for IPv4 and 129
// for IPv6, in practice a handful).
package ioc

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Type is the kind of value an indicator matches.
type Type uint8

// Indicator types.
const (
	IP Type = iota + 1 // a single address or a CIDR block
	Domain
	URL
	MD5
	SHA1
	SHA256
	Email
)

var typeNames = [...]string{"", "ip", "domain", "url", "md5", "sha1", "sha256", "email"}

func (t Type) String() string {
	if int(t) >= len(typeNames) || t == 0 {
		return "unknown"
	}
	return typeNames[t]
}

// ParseType reads a type name as written by String, plus common synonyms
// (ipv4, ipv6, cidr, hostname, fqdn, sha-256, ...).
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ip", "ipv4", "ipv6", "ip-addr", "ipv4-addr", "ipv6-addr", "cidr", "ip-src", "ip-dst", "address":
		return IP, nil
	case "domain", "hostname", "fqdn", "domain-name", "host":
		return Domain, nil
	case "url", "uri", "link":
		return URL, nil
	case "md5":
		return MD5, nil
	case "sha1", "sha-1":
		return SHA1, nil
	case "sha256", "sha-256":
		return SHA256, nil
	case "email", "e-mail", "email-addr", "email-src", "email-dst", "mail":
		return Email, nil
	}
	return 0, fmt.Errorf("unknown indicator type %q", s)
}

// Indicator is one value to look for.
type Indicator struct {
	Type  Type
	Value string // normalized by Set.Add
	// Source names where the indicator came from (feed, MISP org, STIX
	// identity).
	Source string
	// Confidence is 0..100; 0 means not stated and is treated as 50.
	Confidence int
	// Expires is when the indicator stops matching; zero means never.
	Expires time.Time
}

// Live reports whether the indicator still matches at now.
func (in *Indicator) Live(now time.Time) bool {
	return in.Expires.IsZero() || now.Before(in.Expires)
}

// EffectiveConfidence is Confidence, or 50 when unstated.
func (in *Indicator) EffectiveConfidence() int {
	if in.Confidence <= 0 {
		return 50
	}
	return min(in.Confidence, 100)
}

// Set holds indicators for lookup. Build it with Add, then read it from any
// number of goroutines; Add must not run concurrently with lookups.
type Set struct {
	inds     []Indicator
	addrs    map[netip.Addr]int32
	prefixes map[netip.Prefix]int32 // masked, bits < address length
	bits     []int                  // distinct prefix lengths in prefixes, longest first
	domains  map[string]int32
	urls     map[string]int32
	hashes   map[string]int32 // md5, sha1, sha256 (lengths differ)
	emails   map[string]int32
}

// NewSet returns an empty Set sized for about n indicators.
func NewSet(n int) *Set {
	return &Set{
		inds:     make([]Indicator, 0, n),
		addrs:    make(map[netip.Addr]int32, n/4),
		prefixes: map[netip.Prefix]int32{},
		domains:  make(map[string]int32, n/4),
		urls:     make(map[string]int32, n/4),
		hashes:   make(map[string]int32, n/4),
		emails:   map[string]int32{},
	}
}

// Len is the number of indicators in the set.
func (s *Set) Len() int { return len(s.inds) }

// Indicators returns the indicators in the order they were added. The slice
// is the set's own; do not modify it.
func (s *Set) Indicators() []Indicator { return s.inds }

// ErrInvalid marks an indicator value that does not parse as its type.
var ErrInvalid = errors.New("invalid indicator")

// Add normalizes in.Value for its type and adds it. A value already in the
// set is replaced by the later one (a feed update wins). It returns an error
// wrapping ErrInvalid for a value that is not of its type.
func (s *Set) Add(in Indicator) error {
	v, err := Normalize(in.Type, in.Value)
	if err != nil {
		return err
	}
	in.Value = v
	if len(s.inds) >= 1<<31-1 {
		return fmt.Errorf("%w: set is full", ErrInvalid)
	}
	if in.Type == IP {
		if strings.Contains(v, "/") {
			p := netip.MustParsePrefix(v)
			if i, ok := s.prefixes[p]; ok {
				s.inds[i] = in
				return nil
			}
			s.prefixes[p] = int32(len(s.inds))
			if !slices.Contains(s.bits, p.Bits()) {
				s.bits = append(s.bits, p.Bits())
				slices.SortFunc(s.bits, func(a, b int) int { return b - a })
			}
		} else {
			a := netip.MustParseAddr(v)
			if i, ok := s.addrs[a]; ok {
				s.inds[i] = in
				return nil
			}
			s.addrs[a] = int32(len(s.inds))
		}
		s.inds = append(s.inds, in)
		return nil
	}
	var m map[string]int32
	switch in.Type {
	case Domain:
		m = s.domains
	case URL:
		m = s.urls
	case MD5, SHA1, SHA256:
		m = s.hashes
	case Email:
		m = s.emails
	}
	if i, ok := m[v]; ok {
		s.inds[i] = in
		return nil
	}
	m[v] = int32(len(s.inds))
	s.inds = append(s.inds, in)
	return nil
}

// Normalize returns the canonical form of a value of type t: addresses in
// netip form (IPv4-mapped IPv6 unmapped, CIDR masked), domains and e-mails
// lower-case without a trailing dot, hashes lower-case hex of the right
// length, URLs without scheme, with a lower-case host and no bare trailing
// slash.
func Normalize(t Type, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("%w: empty %s", ErrInvalid, t)
	}
	switch t {
	case IP:
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return "", fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			if p.Bits() == p.Addr().BitLen() {
				return p.Addr().WithZone("").String(), nil
			}
			return p.Masked().String(), nil
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return a.Unmap().WithZone("").String(), nil
	case Domain:
		d, ok := normDomain(v)
		if !ok {
			return "", fmt.Errorf("%w: domain %q", ErrInvalid, v)
		}
		return d, nil
	case URL:
		u, ok := normURL(v)
		if !ok {
			return "", fmt.Errorf("%w: url %q", ErrInvalid, v)
		}
		return u, nil
	case MD5, SHA1, SHA256:
		want := map[Type]int{MD5: 32, SHA1: 40, SHA256: 64}[t]
		h := strings.ToLower(v)
		if len(h) != want || strings.Trim(h, "0123456789abcdef") != "" {
			return "", fmt.Errorf("%w: %s %q: want %d hex digits", ErrInvalid, t, v, want)
		}
		return h, nil
	case Email:
		e := strings.ToLower(v)
		at := strings.LastIndexByte(e, '@')
		if at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " \t<>,") {
			return "", fmt.Errorf("%w: e-mail %q", ErrInvalid, v)
		}
		return e, nil
	}
	return "", fmt.Errorf("%w: unknown type %d", ErrInvalid, t)
}

// normDomain lower-cases d and drops one trailing dot; it rejects values
// that cannot be host names (spaces, slashes, empty labels).
func normDomain(d string) (string, bool) {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if d == "" || len(d) > 253 || strings.ContainsAny(d, " \t/\\@:*") || strings.Contains(d, "..") || d[0] == '.' {
		return "", false
	}
	return d, true
}

// normURL strips the scheme and user info, lower-cases the host, drops a
// default port and a path that is only "/". It returns the key and whether
// the URL has a host.
func normURL(u string) (string, bool) {
	u = strings.TrimSpace(u)
	if i := strings.Index(u, "://"); i >= 0 && i < 16 {
		u = u[i+3:]
	}
	host, rest := u, ""
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		host, rest = u[:i], u[i:]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	host = strings.ToLower(host)
	host = strings.TrimSuffix(strings.TrimSuffix(host, ":80"), ":443")
	host = strings.TrimSuffix(host, ".")
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if rest == "/" {
		rest = ""
	}
	if host == "" || strings.ContainsAny(host, " \t") {
		return "", false
	}
	return host + rest, true
}

// urlHost returns the host of a URL key or raw URL, without port.
func urlHost(u string) string {
	if i := strings.Index(u, "://"); i >= 0 && i < 16 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	if strings.HasPrefix(u, "[") {
		if i := strings.IndexByte(u, ']'); i > 0 {
			return u[1:i]
		}
	}
	if i := strings.LastIndexByte(u, ':'); i >= 0 && strings.Count(u, ":") == 1 {
		u = u[:i]
	}
	return u
}

// LookupAddr returns the indicator matching address a (nil if none): an exact address, else
// the longest listed prefix containing it.
func (s *Set) LookupAddr(a netip.Addr) *Indicator {
	a = a.Unmap().WithZone("")
	if i, ok := s.addrs[a]; ok {
		return &s.inds[i]
	}
	for _, b := range s.bits {
		if b > a.BitLen() {
			continue
		}
		p, err := a.Prefix(b)
		if err != nil {
			continue
		}
		if i, ok := s.prefixes[p]; ok {
			return &s.inds[i]
		}
	}
	return nil
}

// LookupDomain returns the indicator for d or for the nearest listed parent
// domain of d, nil if none.
func (s *Set) LookupDomain(d string) *Indicator {
	if len(s.domains) == 0 {
		return nil
	}
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	for d != "" {
		if i, ok := s.domains[d]; ok {
			return &s.inds[i]
		}
		dot := strings.IndexByte(d, '.')
		if dot < 0 {
			break
		}
		d = d[dot+1:]
	}
	return nil
}

// LookupURL returns the indicator for URL u (normalized as by Normalize).
func (s *Set) LookupURL(u string) *Indicator {
	if len(s.urls) == 0 {
		return nil
	}
	k, ok := normURL(u)
	if !ok {
		return nil
	}
	if i, ok := s.urls[k]; ok {
		return &s.inds[i]
	}
	return nil
}

// LookupHash returns the indicator for an MD5, SHA-1 or SHA-256 hex digest
// (any case), nil if none.
func (s *Set) LookupHash(h string) *Indicator {
	if len(s.hashes) == 0 || len(h) > 64 {
		return nil
	}
	// Lower-case into a stack buffer: the map probe with string(b) does
	// not allocate.
	var buf [64]byte
	b := buf[:len(h)]
	for i := 0; i < len(h); i++ {
		c := h[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if i, ok := s.hashes[string(b)]; ok {
		return &s.inds[i]
	}
	return nil
}

// LookupEmail returns the indicator for an e-mail address.
func (s *Set) LookupEmail(e string) *Indicator {
	if len(s.emails) == 0 {
		return nil
	}
	if i, ok := s.emails[strings.ToLower(strings.TrimSpace(e))]; ok {
		return &s.inds[i]
	}
	return nil
}
