package pcap

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
)

// IP protocol numbers the flow table and Community ID treat specially.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// CommunityID computes Community ID v1 hashes (Corelight's spec,
// https://github.com/corelight/community-id-spec) with a fixed seed and
// encoding. The zero value is the default: seed 0, base64.
type CommunityID struct {
	// Seed is mixed into the hash so that sites can keep IDs apart.
	Seed uint16
	// Hex outputs the SHA-1 as lowercase hex instead of base64 (the spec's
	// "no base64" variant).
	Hex bool
}

// icmpPairs maps the ICMP types of two-way exchanges to their counterpart,
// as the spec does, so that request and reply hash to the same ID.
var icmpPairs = map[uint8]uint8{
	8: 0, 0: 8, // echo
	13: 14, 14: 13, // timestamp
	15: 16, 16: 15, // information
	10: 9, 9: 10, // router solicitation / advertisement
	17: 18, 18: 17, // address mask
}

var icmp6Pairs = map[uint8]uint8{
	128: 129, 129: 128, // echo
	133: 134, 134: 133, // router solicitation / advertisement
	135: 136, 136: 135, // neighbor solicitation / advertisement
	130: 131, 131: 130, // multicast listener query / report
	144: 145, 145: 144, // home agent address discovery
	139: 140, 140: 139, // node information query / response
}

// icmpPorts returns the port equivalents of an ICMP type and code: the type
// and either the counterpart type (two-way) or the code (one-way).
func icmpPorts(proto, typ, code uint8) (sport, dport uint16, oneWay bool) {
	m := icmpPairs
	if proto == protoICMPv6 {
		m = icmp6Pairs
	}
	if c, ok := m[typ]; ok {
		return uint16(typ), uint16(c), false
	}
	return uint16(typ), uint16(code), true
}

// hasPorts reports whether the protocol's ports are part of the hash.
func hasPorts(proto uint8) bool {
	switch proto {
	case protoTCP, protoUDP, protoSCTP, protoICMP, protoICMPv6:
		return true
	}
	return false
}

// ordered reports whether (src, sport) sorts before or equal to (dst,
// dport), the spec's canonical direction.
func ordered(src, dst netip.Addr, sport, dport uint16) bool {
	if c := src.Compare(dst); c != 0 {
		return c < 0
	}
	return sport <= dport
}

// Hash returns the Community ID of a flow tuple as seen in one packet. For
// ICMP, sport and dport are the port equivalents from the type and code
// (see FlowTuple); oneWay keeps the packet's direction.
func (c CommunityID) Hash(src, dst netip.Addr, proto uint8, sport, dport uint16, oneWay bool) string {
	if !oneWay && !ordered(src, dst, sport, dport) {
		src, dst, sport, dport = dst, src, dport, sport
	}
	var buf [2 + 16 + 16 + 2 + 4]byte
	b := binary.BigEndian.AppendUint16(buf[:0], c.Seed)
	b = appendAddr(b, src)
	b = appendAddr(b, dst)
	b = append(b, proto, 0)
	if hasPorts(proto) {
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
	}
	sum := sha1.Sum(b)
	var out [2 + 40]byte
	o := append(out[:0], '1', ':')
	if c.Hex {
		o = hex.AppendEncode(o, sum[:])
	} else {
		o = base64.StdEncoding.AppendEncode(o, sum[:])
	}
	return string(o)
}

// appendAddr appends the address in network byte order (4 or 16 bytes).
func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}
