package live

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap"
)

const (
	// shutdownTimeout bounds publishing the last batches (the flows still
	// open included) and waiting for their acknowledgement.
	shutdownTimeout = 10 * time.Second
	// pollInterval bounds how long a Read waits, hence how late a
	// cancellation, a batch deadline or a tick is noticed.
	pollInterval = 100 * time.Millisecond
	// tickInterval is how often idle flows are expired and the kernel's
	// and the decoder's counters exported.
	tickInterval = time.Second
	// maxBatchPrealloc bounds the events allocated ahead for a batch.
	maxBatchPrealloc = 1024
)

// packetSource is a capture the collector reads: the AF_PACKET ring, or a
// test's replay. It is used by one goroutine.
type packetSource interface {
	// LinkType is the link type of every frame.
	LinkType() layers.LinkType
	// Read waits up to timeout for packets and calls fn for each packet
	// of one batch (data valid only during fn); nil and no call when
	// nothing arrived. malformed counts packets lost to a bad block.
	Read(timeout time.Duration, fn func(data []byte, ci gopacket.CaptureInfo)) (malformed int, err error)
	// Stats returns the kernel's counters since the previous call.
	Stats() (kernelStats, error)
	Close() error
}

// Collector is a running live capture.
type Collector struct {
	name string
	spec Spec
	log  zerolog.Logger
	m    *metrics
	// open opens the capture; tests replace it.
	open func(ctx context.Context) (packetSource, error)
}

// Build makes the collector named name.
func (s *Spec) Build(name string, env collectors.Env) (collectors.Collector, error) {
	return s.build(name, env)
}

func (s *Spec) build(name string, env collectors.Env) (*Collector, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(env.Registerer, name)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	c := &Collector{name: name, spec: *s, m: m,
		log: env.Logger.With().Str("component", "collectors.pcap").Str("collector", name).Logger()}
	c.open = c.openRing
	return c, nil
}

// openRing compiles the filter and opens the AF_PACKET ring.
func (c *Collector) openRing(ctx context.Context) (packetSource, error) {
	prog := snapProgram(c.spec.Snaplen)
	if c.spec.BPF != "" {
		link, err := interfaceLink(c.spec.Interface)
		if err != nil {
			return nil, err
		}
		if prog, err = compileBPF(ctx, c.spec.Tcpdump, link, c.spec.Snaplen, c.spec.BPF); err != nil {
			return nil, err
		}
	}
	r, err := openRing(c.spec.Interface, prog, c.spec.BlockSize, c.spec.NumBlocks, c.spec.promiscuous())
	if err != nil {
		return nil, fmt.Errorf("opening capture on %s: %w", c.spec.Interface, err)
	}
	return r, nil
}

// Run captures until ctx is done, then reports the flows still open and
// waits (at most 10 s) for the bus to acknowledge the last batches. It
// returns an error only when the capture cannot be opened or read.
func (c *Collector) Run(ctx context.Context, p collectors.Publisher) error {
	src, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer src.Close()
	c.log.Info().Str("interface", c.spec.Interface).Str("bpf", c.spec.BPF).Msg("capture started")

	pub := newPublisher(ctx, c, p)
	lt := src.LinkType()
	proc := pcap.NewProcessor(pcap.Options{
		Tenant:             c.spec.Tenant,
		Source:             c.name,
		TCPTimeout:         c.spec.TCPTimeout,
		UDPTimeout:         c.spec.UDPTimeout,
		MaxFlows:           c.spec.MaxFlows,
		MaxPacketBytes:     c.spec.Snaplen,
		MaxReassemblyBytes: c.spec.MaxReassemblyBytes,
	}, pub.add)
	var prev pcap.Stats
	var readErr error
	lastTick := time.Now()
	onPacket := func(data []byte, ci gopacket.CaptureInfo) {
		// emit (pub.add) never fails, so neither does Packet.
		_ = proc.Packet(lt, data, ci)
	}
	for ctx.Err() == nil {
		malformed, err := src.Read(pollInterval, onPacket)
		if err != nil {
			readErr = fmt.Errorf("reading capture on %s: %w", c.spec.Interface, err)
			break
		}
		c.m.drop(reasonRingMalformed, uint64(malformed))
		now := time.Now()
		if now.Sub(lastTick) >= tickInterval {
			lastTick = now
			_ = proc.Expire(now)
			prev = c.export(src, proc.Stats(), prev)
		}
		pub.flushIfDue(now)
	}
	_ = proc.Flush()
	c.export(src, proc.Stats(), prev)
	pub.close()
	return readErr
}

