package live

import (
	"context"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// cycleSource hands out frames over and over, perRead per Read, n in all,
// with timestamps advancing 1 µs per packet.
type cycleSource struct {
	frames  [][]byte
	perRead int
	n, next int
	start   time.Time
	done    chan struct{}
}

func (s *cycleSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

func (s *cycleSource) Read(timeout time.Duration, fn func([]byte, gopacket.CaptureInfo)) (int, error) {
	if s.next >= s.n {
		if s.done != nil {
			close(s.done)
			s.done = nil
		}
		time.Sleep(min(timeout, time.Millisecond))
		return 0, nil
	}
	for range s.perRead {
		if s.next >= s.n {
			break
		}
		d := s.frames[s.next%len(s.frames)]
		fn(d, gopacket.CaptureInfo{Timestamp: s.start.Add(time.Duration(s.next) * time.Microsecond), CaptureLength: len(d), Length: len(d)})
		s.next++
	}
	return 0, nil
}

func (s *cycleSource) Stats() (kernelStats, error) { return kernelStats{}, nil }
func (s *cycleSource) Close() error                { return nil }

// discard acknowledges every batch at once.
type discard struct{}

func (discard) Publish(_ context.Context, b *event.Batch) error {
	b.Done(nil)
	return nil
}

// BenchmarkCollector measures the path from a ring block to published
// batches (decode, flows, reassembly, application parsers, batching,
// publishing), per packet, without the kernel: the replay files' frames
// are handed out as a ring would, 64 per block.
func BenchmarkCollector(b *testing.B) {
	files := replayPaths(b)
	fs := newFileSource(b, files, 1)
	s := testSpec("eth0")
	s.BatchSize = DefaultBatchSize
	s.Queue = 1 << 20 // measure the path, not drops
	c := buildCollector(b, s)
	src := &cycleSource{frames: fs.frames, perRead: 64, n: b.N, start: time.Now(), done: make(chan struct{})}
	done := src.done
	c.open = func(context.Context) (packetSource, error) { return src, nil }
	ctx, cancel := context.WithCancel(b.Context())
	errc := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() { errc <- c.Run(ctx, discard{}) }()
	<-done
	b.StopTimer()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
