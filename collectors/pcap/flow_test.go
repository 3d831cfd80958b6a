package pcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// tcpFrame builds an Ethernet/IPv4/TCP frame.
func tcpFrame(t testing.TB, src, dst string, sport, dport uint16, flags string, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Window: 1024}
	for _, c := range flags {
		switch c {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		case 'P':
			tcp.PSH = true
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(payload))
}

// udpIP builds an IPv4/UDP packet without link layer.
func udpIP(t testing.TB, src, dst string, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, udp, gopacket.Payload(payload))
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func collect(t testing.TB, opts Options, feed func(p *Processor)) ([]*event.Event, Stats) {
	t.Helper()
	var evs []*event.Event
	p := NewProcessor(opts, func(ev *event.Event) error { evs = append(evs, ev); return nil })
	feed(p)
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	return evs, p.Stats()
}

func ci(ts time.Time, data []byte) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
}

func TestConnState(t *testing.T) {
	const c, s = "10.0.0.1", "10.0.0.2"
	type seg struct {
		fromClient bool
		flags      string
		data       string
	}
	tests := []struct {
		name, state, history string
		segs                 []seg
	}{
		{"complete", "SF", "ShADdFf", []seg{{true, "S", ""}, {false, "SA", ""}, {true, "A", ""}, {true, "PA", "GET"}, {false, "PA", "OK"}, {true, "FA", ""}, {false, "FA", ""}, {true, "A", ""}}},
		{"no answer", "S0", "S", []seg{{true, "S", ""}, {true, "S", ""}}},
		{"rejected", "REJ", "Sr", []seg{{true, "S", ""}, {false, "RA", ""}}},
		{"established", "S1", "ShA", []seg{{true, "S", ""}, {false, "SA", ""}, {true, "A", ""}}},
		{"orig reset", "RSTO", "ShAR", []seg{{true, "S", ""}, {false, "SA", ""}, {true, "A", ""}, {true, "R", ""}}},
		{"resp reset", "RSTR", "ShAr", []seg{{true, "S", ""}, {false, "SA", ""}, {true, "A", ""}, {false, "R", ""}}},
		{"orig close only", "S2", "ShAF", []seg{{true, "S", ""}, {false, "SA", ""}, {true, "A", ""}, {true, "FA", ""}}},
		{"midstream", "OTH", "Dd", []seg{{true, "PA", "x"}, {false, "PA", "y"}}},
		{"half open", "SH", "SF", []seg{{true, "S", ""}, {true, "F", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st := collect(t, Options{}, func(p *Processor) {
				for i, sg := range tt.segs {
					var fr []byte
					if sg.fromClient {
						fr = tcpFrame(t, c, s, 40000, 80, sg.flags, []byte(sg.data))
					} else {
						fr = tcpFrame(t, s, c, 80, 40000, sg.flags, []byte(sg.data))
					}
					if err := p.Packet(layers.LinkTypeEthernet, fr, ci(t0.Add(time.Duration(i)*time.Millisecond), fr)); err != nil {
						t.Fatal(err)
					}
				}
			})
			if len(evs) != 1 || st.Malformed != 0 {
				t.Fatalf("got %d events, stats %+v", len(evs), st)
			}
			ev := evs[0]
			if got := ev.GetString("zeek.connection.state"); got != tt.state {
				t.Errorf("state %s, want %s", got, tt.state)
			}
			if got := ev.GetString("zeek.connection.history"); got != tt.history {
				t.Errorf("history %s, want %s", got, tt.history)
			}
			if ev.GetString("source.ip") != c || ev.GetString("destination.port") != "80" {
				t.Errorf("orientation: %s:%s -> %s", ev.GetString("source.ip"), ev.GetString("source.port"), ev.GetString("destination.port"))
			}
			if got, want := ev.GetString("network.packets"), itoa(len(tt.segs)); got != want {
				t.Errorf("packets %s, want %s", got, want)
			}
		})
	}
}

func itoa(n int) string { return event.NumberValue(float64(n)).Str }

// TestFlowTimeoutsAndEviction checks Zeek's UDP timeout splits a flow,
// counters per direction, and that a full table evicts and counts.
func TestFlowTimeoutsAndEviction(t *testing.T) {
	q := udpIP(t, "10.0.0.1", "10.0.0.9", 5000, 9999, []byte("abc"))
	r := udpIP(t, "10.0.0.9", "10.0.0.1", 9999, 5000, []byte("defgh"))
	evs, _ := collect(t, Options{}, func(p *Processor) {
		p.Packet(layers.LinkTypeRaw, q, ci(t0, q))
		p.Packet(layers.LinkTypeRaw, r, ci(t0.Add(time.Second), r))
		// Idle for more than a minute: a new flow.
		p.Packet(layers.LinkTypeRaw, q, ci(t0.Add(62*time.Second), q))
	})
	if len(evs) != 2 {
		t.Fatalf("got %d flows, want 2", len(evs))
	}
	first := evs[0]
	for k, want := range map[string]string{
		"source.packets": "1", "destination.packets": "1",
		"source.bytes": itoa(len(q)), "destination.bytes": itoa(len(r)),
		"event.duration": "1000000000", "event.reason": "timeout", "zeek.connection.state": "SF",
		"network.transport": "udp", "network.type": "ipv4",
	} {
		if got := first.GetString(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if evs[1].GetString("zeek.connection.state") != "S0" || evs[0].ID == evs[1].ID {
		t.Errorf("second flow: state %s, ids %s %s", evs[1].GetString("zeek.connection.state"), evs[0].ID, evs[1].ID)
	}

	evs, st := collect(t, Options{MaxFlows: 2}, func(p *Processor) {
		for i := range 3 {
			b := udpIP(t, "10.0.0.1", "10.0.0.9", uint16(6000+i), 9999, nil)
			p.Packet(layers.LinkTypeRaw, b, ci(t0.Add(time.Duration(i)*time.Millisecond), b))
		}
	})
	if len(evs) != 3 || st.FlowsEvicted != 1 || evs[0].GetString("event.reason") != "evicted" || evs[0].GetString("source.port") != "6000" {
		t.Errorf("eviction: %d events, stats %+v, first %v", len(evs), st, evs[0].Fields)
	}
}

// TestLinkTypes decodes one UDP packet under every supported link layer,
// including SLL2 in a pcap file whose header says 276.
func TestLinkTypes(t *testing.T) {
	ipPkt := udpIP(t, "192.0.2.1", "192.0.2.2", 1111, 2222, []byte("x"))
	eth := append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}, ipPkt...)
	vlan := append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00}, ipPkt...)
	sll := append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}, ipPkt...)
	sll2 := append([]byte{0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, ipPkt...)
	null := append(binary.LittleEndian.AppendUint32(nil, 2), ipPkt...)
	tests := []struct {
		name string
		lt   uint32
		data []byte
	}{
		{"ethernet", 1, eth}, {"vlan", 1, vlan}, {"sll", 113, sll}, {"sll2", 276, sll2},
		{"raw", 101, ipPkt}, {"ipv4", 228, ipPkt}, {"null", 0, null},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var file bytes.Buffer
			w := pcapgo.NewWriter(&file)
			if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
				t.Fatal(err)
			}
			if err := w.WritePacket(ci(t0, tt.data), tt.data); err != nil {
				t.Fatal(err)
			}
			b := file.Bytes()
			binary.LittleEndian.PutUint32(b[20:24], tt.lt)
			var evs []*event.Event
			st, err := ReadFile(context.Background(), bytes.NewReader(b), Options{}, func(ev *event.Event) error { evs = append(evs, ev); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || st.Malformed+st.UnsupportedLink+st.NonIP != 0 {
				t.Fatalf("%d events, stats %+v", len(evs), st)
			}
			if got := evs[0].GetString("destination.port"); got != "2222" {
				t.Errorf("destination.port %s", got)
			}
		})
	}
}

