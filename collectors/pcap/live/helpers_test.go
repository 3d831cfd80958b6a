package live

import (
	"context"
	"fmt"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap"
)

// replayFiles are Ethernet captures with flows of every transport, DNS, TLS
// and HTTP, small enough to replay in a test.
var replayFiles = []string{
	"community-id/pcaps/tcp.pcap",
	"community-id/pcaps/udp.pcap",
	"community-id/pcaps/icmp.pcap",
	"community-id/pcaps/icmp6.pcap",
	"community-id/pcaps/ipv6.pcap",
	"community-id/pcaps/sctp.pcap",
	"zeek-traces/dns-caa.pcap",
	"ja4/badcurveball.pcap",
	"zeek-traces/http/get-gzip.pcap",
}

func replayPaths(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, f := range replayFiles {
		out = append(out, datasettest.Path(t, "pcap", f))
	}
	return out
}

// offline decodes the files as `mangrove pcap decode` does.
func offline(t testing.TB, tenant string, files []string) []event.Event {
	t.Helper()
	var out []event.Event
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = pcap.ReadFile(t.Context(), fh, pcap.Options{Tenant: tenant}, func(ev *event.Event) error {
			out = append(out, *ev)
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatalf("decoding %s: %v", f, err)
		}
	}
	return out
}

// summary reduces events to what a live capture of the same packets must
// reproduce whatever the timing: per Community ID the packets and bytes of
// its flows (a live replay may merge flows a file's timeouts split), and
// each application event's identifying fields.
func summary(events []event.Event) []string {
	type counts struct{ flows, packets, bytes int }
	flows := map[string]*counts{}
	var out []string
	for i := range events {
		ev := &events[i]
		cid := ev.GetString("network.community_id")
		ds := ev.Dataset
		if ds == "flow" {
			c := flows[cid]
			if c == nil {
				c = &counts{}
				flows[cid] = c
			}
			c.flows++
			c.packets += num(ev, "network.packets")
			c.bytes += num(ev, "network.bytes")
			continue
		}
		line := ds + " " + cid
		for _, f := range []string{"dns.question.name", "dns.response_code", "tls.client.server_name", "tls.client.ja4", "url.original", "http.response.status_code"} {
			if v, ok := ev.Get(f); ok {
				line += " " + f + "=" + v.Text()
			}
		}
		out = append(out, line)
	}
	for cid, c := range flows {
		out = append(out, fmt.Sprintf("flow %s packets=%d bytes=%d", cid, c.packets, c.bytes))
	}
	slices.Sort(out)
	return out
}

func num(ev *event.Event, field string) int {
	v, _ := ev.Get(field)
	n, _ := strconv.Atoi(v.Text())
	return n
}

// diff lists the lines only in want (-) and only in got (+).
func diff(want, got []string) []string {
	var out []string
	w, g := map[string]int{}, map[string]int{}
	for _, s := range want {
		w[s]++
	}
	for _, s := range got {
		g[s]++
	}
	for s, n := range w {
		if g[s] < n {
			out = append(out, "- "+s)
		}
	}
	for s, n := range g {
		if w[s] < n {
			out = append(out, "+ "+s)
		}
	}
	slices.Sort(out)
	return out
}

// sink is a Publisher that keeps the events and acknowledges each batch,
// or blocks until release is closed, or refuses with err.
type sink struct {
	mu      sync.Mutex
	events  []event.Event
	batches int
	release chan struct{}
	err     error
}

func (s *sink) Publish(ctx context.Context, b *event.Batch) error {
	if s.err != nil {
		return s.err
	}
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	s.events = append(s.events, b.Events...)
	s.batches++
	s.mu.Unlock()
	b.Done(nil)
	return nil
}

func (s *sink) got() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// fileSource replays capture files as a packetSource, perRead packets per
// Read, with timestamps moved to now (as the kernel stamps them). It
// reports drops kernel drops once. done is closed when every packet was
// read.
type fileSource struct {
	frames  [][]byte
	lens    []int
	offsets []time.Duration
	start   time.Time
	next    int
	perRead int
	drops   uint64
	done    chan struct{}
	closed  bool
}

func newFileSource(t testing.TB, files []string, perRead int) *fileSource {
	t.Helper()
	s := &fileSource{perRead: perRead, done: make(chan struct{})}
	var first time.Time
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(fh)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if r.LinkType() != layers.LinkTypeEthernet {
			t.Fatalf("%s: link type %v, want Ethernet", f, r.LinkType())
		}
		base := time.Duration(0)
		if len(s.offsets) > 0 {
			base = s.offsets[len(s.offsets)-1] + time.Millisecond
		}
		var fileFirst time.Time
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			if fileFirst.IsZero() {
				fileFirst = ci.Timestamp
			}
			if first.IsZero() {
				first = ci.Timestamp
			}
			s.frames = append(s.frames, data)
			s.lens = append(s.lens, ci.Length)
			// Files follow each other; within one, packets keep their spacing.
			s.offsets = append(s.offsets, base+ci.Timestamp.Sub(fileFirst))
		}
		fh.Close()
	}
	s.start = time.Now()
	return s
}

func (s *fileSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

func (s *fileSource) Read(timeout time.Duration, fn func([]byte, gopacket.CaptureInfo)) (int, error) {
	if s.next >= len(s.frames) {
		if !s.closed {
			s.closed = true
			close(s.done)
		}
		time.Sleep(min(timeout, 5*time.Millisecond))
		return 0, nil
	}
	for range s.perRead {
		if s.next >= len(s.frames) {
			break
		}
		d := s.frames[s.next]
		fn(d, gopacket.CaptureInfo{Timestamp: s.start.Add(s.offsets[s.next]), CaptureLength: len(d), Length: s.lens[s.next]})
		s.next++
	}
	return 0, nil
}

func (s *fileSource) Stats() (kernelStats, error) {
	k := kernelStats{Packets: uint64(s.next), Drops: s.drops}
	s.drops = 0
	return k, nil
}

func (s *fileSource) Close() error { return nil }

// testSpec is a valid spec for interface iface.
func testSpec(iface string) *Spec {
	s := NewSpec()
	s.Interface = iface
	s.Tenant = "t1"
	s.BatchSize = 8
	s.BatchWait = 20 * time.Millisecond
	s.BlockSize = 1 << 20
	s.NumBlocks = 4
	return s
}

func buildCollector(t testing.TB, s *Spec) *Collector {
	t.Helper()
	c, err := s.build("cap1", collectors.Env{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requireDatasets fails unless the summary holds every dataset the replay
// files are chosen for, so that a comparison cannot pass on nothing.
func requireDatasets(t testing.TB, sum []string) {
	t.Helper()
	for _, ds := range []string{"flow ", "dns ", "network.tls ", "network.http "} {
		found := false
		for _, l := range sum {
			found = found || strings.HasPrefix(l, ds)
		}
		if !found {
			t.Fatalf("the replay files yield no %q event: %v", ds, sum)
		}
	}
}
