package pcap

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// packet is what the decoder extracts from one frame: the flow tuple, TCP
// flags and the transport payload. Payload aliases the frame.
type packet struct {
	ts       time.Time
	length   int // original frame length
	src, dst netip.Addr
	proto    uint8
	sport    uint16
	dport    uint16
	oneWay   bool // ICMP without a reply type
	tcpFlags uint8
	seq      uint32 // TCP sequence number
	payload  []byte
}

// TCP flag bits as in the header's flags byte.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// decoder decodes frames with preallocated layers; one per goroutine.
type decoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    LinuxSLL2
	loop    layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	payload gopacket.Payload
	decoded []gopacket.LayerType
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16), parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
	return d
}

// parser returns the parser whose first layer is first.
func (d *decoder) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	if p, ok := d.parsers[first]; ok {
		return p
	}
	p := gopacket.NewDecodingLayerParser(first,
		&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6,
		&d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.payload)
	p.IgnoreUnsupported = true
	d.parsers[first] = p
	return p
}

// firstLayer maps a link type to the first layer to decode; ok is false for
// link types the decoder does not support.
func firstLayer(lt layers.LinkType, data []byte) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case LinkTypeLinuxSLL2:
		return LayerTypeLinuxSLL2, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, true
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, true
	case layers.LinkTypeRaw, 12, 14: // LINKTYPE_RAW and the DLT_RAW values of some BSDs
		if len(data) == 0 {
			return 0, false
		}
		switch data[0] >> 4 {
		case 4:
			return layers.LayerTypeIPv4, true
		case 6:
			return layers.LayerTypeIPv6, true
		}
	}
	return 0, false
}

// errNoIP means the frame carries no IP packet (ARP, LLDP, ...): not an
// error, just nothing for the flow table.
var errNoIP = fmt.Errorf("no ip layer")

// decode fills p from one frame. It returns errNoIP for frames without IP,
// and an error for malformed frames. It never panics: the parser recovers
// from decoder panics and reports them as errors.
func (d *decoder) decode(lt layers.LinkType, data []byte, ci gopacket.CaptureInfo, p *packet) error {
	first, ok := firstLayer(lt, data)
	if !ok {
		return errUnsupportedLink
	}
	*p = packet{ts: ci.Timestamp, length: ci.Length}
	if p.length < len(data) {
		p.length = len(data)
	}
	if err := d.parser(first).DecodeLayers(data, &d.decoded); err != nil {
		return err
	}
	var ipPayload []byte
	sawIP := false
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			sawIP = true
			p.src = netip.AddrFrom4([4]byte(d.ip4.SrcIP.To4()))
			p.dst = netip.AddrFrom4([4]byte(d.ip4.DstIP.To4()))
			p.proto = uint8(d.ip4.Protocol)
			ipPayload = d.ip4.Payload
			if d.ip4.FragOffset != 0 {
				// A later fragment: no transport header; count it in
				// the flow without ports.
				return errFragment
			}
		case layers.LayerTypeIPv6:
			sawIP = true
			p.src = netip.AddrFrom16([16]byte(d.ip6.SrcIP.To16()))
			p.dst = netip.AddrFrom16([16]byte(d.ip6.DstIP.To16()))
			p.proto = uint8(d.ip6.NextHeader)
			if d.ip6.HopByHop != nil {
				p.proto = uint8(d.ip6.HopByHop.NextHeader)
			}
			ipPayload = d.ip6.Payload
		case layers.LayerTypeTCP:
			p.sport, p.dport = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			p.tcpFlags = tcpFlagByte(&d.tcp)
			p.seq = d.tcp.Seq
			p.payload = d.tcp.Payload
		case layers.LayerTypeUDP:
			p.sport, p.dport = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			p.payload = d.udp.Payload
		case layers.LayerTypeICMPv4:
			tc := d.icmp4.TypeCode
			p.sport, p.dport, p.oneWay = icmpPorts(protoICMP, tc.Type(), tc.Code())
		case layers.LayerTypeICMPv6:
			tc := d.icmp6.TypeCode
			p.sport, p.dport, p.oneWay = icmpPorts(protoICMPv6, tc.Type(), tc.Code())
		}
	}
	if !sawIP {
		return errNoIP
	}
	if len(d.decoded) > 0 && (d.decoded[len(d.decoded)-1] == layers.LayerTypeIPv4 || d.decoded[len(d.decoded)-1] == layers.LayerTypeIPv6) {
		// The parser stopped at IP: a protocol without a decoding layer.
		switch p.proto {
		case protoSCTP:
			if len(ipPayload) < 12 {
				return errTruncated
			}
			p.sport = binary.BigEndian.Uint16(ipPayload[0:2])
			p.dport = binary.BigEndian.Uint16(ipPayload[2:4])
		case protoTCP, protoUDP, protoICMP, protoICMPv6:
			return errTruncated
		case 43, 44, 60: // IPv6 routing, fragment, destination options
			if d.decoded[len(d.decoded)-1] == layers.LayerTypeIPv6 {
				return d.ip6Ext(p, ipPayload)
			}
		}
	}
	return nil
}

