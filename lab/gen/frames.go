package main

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"time"
)

// capture is a pcap file (Ethernet link type) being written, with a clock.
type capture struct {
	buf []byte
	now time.Time
}

func (w *capture) wait(d time.Duration) { w.now = w.now.Add(d) }

// header writes the pcap file header (microsecond timestamps).
func (w *capture) header() {
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 0xa1b2c3d4)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, 2)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, 4)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 0)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 0)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 65535)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 1) // Ethernet
}

// frame records one IPv4 packet in an Ethernet frame, 1 ms after the last.
func (w *capture) frame(src, dst string, proto byte, l4 []byte) {
	w.now = w.now.Add(time.Millisecond)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	pkt := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
	ip[8], ip[9] = 64, proto
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	// Transport checksum over the pseudo-header.
	var pseudo uint32
	for i := 0; i < 4; i += 2 {
		pseudo += uint32(s[i])<<8 | uint32(s[i+1]) + uint32(d[i])<<8 | uint32(d[i+1])
	}
	pseudo += uint32(proto) + uint32(len(l4))
	off := 16 // TCP
	if proto == 17 {
		off = 6
	}
	binary.BigEndian.PutUint16(l4[off:], checksum(l4, pseudo))
	pkt = append(append(pkt, ip...), l4...)
	us := w.now.UnixMicro()
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(us/1e6))
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(us%1e6))
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(pkt)))
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(pkt)))
	w.buf = append(w.buf, pkt...)
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TCP flags.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

func (w *capture) tcp(src string, sport int, dst string, dport int, flags byte, seq, acknum uint32, payload string) {
	h := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(h[0:], uint16(sport))
	binary.BigEndian.PutUint16(h[2:], uint16(dport))
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], acknum)
	h[12] = 5 << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 64240)
	w.frame(src, dst, 6, append(h, payload...))
}

// refused is a SYN answered by a RST (Zeek REJ).
func (w *capture) refused(src string, sport int, dst string, dport int) {
	w.tcp(src, sport, dst, dport, syn, 1000, 0, "")
	w.tcp(dst, dport, src, sport, rst|ack, 0, 1001, "")
}

// msg is one application message of a dialogue.
type msg struct {
	fromClient bool
	data       string
}

// session is a connection with one request and one response.
func (w *capture) session(src string, sport int, dst string, dport int, req, resp string) {
	w.dialogue(src, sport, dst, dport, []msg{{true, req}, {false, resp}})
}

// dialogue is a complete TCP connection (handshake, messages, FIN both ways).
func (w *capture) dialogue(src string, sport int, dst string, dport int, msgs []msg) {
	cs, ss := uint32(1000), uint32(9000)
	w.tcp(src, sport, dst, dport, syn, cs, 0, "")
	w.tcp(dst, dport, src, sport, syn|ack, ss, cs+1, "")
	cs, ss = cs+1, ss+1
	w.tcp(src, sport, dst, dport, ack, cs, ss, "")
	for _, m := range msgs {
		if m.fromClient {
			w.tcp(src, sport, dst, dport, psh|ack, cs, ss, m.data)
			cs += uint32(len(m.data))
		} else {
			w.tcp(dst, dport, src, sport, psh|ack, ss, cs, m.data)
			ss += uint32(len(m.data))
		}
	}
	w.tcp(src, sport, dst, dport, fin|ack, cs, ss, "")
	w.tcp(dst, dport, src, sport, fin|ack, ss, cs+1, "")
	w.tcp(src, sport, dst, dport, ack, cs+1, ss+1, "")
}

// dnsQuery is a UDP DNS query for name/A to the resolver.
func (w *capture) dnsQuery(src string, sport int, name string) {
	q := []byte{byte(sport >> 8), byte(sport), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(name, ".") {
		q = append(append(q, byte(len(l))), l...)
	}
	q = append(q, 0, 0, 1, 0, 1)
	h := make([]byte, 8, 8+len(q))
	binary.BigEndian.PutUint16(h[0:], uint16(sport))
	binary.BigEndian.PutUint16(h[2:], 53)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(q)))
	w.frame(src, resolver, 17, append(h, q...))
}
