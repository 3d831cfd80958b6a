package pcap

import (
	"bytes"
	"os"
	"runtime"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

type benchPacket struct {
	lt   layers.LinkType
	data []byte
	ci   gopacket.CaptureInfo
}

// loadCorpus reads every packet of the Zeek traces (pcap format) into
// memory, so the benchmark measures decoding, not disk reads.
func loadCorpus(b *testing.B) []benchPacket {
	var pkts []benchPacket
	for _, f := range zeekTraces(b) {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		r, err := pcapgo.NewReader(bytes.NewReader(raw))
		if err != nil {
			continue // pcapng or unreadable: not part of the corpus
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			pkts = append(pkts, benchPacket{r.LinkType(), data, ci})
		}
	}
	if len(pkts) == 0 {
		b.Fatal("empty corpus")
	}
	return pkts
}

// BenchmarkProcessor runs decode + flow tracking + DNS + event building over
// every packet of the Zeek traces; one op is one pass over the corpus.
func BenchmarkProcessor(b *testing.B) {
	pkts := loadCorpus(b)
	emitted := 0
	emit := func(*event.Event) error { emitted++; return nil }
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		// A fresh processor per pass: flow creation, expiry and the
		// flow events at flush are part of the cost.
		p := NewProcessor(Options{}, emit)
		for i := range pkts {
			if err := p.Packet(pkts[i].lt, pkts[i].data, pkts[i].ci); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Flush(); err != nil {
			b.Fatal(err)
		}
		n += len(pkts)
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/packet")
	b.ReportMetric(float64(len(pkts)), "packets/op")
	if emitted == 0 {
		b.Fatal("no events")
	}
}

// BenchmarkFlowTableMemory fills the table with 200,000 concurrent UDP
// flows and reports the heap held per flow, to size Options.MaxFlows.
func BenchmarkFlowTableMemory(b *testing.B) {
	const flows = 200_000
	frame := udpIP(b, "10.0.0.1", "10.1.0.1", 1, 53, nil)
	for b.Loop() {
		p := NewProcessor(Options{}, func(*event.Event) error { return nil })
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range flows {
			// Vary the destination address (bytes 18-19) and source port.
			frame[18], frame[19] = byte(i>>8), byte(i)
			frame[20], frame[21] = byte(i>>16), 1
			if err := p.Packet(layers.LinkTypeRaw, frame, ci(t0, frame)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got := len(p.table.flows); got != flows {
			b.Fatalf("%d flows in table", got)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/flows, "heap-bytes/flow")
	}
}

// BenchmarkMillionFlows feeds 1,200,000 concurrent UDP flows against the
// default MaxFlows (1,048,576): the table must stop at the limit, evicting
// (and reporting) the longest idle, and the heap must stay bounded.
func BenchmarkMillionFlows(b *testing.B) {
	const flows = 1_200_000
	frame := udpIP(b, "10.0.0.1", "10.1.0.1", 1, 53, nil)
	for b.Loop() {
		var emitted int
		p := NewProcessor(Options{}, func(*event.Event) error { emitted++; return nil })
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range flows {
			frame[17], frame[18], frame[19] = byte(i>>16), byte(i>>8), byte(i)
			frame[20], frame[21] = byte(i>>16), 1
			if err := p.Packet(layers.LinkTypeRaw, frame, ci(t0, frame)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := p.Stats()
		if n := len(p.table.flows); n > 1<<20 || st.FlowsEvicted != flows-1<<20 || emitted != int(st.FlowsEvicted) {
			b.Fatalf("%d flows in the table, %d evicted, %d emitted", n, st.FlowsEvicted, emitted)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(st.FlowsEvicted), "evicted")
	}
}
