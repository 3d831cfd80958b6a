// Package streamtest extracts the first bytes of each TCP stream direction
// from a pcap or pcapng file, for tests of the application-layer parsers. It
// is a test helper: simple per-connection ordering by sequence number, no
// limits beyond MaxPrefix, not for production decoding.
package streamtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// MaxPrefix is how many bytes of each direction are kept.
const MaxPrefix = 64 << 10

// Key identifies one direction of a TCP connection.
type Key struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

func (k Key) String() string {
	return fmt.Sprintf("%s:%d->%s:%d", k.Src, k.SrcPort, k.Dst, k.DstPort)
}

// Direction is one direction of a TCP connection with its ordered payload
// prefix.
type Direction struct {
	Key Key
	// SYN is true when this direction sent a SYN without ACK (the client).
	SYN bool
	// Payload is the in-order payload prefix, up to the first gap.
	Payload []byte
}

type seg struct {
	seq  uint32
	data []byte
}

type dir struct {
	isn    uint32
	hasISN bool
	syn    bool
	segs   []seg
	order  int
}

// Read returns every TCP direction with payload or SYN in the file, in order
// of first appearance. It fails the test on unreadable files.
func Read(tb testing.TB, path string) []Direction {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	var src interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var lt layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		src, lt = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		src, lt = r, r.LinkType()
	}
	dirs := map[Key]*dir{}
	for {
		data, _, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Logf("%s: stop reading: %v", path, err)
			break
		}
		pkt := gopacket.NewPacket(data, lt, gopacket.Default)
		var tcp *layers.TCP
		var s, d netip.Addr
		for _, l := range pkt.Layers() {
			switch l := l.(type) {
			case *layers.IPv4:
				s, _ = netip.AddrFromSlice(l.SrcIP)
				d, _ = netip.AddrFromSlice(l.DstIP)
			case *layers.IPv6:
				s, _ = netip.AddrFromSlice(l.SrcIP)
				d, _ = netip.AddrFromSlice(l.DstIP)
			case *layers.TCP:
				tcp = l
			}
		}
		if tcp == nil || !s.IsValid() {
			continue
		}
		k := Key{s.Unmap(), d.Unmap(), uint16(tcp.SrcPort), uint16(tcp.DstPort)}
		dd := dirs[k]
		if dd == nil {
			dd = &dir{order: len(dirs)}
			dirs[k] = dd
		}
		if tcp.SYN {
			dd.isn, dd.hasISN = tcp.Seq+1, true
			dd.syn = dd.syn || !tcp.ACK
		}
		if len(tcp.Payload) > 0 {
			dd.segs = append(dd.segs, seg{tcp.Seq, slices.Clone(tcp.Payload)})
		}
	}
	out := make([]Direction, 0, len(dirs))
	for k, dd := range dirs {
		out = append(out, Direction{Key: k, SYN: dd.syn, Payload: dd.assemble()})
	}
	slices.SortFunc(out, func(a, b Direction) int { return dirs[a.Key].order - dirs[b.Key].order })
	return out
}

func (d *dir) assemble() []byte {
	if len(d.segs) == 0 {
		return nil
	}
	base := d.isn
	if !d.hasISN {
		base = d.segs[0].seq
		for _, s := range d.segs {
			if int32(s.seq-base) < 0 {
				base = s.seq
			}
		}
	}
	slices.SortStableFunc(d.segs, func(a, b seg) int { return int(int32(a.seq-base)) - int(int32(b.seq-base)) })
	var out []byte
	for _, s := range d.segs {
		off := int(int32(s.seq - base))
		if off < 0 {
			if -off >= len(s.data) {
				continue
			}
			s.data, off = s.data[-off:], 0
		}
		if off > len(out) {
			break // gap
		}
		if end := off + len(s.data); end > len(out) {
			out = append(out, s.data[len(out)-off:]...)
		}
		if len(out) >= MaxPrefix {
			return out[:MaxPrefix]
		}
	}
	return out
}
