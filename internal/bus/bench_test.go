package bus

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// benchBatchSize is the events per published batch in the benchmarks.
const benchBatchSize = 1000

func BenchmarkJetStream(b *testing.B) {
	for _, sync := range []string{SyncAlways, SyncInterval} {
		b.Run("sync="+sync, func(b *testing.B) {
			cfg := testConfig(b)
			cfg.Sync = sync
			benchBus(b, openTest(b, cfg))
		})
	}
}

func BenchmarkMemory(b *testing.B) {
	m, err := NewMemory(MemoryConfig{Consumers: []string{"detect"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	benchBus(b, m)
}

// benchBus publishes batches of benchBatchSize realistic events, each with a
// fresh ID, while one consumer with two workers decodes and counts them. It
// reports end-to-end throughput: from the first publish until the last event
// was handled.
func benchBus(b *testing.B, bus Bus) {
	// A ring of batches, each reused once its previous use is Done, as a
	// collector with a bounded number of outstanding batches would.
	const slots = 64
	type slot struct {
		events []event.Event
		done   chan error
	}
	ring := make([]slot, slots)
	for i := range ring {
		ring[i] = slot{events: benchEvents(i), done: make(chan error, 1)}
		ring[i].done <- nil
	}
	var consumed atomic.Int64
	runConsumer(b, bus, "detect", 2, func(_ context.Context, evs []event.Event) error {
		consumed.Add(int64(len(evs)))
		return nil
	})
	ctx := context.Background()
	idBuf := make([]byte, 0, 1024)
	var seq uint64
	n := 0
	size := 0
	for i := range ring[0].events {
		size += len(event.AppendJSON(idBuf[:0], &ring[0].events[i])) + 1
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	start := time.Now()
	for b.Loop() {
		s := &ring[n%slots]
		n++
		if err := <-s.done; err != nil {
			b.Fatalf("Done(%v)", err)
		}
		for i := range s.events {
			seq++
			s.events[i].ID = benchID(idBuf, seq)
		}
		done := s.done
		if err := bus.Publish(ctx, event.NewBatch(s.events, func(err error) { done <- err })); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(n) * benchBatchSize
	deadline := time.Now().Add(time.Minute)
	for consumed.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("consumed %d of %d events", consumed.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(want)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(want)*float64(size)/benchBatchSize/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(size)/benchBatchSize, "bytes/event")
	// CPU time of the whole process per event: publisher, embedded server,
	// consumer and GC. Unlike events/s it hardly depends on what else the
	// machine runs.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(want), "cpu-ns/event")
	b.ReportMetric(0, "ns/op")
}

// benchEvents returns benchBatchSize firewall events in ECS form, ~330 bytes
// each once encoded with their 32-character IDs.
func benchEvents(batch int) []event.Event {
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	evs := make([]event.Event, benchBatchSize)
	for i := range evs {
		ev := event.Event{
			ID:      benchID(nil, uint64(batch*benchBatchSize+i)),
			Time:    base.Add(time.Duration(batch*benchBatchSize+i) * time.Millisecond),
			Tenant:  "so-tttt",
			Source:  "syslog-fw",
			Dataset: "fortinet.firewall",
		}
		ev.Set("source.ip", event.StringValue(fmt.Sprintf("10.%d.%d.%d", batch%250, i/250, i%250)))
		ev.Set("source.port", event.NumberValue(float64(40000+i%20000)))
		ev.Set("destination.ip", event.StringValue("203.113.131.1"))
		ev.Set("destination.port", event.NumberValue(443))
		ev.Set("network.transport", event.StringValue("tcp"))
		ev.Set("event.action", event.StringValue("accept"))
		evs[i] = ev
	}
	return evs
}

// benchID returns a 32-hex-digit event ID for seq, using buf as scratch.
func benchID(buf []byte, seq uint64) string {
	buf = append(buf[:0], "0000000000000000"...)
	for shift := 60; shift >= 0; shift -= 4 {
		buf = append(buf, "0123456789abcdef"[(seq>>shift)&0xf])
	}
	return string(buf)
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
