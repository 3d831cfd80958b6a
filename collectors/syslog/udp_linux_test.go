//go:build linux

package syslog

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUDPKernelDropsCounted pauses the UDP reader, floods its socket past
// a small receive buffer and checks that the datagrams the kernel dropped
// are counted (reason "kernel") once reading resumes, in the syslog series
// and in the shared mangrove_collector_dropped_total.
func TestUDPKernelDropsCounted(t *testing.T) {
	spec := NewSpec()
	spec.Listen = "udp://127.0.0.1:0"
	spec.Tenant = "t"
	spec.ReadBuffer = minReadBuffer
	release := make(chan struct{})
	var once sync.Once
	resume := func() { once.Do(func() { close(release) }) }
	t.Cleanup(resume)
	var p fakePublisher
	addr, reg := startCollector(t, spec, &p, func(c *Collector) {
		c.beforeRead = func() { <-release }
	})
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := strings.Repeat("x", 1000)
	sent := 0
	send := func() {
		t.Helper()
		if _, err := fmt.Fprintf(conn, "<13>1 - h app - - - %d %s", sent, body); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	for range 2000 {
		send()
	}
	resume()
	kernel := func() float64 {
		return counterValue(t, reg, "mangrove_syslog_dropped_total", map[string]string{"source": unknownSource, "reason": reasonKernel})
	}
	// The kernel reports its counter with the datagrams queued after the
	// drops: keep sending until one arrives.
	waitFor(t, 5*time.Second, "kernel drops", func() bool {
		send()
		time.Sleep(5 * time.Millisecond)
		return kernel() > 0
	})
	// Every datagram is either received or counted: loopback loses them
	// nowhere else.
	waitFor(t, 5*time.Second, "every datagram received or counted", func() bool {
		return float64(p.count())+kernel() == float64(sent)
	})
	drops, in := kernel(), float64(p.count())
	if shared := counterValue(t, reg, "mangrove_collector_dropped_total", map[string]string{"collector": "test"}); shared < drops {
		t.Errorf("mangrove_collector_dropped_total = %v, want >= %v kernel drops", shared, drops)
	}
	t.Logf("sent %d, received %v, kernel drops %v", sent, in, drops)
}

// TestKernelDropsParsesAncillaryData checks the SO_RXQ_OVFL decoding
// against control messages built the way the kernel lays them out.
func TestKernelDropsParsesAncillaryData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		oob    []byte
		want   uint32
		wantOK bool
	}{
		{"none", nil, 0, false},
		{"counter", rxqOvfl(7), 7, true},
		{"after_other", append(cmsg(0, 1, []byte{1, 2, 3, 4}), rxqOvfl(1<<31)...), 1 << 31, true},
		{"truncated", rxqOvfl(7)[:10], 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := kernelDrops(tc.oob)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("kernelDrops = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