var (
	errUnsupportedLink = fmt.Errorf("unsupported link type")
	errFragment        = fmt.Errorf("ip fragment")
	errTruncated       = fmt.Errorf("truncated transport header")
)

func tcpFlagByte(t *layers.TCP) uint8 {
	var f uint8
	if t.FIN {
		f |= tcpFIN
	}
	if t.SYN {
		f |= tcpSYN
	}
	if t.RST {
		f |= tcpRST
	}
	if t.PSH {
		f |= 0x08
	}
	if t.ACK {
		f |= tcpACK
	}
	return f
}

// maxExtHeaders bounds the IPv6 extension-header chain walked per packet.
const maxExtHeaders = 8

// ip6Ext walks IPv6 extension headers (which the parser's layers do not
// cover) to the transport header and decodes it. Later fragments are
// reported as errFragment; fragments are not reassembled.
func (d *decoder) ip6Ext(p *packet, b []byte) error {
	nh := p.proto
	for range maxExtHeaders {
		switch nh {
		case 0, 43, 60:
			if len(b) < 8 {
				return errTruncated
			}
			l := (int(b[1]) + 1) * 8
			if len(b) < l {
				return errTruncated
			}
			nh, b = b[0], b[l:]
		case 44:
			if len(b) < 8 {
				return errTruncated
			}
			off := binary.BigEndian.Uint16(b[2:4]) >> 3
			nh, b = b[0], b[8:]
			if off != 0 {
				p.proto = nh
				return errFragment
			}
		default:
			p.proto = nh
			return d.transport(p, b)
		}
	}
	return errTruncated
}

// transport decodes a transport header found outside the parser.
func (d *decoder) transport(p *packet, b []byte) error {
	df := gopacket.NilDecodeFeedback
	switch p.proto {
	case protoTCP:
		if err := d.tcp.DecodeFromBytes(b, df); err != nil {
			return err
		}
		p.sport, p.dport = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
		p.tcpFlags = tcpFlagByte(&d.tcp)
		p.seq = d.tcp.Seq
		p.payload = d.tcp.Payload
	case protoUDP:
		if err := d.udp.DecodeFromBytes(b, df); err != nil {
			return err
		}
		p.sport, p.dport = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		p.payload = d.udp.Payload
	case protoICMPv6:
		if err := d.icmp6.DecodeFromBytes(b, df); err != nil {
			return err
		}
		tc := d.icmp6.TypeCode
		p.sport, p.dport, p.oneWay = icmpPorts(protoICMPv6, tc.Type(), tc.Code())
	case protoSCTP:
		if len(b) < 12 {
			return errTruncated
		}
		p.sport = binary.BigEndian.Uint16(b[0:2])
		p.dport = binary.BigEndian.Uint16(b[2:4])
	}
	return nil
}