// export updates the metrics from the kernel's and the decoder's counters
// and returns the decoder's, for the next call.
func (c *Collector) export(src packetSource, s, prev pcap.Stats) pcap.Stats {
	if k, err := src.Stats(); err == nil {
		c.m.drop(reasonKernel, k.Drops)
		c.m.freezes.Add(float64(k.Freezes))
	}
	if s.Packets > prev.Packets {
		c.m.shared.In.Add(float64(s.Packets - prev.Packets))
		c.m.shared.Seen(time.Now())
	}
	if s.Bytes > prev.Bytes {
		c.m.shared.Bytes.Add(float64(s.Bytes - prev.Bytes))
	}
	c.m.decoderStats(prev, s)
	return s
}

// publisher gathers events into batches and publishes them on its own
// goroutine, so that a slow bus never stops the reading of the ring. The
// queue between them is bounded; when it is full the newest batch is
// dropped and counted.
type publisher struct {
	c       *Collector
	p       collectors.Publisher
	events  []event.Event
	started time.Time // when the first event of events arrived
	queue   chan *event.Batch
	stopped chan struct{}
	acks    sync.WaitGroup // published batches not yet Done
	ctx     context.Context
	cancel  context.CancelFunc
}

// newPublisher starts the publishing goroutine. Its context is not the
// capture's: it ends shutdownTimeout after close is called, so that the last
// batches can still be published.
func newPublisher(ctx context.Context, c *Collector, p collectors.Publisher) *publisher {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	pb := &publisher{c: c, p: p, ctx: pctx, cancel: cancel,
		queue: make(chan *event.Batch, c.spec.Queue), stopped: make(chan struct{})}
	go pb.run(pctx)
	return pb
}

func (pb *publisher) run(ctx context.Context) {
	defer close(pb.stopped)
	for b := range pb.queue {
		if err := pb.p.Publish(ctx, b); err != nil {
			// Not accepted: Done will not be called.
			pb.c.m.drop(reasonNotStored, uint64(len(b.Events)))
			pb.acks.Done()
		}
	}
}

// add is the Processor's emit: it appends ev to the current batch and
// queues the batch when full.
func (pb *publisher) add(ev *event.Event) error {
	if len(pb.events) == 0 {
		pb.started = time.Now()
		pb.events = make([]event.Event, 0, min(pb.c.spec.BatchSize, maxBatchPrealloc))
	}
	pb.events = append(pb.events, *ev)
	pb.c.m.events.Inc()
	if len(pb.events) >= pb.c.spec.BatchSize {
		pb.enqueue(false)
	}
	return nil
}

// flushIfDue queues the current batch when its first event waited
// BatchWait.
func (pb *publisher) flushIfDue(now time.Time) {
	if len(pb.events) > 0 && now.Sub(pb.started) >= pb.c.spec.BatchWait {
		pb.enqueue(false)
	}
}

// enqueue hands the current batch to the publishing goroutine; unless wait
// is set, a full queue drops it.
func (pb *publisher) enqueue(wait bool) {
	events, started := pb.events, pb.started
	pb.events = nil
	m := pb.c.m
	n := uint64(len(events))
	b := event.NewBatch(events, func(err error) {
		defer pb.acks.Done()
		if err != nil {
			m.drop(reasonNotStored, n)
			return
		}
		m.published.Add(float64(n))
		m.shared.Lag.Set(time.Since(started).Seconds())
	})
	pb.acks.Add(1)
	if wait {
		pb.queue <- b
		return
	}
	select {
	case pb.queue <- b:
	default:
		pb.acks.Done()
		m.drop(reasonQueueFull, n)
	}
}

// close queues the last batch, waits for the queue to drain and for every
// published batch to be acknowledged, at most shutdownTimeout.
func (pb *publisher) close() {
	deadline := time.AfterFunc(shutdownTimeout, pb.cancel)
	defer deadline.Stop()
	defer pb.cancel()
	if len(pb.events) > 0 {
		pb.enqueue(true)
	}
	close(pb.queue)
	<-pb.stopped
	acked := make(chan struct{})
	go func() {
		// Ends once the bus has called every Done, as its contract says.
		pb.acks.Wait()
		close(acked)
	}()
	select {
	case <-acked:
	case <-pb.ctx.Done():
		pb.c.log.Warn().Msg("capture stopped before the bus acknowledged the last batches")
	}
}

var _ collectors.Collector = (*Collector)(nil)
