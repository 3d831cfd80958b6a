package live

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/pcap"
)

// Drop reasons of mangrove_capture_dropped_total. Packets: kernel,
// ring_malformed; events: queue_full, not_stored.
const (
	reasonKernel        = "kernel"         // packets the kernel lost: the ring was full
	reasonRingMalformed = "ring_malformed" // packets of a ring block that did not parse
	reasonQueueFull     = "queue_full"     // events of a batch dropped: the publish queue was full
	reasonNotStored     = "not_stored"     // events the bus refused or failed to store
)

// metrics are one capture's series; the vectors are shared by every pcap
// collector of a registry and labelled collector=<name>.
type metrics struct {
	shared    *collectors.Metrics
	dropped   *prometheus.CounterVec // curried: reason
	freezes   prometheus.Counter
	events    prometheus.Counter
	published prometheus.Counter
	decoder   *prometheus.CounterVec // curried: stat
}

func newMetrics(reg prometheus.Registerer, collector string) (*metrics, error) {
	var errs []error
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		v, err := collectors.RegisterShared(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mangrove", Subsystem: "capture", Name: name, Help: help,
		}, append([]string{collectors.LabelCollector}, labels...)))
		errs = append(errs, err)
		return v.MustCurryWith(prometheus.Labels{collectors.LabelCollector: collector})
	}
	one := func(name, help string) prometheus.Counter {
		return vec(name, help).WithLabelValues()
	}
	m := &metrics{
		dropped:   vec("dropped_total", "Packets (reasons kernel, ring_malformed) and events (queue_full, not_stored) lost by a live capture.", "reason"),
		freezes:   one("kernel_freezes_total", "Times the kernel found the capture ring full (TPACKET_V3 freeze count)."),
		events:    one("events_total", "Events the decoder produced."),
		published: one("published_events_total", "Events acknowledged by the bus."),
		decoder:   vec("decoder_total", "Decoder counters (collectors/pcap Stats), by stat.", "stat"),
	}
	// Every reason is exported from the start, at 0.
	for _, r := range []string{reasonKernel, reasonRingMalformed, reasonQueueFull, reasonNotStored} {
		m.dropped.WithLabelValues(r)
	}
	shared, err := collectors.NewMetrics(reg, Type.Name, collector)
	errs = append(errs, err)
	m.shared = shared
	return m, errors.Join(errs...)
}

// drop counts n packets or events lost for reason, also in the series
// every collector shares.
func (m *metrics) drop(reason string, n uint64) {
	if n == 0 {
		return
	}
	m.dropped.WithLabelValues(reason).Add(float64(n))
	m.shared.Dropped.Add(float64(n))
}

// decoderStats adds the growth of the decoder's counters from prev to s.
func (m *metrics) decoderStats(prev, s pcap.Stats) {
	add := func(stat string, was, now uint64) {
		if now > was {
			m.decoder.WithLabelValues(stat).Add(float64(now - was))
		}
	}
	add("non_ip", prev.NonIP, s.NonIP)
	add("malformed", prev.Malformed, s.Malformed)
	add("unsupported_link", prev.UnsupportedLink, s.UnsupportedLink)
	add("fragments", prev.Fragments, s.Fragments)
	add("oversized", prev.Oversized, s.Oversized)
	add("flows", prev.Flows, s.Flows)
	add("flows_evicted", prev.FlowsEvicted, s.FlowsEvicted)
	add("dns_messages", prev.DNSMessages, s.DNSMessages)
	add("dns_malformed", prev.DNSMalformed, s.DNSMalformed)
	add("stream_bytes", prev.StreamBytes, s.StreamBytes)
	add("stream_gaps", prev.StreamGaps, s.StreamGaps)
	add("stream_limit", prev.StreamLimit, s.StreamLimit)
	add("reassembly_limit", prev.ReassemblyLimit, s.ReassemblyLimit)
	add("app_malformed", prev.AppMalformed, s.AppMalformed)
	add("tls_handshakes", prev.TLSHandshakes, s.TLSHandshakes)
	add("http_messages", prev.HTTPMessages, s.HTTPMessages)
	add("ssh_connections", prev.SSHConnections, s.SSHConnections)
	add("cleartext_logins", prev.Logins, s.Logins)
	if s.Malformed > prev.Malformed {
		m.shared.ParseErrors.Add(float64(s.Malformed - prev.Malformed))
	}
}
