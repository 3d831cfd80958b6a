package pcap

import (
	"net"
	"runtime"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// BenchmarkStreamMemory opens 200,000 TCP connections that each leave an
// incomplete HTTP request head buffered: reassembly memory stays within
// MaxReassemblyBytes (8 MiB here), the directions that would exceed it are
// counted, and the heap per flow is reported.
func BenchmarkStreamMemory(b *testing.B) {
	const flows = 200_000
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP("10.0.0.1"), DstIP: net.ParseIP("10.1.0.1")}
	tcp := &layers.TCP{SrcPort: 1, DstPort: 80, Seq: 1, ACK: true, PSH: true, Window: 1024}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		b.Fatal(err)
	}
	frame := serialize(b, ip, tcp, gopacket.Payload("GET /an-incomplete-request-head HTTP/1.1\r\nHost: example.com\r\n"))
	for b.Loop() {
		p := NewProcessor(Options{MaxReassemblyBytes: 8 << 20}, func(*event.Event) error { return nil })
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range flows {
			frame[18], frame[19] = byte(i>>8), byte(i) // destination address
			frame[20], frame[21] = byte(i>>16), 1      // source port
			if err := p.Packet(layers.LinkTypeRaw, frame, ci(t0, frame)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if p.reasm > 8<<20 {
			b.Fatalf("%d bytes buffered", p.reasm)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/flows, "heap-bytes/flow")
		b.ReportMetric(float64(p.reasm), "reassembly-bytes")
		b.ReportMetric(float64(p.Stats().ReassemblyLimit), "limit-hits")
	}
}
