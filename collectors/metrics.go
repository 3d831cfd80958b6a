package collectors

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The series every collector exposes, whatever its type, labelled
// type=<collector type> and collector=<collector name>. `mangrove collectors
// status` reads exactly these names from /metrics.
const (
	// MetricIn counts messages (lines, datagrams, documents) received.
	MetricIn = "mangrove_collector_messages_total"
	// MetricParseErrors counts messages that did not parse.
	MetricParseErrors = "mangrove_collector_parse_errors_total"
	// MetricDropped counts messages lost: received but neither published nor
	// handed back to a sender that retries (UDP overflow, oversize, refused).
	MetricDropped = "mangrove_collector_dropped_total"
	// MetricBytes counts bytes received, framing included.
	MetricBytes = "mangrove_collector_bytes_total"
	// MetricLastSeen is when the last message arrived, in Unix seconds.
	MetricLastSeen = "mangrove_collector_last_seen_timestamp_seconds"
	// MetricLag is how far the collector is behind its source, in seconds:
	// for network inputs the time from receipt to the bus acknowledging the
	// last batch, for file inputs the age of the oldest unread data.
	MetricLag = "mangrove_collector_lag_seconds"
)

// Metric labels.
const (
	LabelType      = "type"
	LabelCollector = "collector"
)

// Metrics are one collector's shared series. The vectors behind them are
// registered once per registry and shared by every collector in it, so
// several collectors (of one or several types) may call NewMetrics on the
// same Registerer. All fields are safe for concurrent use.
type Metrics struct {
	In          prometheus.Counter
	ParseErrors prometheus.Counter
	Dropped     prometheus.Counter
	Bytes       prometheus.Counter
	LastSeen    prometheus.Gauge
	Lag         prometheus.Gauge
}

// NewMetrics returns the series of the collector called name of type typ,
// registered on reg (nil reg: unregistered series, for tests). It fails only
// when reg already holds an incompatible collector under one of the names.
func NewMetrics(reg prometheus.Registerer, typ, name string) (*Metrics, error) {
	labels := []string{LabelType, LabelCollector}
	var errs []error
	counter := func(metric, help string) prometheus.Counter {
		v, err := RegisterShared(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: metric, Help: help}, labels))
		if err != nil {
			errs = append(errs, err)
		}
		return v.WithLabelValues(typ, name)
	}
	gauge := func(metric, help string) prometheus.Gauge {
		v, err := RegisterShared(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metric, Help: help}, labels))
		if err != nil {
			errs = append(errs, err)
		}
		return v.WithLabelValues(typ, name)
	}
	m := &Metrics{
		In:          counter(MetricIn, "Messages received by the collector."),
		ParseErrors: counter(MetricParseErrors, "Messages that did not parse."),
		Dropped:     counter(MetricDropped, "Messages lost: neither published nor handed back to a sender that retries."),
		Bytes:       counter(MetricBytes, "Bytes received, framing included."),
		LastSeen:    gauge(MetricLastSeen, "When the last message arrived (Unix seconds)."),
		Lag:         gauge(MetricLag, "How far the collector is behind its source, in seconds."),
	}
	return m, errors.Join(errs...)
}

// Seen records that a message arrived at t.
func (m *Metrics) Seen(t time.Time) {
	m.LastSeen.Set(float64(t.UnixNano()) / 1e9)
}

// RegisterShared registers c on reg, or returns the collector already
// registered under the same name, so that several inputs of one type share
// their metric vectors. A nil reg registers nothing and returns c.
func RegisterShared[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
