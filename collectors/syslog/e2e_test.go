package syslog

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/bus"
)

// countingPublisher forwards to a bus and counts events acknowledged
// (durably stored) by it.
type countingPublisher struct {
	next interface {
		Publish(context.Context, *event.Batch) error
	}
	acked  atomic.Int64
	failed atomic.Int64
}

func (c *countingPublisher) Publish(ctx context.Context, b *event.Batch) error {
	n := int64(len(b.Events))
	inner := event.NewBatch(b.Events, func(err error) {
		if err != nil {
			c.failed.Add(n)
		} else {
			c.acked.Add(n)
		}
		b.Done(err)
	})
	return c.next.Publish(ctx, inner)
}

// TestThroughputJetStream is the end-to-end measurement: a TCP listener at
// $MANGROVE_SYSLOG_E2E_ADDR publishing into an embedded JetStream bus (fsync
// "always"), until $MANGROVE_SYSLOG_E2E_N events are durably on the bus. Send
// them with /work/shared/tools/syslog-blast; the test logs the rate from the
// first event acknowledged to the last, and the time of the last (to time the
// run from the sender's start, as for rsyslog: see the README).
func TestThroughputJetStream(t *testing.T) {
	addr, ns := os.Getenv("MANGROVE_SYSLOG_E2E_ADDR"), os.Getenv("MANGROVE_SYSLOG_E2E_N")
	if addr == "" || ns == "" {
		t.Skip("set MANGROVE_SYSLOG_E2E_ADDR=127.0.0.1:PORT and MANGROVE_SYSLOG_E2E_N to run the end-to-end measurement")
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	js, err := bus.OpenJetStream(t.Context(), bus.Config{StoreDir: t.TempDir(), Consumers: []string{"detect"},
		Sync: os.Getenv("MANGROVE_SYSLOG_E2E_SYNC")}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	spec := NewSpec()
	spec.Listen = "tcp://" + addr
	spec.Tenant = "t"
	// syslog-blast's messages repeat every 40,000: batches of a size
	// dividing that would be identical and dropped by the bus as duplicates.
	spec.BatchSize = 999
	if v := os.Getenv("MANGROVE_SYSLOG_E2E_BATCH"); v != "" {
		spec.BatchSize, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("MANGROVE_SYSLOG_E2E_IN_FLIGHT"); v != "" {
		spec.InFlight, _ = strconv.Atoi(v)
	}
	p := &countingPublisher{next: js}
	// Keyed event IDs, as `mangrove serve` gives its collectors.
	startCollector(t, spec, p, func(c *Collector) { c.ids = testIDKey })
	t.Logf("listening on %s, waiting for %d events", addr, n)
	var start time.Time
	for p.acked.Load()+p.failed.Load() < n {
		if start.IsZero() && p.acked.Load() > 0 {
			start = time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	end := time.Now()
	d := end.Sub(start)
	t.Logf("%d events durably on the bus (%d failed) in %.2fs after the first ack: %.0f events/s; last ack at unix-ns %d; bus stats %+v",
		p.acked.Load(), p.failed.Load(), d.Seconds(), float64(n)/d.Seconds(), end.UnixNano(), js.Stats())
	if p.failed.Load() > 0 {
		t.Errorf("%d events not stored", p.failed.Load())
	}
}
