package pcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// fuzzLinkTypes are the link types FuzzPacket picks from.
var fuzzLinkTypes = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, LinkTypeLinuxSLL2,
	layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, layers.LinkTypeNull,
}

// dnsQuery is a minimal DNS query for example.com/A.
var dnsQuery = []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}

// FuzzPacket feeds arbitrary frames (up to 64 KiB) under every link type:
// the decoder, flow table and DNS path must not panic, and every packet
// must be counted.
func FuzzPacket(f *testing.F) {
	f.Add(uint8(0), tcpFrame(f, "10.0.0.1", "10.0.0.2", 1, 80, "S", nil))
	f.Add(uint8(3), udpIP(f, "10.0.0.1", "10.0.0.2", 5353, 53, dnsQuery))
	f.Add(uint8(2), append([]byte{0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, make([]byte, 48)...))
	f.Fuzz(func(t *testing.T, lt uint8, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		p := NewProcessor(Options{MaxFlows: 4}, func(*event.Event) error { return nil })
		typ := fuzzLinkTypes[int(lt)%len(fuzzLinkTypes)]
		for i := range 2 {
			if err := p.Packet(typ, data, ci(t0.Add(time.Duration(i)*time.Minute), data)); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		st := p.Stats()
		if st.Packets != 2 {
			t.Fatalf("packets %d", st.Packets)
		}
	})
}

// FuzzReadFile feeds arbitrary capture files (up to 256 KiB): pcap and
// pcapng headers, records and blocks must be bounded and never panic.
func FuzzReadFile(f *testing.F) {
	var pc bytes.Buffer
	w := pcapgo.NewWriter(&pc)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	fr := tcpFrame(f, "10.0.0.1", "10.0.0.2", 1, 80, "S", nil)
	w.WritePacket(ci(t0, fr), fr)
	f.Add(pc.Bytes())
	var ng bytes.Buffer
	nw, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		f.Fatal(err)
	}
	nw.WritePacket(ci(t0, fr), fr)
	nw.Flush()
	f.Add(ng.Bytes())
	sll2 := bytes.Clone(pc.Bytes())
	binary.LittleEndian.PutUint32(sll2[20:24], 276)
	f.Add(sll2)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256<<10 {
			return
		}
		n := 0
		st, _ := ReadFile(context.Background(), bytes.NewReader(data), Options{MaxPacketBytes: 64 << 10}, func(*event.Event) error { n++; return nil })
		if uint64(n) != st.Flows+st.DNSMessages {
			t.Fatalf("%d events, stats %+v", n, st)
		}
	})
}
