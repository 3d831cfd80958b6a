package pcap

import (
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

func TestExpire(t *testing.T) {
	udp := udpIP(t, "10.0.0.1", "10.0.0.9", 5000, 9999, []byte("abc"))
	later := udpIP(t, "10.0.0.1", "10.0.0.9", 5001, 9999, []byte("abc"))
	var evs []*event.Event
	p := NewProcessor(Options{UDPTimeout: time.Minute}, func(ev *event.Event) error { evs = append(evs, ev); return nil })
	if err := p.Packet(layers.LinkTypeRaw, udp, ci(t0, udp)); err != nil {
		t.Fatal(err)
	}
	if err := p.Packet(layers.LinkTypeRaw, later, ci(t0.Add(30*time.Second), later)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Duration
		want int // flows reported so far
	}{
		{time.Minute, 0},      // not idle for longer than the timeout yet
		{61 * time.Second, 1}, // the first flow
		{61 * time.Second, 1}, // reported once
		{91 * time.Second, 2}, // the second
	}
	for _, tt := range tests {
		if err := p.Expire(t0.Add(tt.at)); err != nil {
			t.Fatal(err)
		}
		if len(evs) != tt.want {
			t.Fatalf("Expire(t0+%v): %d flows, want %d", tt.at, len(evs), tt.want)
		}
	}
	if r := evs[0].GetString("event.reason"); r != "timeout" || evs[0].GetString("source.port") != "5000" {
		t.Errorf("first flow: reason %q, port %s", r, evs[0].GetString("source.port"))
	}
	if err := p.Flush(); err != nil || len(evs) != 2 {
		t.Errorf("Flush after Expire: %v, %d flows", err, len(evs))
	}
}
