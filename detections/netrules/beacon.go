package netrules

import (
	"context"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

// maxStarts bounds the connection start times kept per group.
const maxStarts = 64

// beacon is the beaconing detection.
type beacon struct {
	meta        detections.Meta
	window      time.Duration
	minConns    int
	minInterval time.Duration
	maxJitter   float64
	exclude     map[string]bool // destination ports, as text
	mu          sync.Mutex
	groups      keyed[beaconGroup]
}

// beaconGroup is one source, destination and port.
type beaconGroup struct {
	starts []time.Time // most recent maxStarts, unordered
	fired  bool
}

func newBeacon(meta detections.Meta, f File) *beacon {
	b := &beacon{meta: meta, window: f.Window, minConns: f.MinConnections, minInterval: f.MinInterval, maxJitter: f.MaxJitter}
	if b.window == 0 {
		b.window = 24 * time.Hour
	}
	if b.minConns == 0 {
		b.minConns = 10
	}
	if b.minInterval == 0 {
		b.minInterval = 10 * time.Second
	}
	if b.maxJitter == 0 {
		b.maxJitter = 0.1
	}
	ports := f.ExcludePorts
	if len(ports) == 0 {
		ports = []int{53, 67, 68, 123, 137, 138, 1900, 5353}
	}
	b.exclude = map[string]bool{}
	for _, p := range ports {
		b.exclude[strconv.Itoa(p)] = true
	}
	return b
}

func (b *beacon) Meta() detections.Meta { return b.meta }

// Eval records the start of each flow and judges the group's intervals.
// Flow events come when flows end, so starts are sorted before judging.
func (b *beacon) Eval(_ context.Context, ev *event.Event, emit func(detections.Finding)) error {
	if ev.Dataset != "flow" {
		return nil
	}
	src, dst, port := ev.GetString("source.ip"), ev.GetString("destination.ip"), ev.GetString("destination.port")
	if b.exclude[port] {
		return nil
	}
	key := src + "|" + dst + "|" + port + "|" + ev.GetString("network.transport")
	b.mu.Lock()
	g := b.groups.get(key)
	if len(g.starts) >= maxStarts {
		g.starts = g.starts[1:]
	}
	g.starts = append(g.starts, ev.Time)
	fire := false
	if !g.fired && len(g.starts) >= b.minConns {
		fire = b.regular(g.starts, ev.Time)
		g.fired = fire
	}
	b.mu.Unlock()
	if fire {
		emit(detections.Finding{Events: []*event.Event{ev}, GroupBy: []alert.KV{
			{Field: "source.ip", Value: src}, {Field: "destination.ip", Value: dst}, {Field: "destination.port", Value: port}}})
	}
	return nil
}

// regular reports whether the starts within the window before now are at
// least minConns, spaced by a mean of at least minInterval with a
// coefficient of variation of at most maxJitter.
func (b *beacon) regular(starts []time.Time, now time.Time) bool {
	ts := make([]time.Time, 0, len(starts))
	for _, t := range starts {
		if now.Sub(t) <= b.window {
			ts = append(ts, t)
		}
	}
	if len(ts) < b.minConns {
		return false
	}
	slices.SortFunc(ts, func(x, y time.Time) int { return x.Compare(y) })
	n := float64(len(ts) - 1)
	var sum float64
	for i := 1; i < len(ts); i++ {
		sum += ts[i].Sub(ts[i-1]).Seconds()
	}
	mean := sum / n
	if mean < b.minInterval.Seconds() {
		return false
	}
	var ss float64
	for i := 1; i < len(ts); i++ {
		d := ts[i].Sub(ts[i-1]).Seconds() - mean
		ss += d * d
	}
	return math.Sqrt(ss/n)/mean <= b.maxJitter
}