// TestMalformedCounted feeds truncated frames: counted, never fatal.
func TestMalformedCounted(t *testing.T) {
	fr := tcpFrame(t, "10.0.0.1", "10.0.0.2", 1, 2, "S", nil)
	evs, st := collect(t, Options{}, func(p *Processor) {
		// Ethernet pads the frame to 60 bytes; headers end at 54.
		for n := 0; n < 14+20+20; n++ {
			if err := p.Packet(layers.LinkTypeEthernet, fr[:n], ci(t0, fr[:n])); err != nil {
				t.Fatal(err)
			}
		}
		p.Packet(layers.LinkType(200), fr, ci(t0, fr))
	})
	if st.Malformed == 0 || st.UnsupportedLink != 1 || st.Packets != 14+20+20+1 {
		t.Errorf("stats %+v", st)
	}
	if len(evs) != 0 {
		t.Errorf("flows from truncated frames: %d: %v", len(evs), evs[0].Fields)
	}
}

// TestIPv6ExtensionHeaders walks hop-by-hop and destination-options
// headers to UDP, and counts a later fragment as a fragment.
func TestIPv6ExtensionHeaders(t *testing.T) {
	udp := []byte{0x04, 0x57, 0x08, 0xae, 0, 9, 0, 0, 'x'} // 1111 -> 2222
	build := func(next uint8, ext []byte) []byte {
		h := make([]byte, 40)
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:6], uint16(len(ext)+len(udp)))
		h[6], h[7] = next, 64
		h[8], h[23] = 0x20, 1
		h[24], h[39] = 0x20, 2
		return append(append(h, ext...), udp...)
	}
	hbh := []byte{60, 0, 1, 4, 0, 0, 0, 0} // next: destination options
	dst := []byte{17, 0, 1, 4, 0, 0, 0, 0} // next: UDP
	frag := []byte{17, 0, 0, 8, 0, 0, 0, 1}
	tests := []struct {
		name      string
		pkt       []byte
		flows     int
		fragments uint64
	}{
		{"hop-by-hop then dest options", build(0, append(bytes.Clone(hbh), dst...)), 1, 0},
		{"dest options", build(60, dst), 1, 0},
		{"later fragment", build(44, frag), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st := collect(t, Options{}, func(p *Processor) {
				p.Packet(layers.LinkTypeRaw, tt.pkt, ci(t0, tt.pkt))
			})
			if len(evs) != tt.flows || st.Fragments != tt.fragments || st.Malformed != 0 {
				t.Fatalf("%d flows, stats %+v", len(evs), st)
			}
			if tt.flows == 1 && (evs[0].GetString("destination.port") != "2222" || evs[0].GetString("network.transport") != "udp") {
				t.Errorf("flow %v", evs[0].Fields)
			}
		})
	}
}

// TestDNSOverTCP decodes a length-prefixed message inside one segment.
func TestDNSOverTCP(t *testing.T) {
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(dnsQuery)))
	msg = append(msg, dnsQuery...)
	fr := tcpFrame(t, "10.0.0.1", "10.0.0.53", 40000, 53, "PA", msg)
	short := tcpFrame(t, "10.0.0.1", "10.0.0.53", 40000, 53, "PA", msg[:10])
	evs, st := collect(t, Options{}, func(p *Processor) {
		p.Packet(layers.LinkTypeEthernet, fr, ci(t0, fr))
		p.Packet(layers.LinkTypeEthernet, short, ci(t0, short))
	})
	if st.DNSMessages != 1 || len(evs) != 2 {
		t.Fatalf("%d events, stats %+v", len(evs), st)
	}
	d := evs[0]
	if d.Dataset != "dns" || d.GetString("dns.question.name") != "example.com" || d.GetString("network.transport") != "tcp" || d.GetString("dns.type") != "query" {
		t.Errorf("dns event %v", d.Fields)
	}
}
