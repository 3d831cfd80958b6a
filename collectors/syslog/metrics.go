package syslog

import (
	"errors"
	"github.com/mangrove-soc/mangrove/collectors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one collector's series; the vectors are shared by every
// syslog collector of a registry and labelled collector=<name>.
type metrics struct {
	messages    prometheus.Counter
	parseErrors prometheus.Counter
	bytes       prometheus.Counter
	connections prometheus.Gauge
	connTotal   prometheus.Counter
	lastSeen    prometheus.Gauge
	published   prometheus.Counter
	failed      prometheus.Counter
	drops       *prometheus.CounterVec // curried: source, reason
	// shared are the series every collector type exposes (read by
	// `mangrove collectors status`).
	shared *collectors.Metrics
}

// Drop reasons.
const (
	reasonQueueFull = "queue_full"
	reasonOversize  = "oversize"
	reasonRefused   = "refused"
	reasonConnLimit = "connection_limit"
	reasonFraming   = "framing"
	reasonShutdown  = "shutdown"
	// reasonKernel: UDP datagrams the kernel dropped before they were
	// read (socket receive buffer full).
	reasonKernel = "kernel"
)

func newMetrics(reg prometheus.Registerer, collector string) (*metrics, error) {
	counter := func(name, help string, labels ...string) (*prometheus.CounterVec, error) {
		return collectors.RegisterShared(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mangrove", Subsystem: "syslog", Name: name, Help: help,
		}, append([]string{"collector"}, labels...)))
	}
	gauge := func(name, help string) (*prometheus.GaugeVec, error) {
		return collectors.RegisterShared(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "mangrove", Subsystem: "syslog", Name: name, Help: help,
		}, []string{"collector"}))
	}
	var errs []error
	c := func(v *prometheus.CounterVec, err error) prometheus.Counter {
		if err != nil {
			errs = append(errs, err)
			return prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered"})
		}
		return v.WithLabelValues(collector)
	}
	g := func(v *prometheus.GaugeVec, err error) prometheus.Gauge {
		if err != nil {
			errs = append(errs, err)
			return prometheus.NewGauge(prometheus.GaugeOpts{Name: "unregistered"})
		}
		return v.WithLabelValues(collector)
	}
	m := &metrics{
		messages:    c(counter("messages_total", "Syslog messages received.")),
		parseErrors: c(counter("parse_errors_total", "Messages that did not parse as RFC 3164 or RFC 5424 (published with error.message).")),
		bytes:       c(counter("bytes_total", "Bytes received, framing included.")),
		connTotal:   c(counter("connections_total", "TCP/TLS connections accepted.")),
		published:   c(counter("published_events_total", "Events acknowledged by the bus.")),
		failed:      c(counter("failed_events_total", "Events the bus did not store (TCP connections closed so senders resend).")),
		connections: g(gauge("connections", "Open TCP/TLS connections.")),
		lastSeen:    g(gauge("last_seen_timestamp_seconds", "When the last message was received (Unix time).")),
	}
	shared, err := collectors.NewMetrics(reg, "syslog", collector)
	if err != nil {
		errs = append(errs, err)
	}
	m.shared = shared
	drops, err := counter("dropped_total", "Messages or connections dropped, by source and reason.", "source", "reason")
	if err != nil {
		errs = append(errs, err)
	} else {
		m.drops = drops.MustCurryWith(prometheus.Labels{"collector": collector})
	}
	return m, errors.Join(errs...)
}

func (m *metrics) drop(source, reason string, n int) {
	m.drops.WithLabelValues(source, reason).Add(float64(n))
	m.shared.Dropped.Add(float64(n))
}
