package collectors

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNewMetricsSharesVectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := NewMetrics(reg, "syslog", "udp")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMetrics(reg, "esbulk", "beats")
	if err != nil {
		t.Fatal(err)
	}
	a.In.Add(3)
	b.In.Inc()
	b.Dropped.Add(2)
	b.Seen(time.Unix(1700000000, 500_000_000))
	want := `
# HELP mangrove_collector_messages_total Messages received by the collector.
# TYPE mangrove_collector_messages_total counter
mangrove_collector_messages_total{collector="beats",type="esbulk"} 1
mangrove_collector_messages_total{collector="udp",type="syslog"} 3
# HELP mangrove_collector_dropped_total Messages lost: neither published nor handed back to a sender that retries.
# TYPE mangrove_collector_dropped_total counter
mangrove_collector_dropped_total{collector="beats",type="esbulk"} 2
mangrove_collector_dropped_total{collector="udp",type="syslog"} 0
# HELP mangrove_collector_last_seen_timestamp_seconds When the last message arrived (Unix seconds).
# TYPE mangrove_collector_last_seen_timestamp_seconds gauge
mangrove_collector_last_seen_timestamp_seconds{collector="beats",type="esbulk"} 1.7000000005e+09
mangrove_collector_last_seen_timestamp_seconds{collector="udp",type="syslog"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), MetricIn, MetricDropped, MetricLastSeen); err != nil {
		t.Error(err)
	}
	// The same collector again gets the same series.
	again, err := NewMetrics(reg, "syslog", "udp")
	if err != nil {
		t.Fatal(err)
	}
	again.In.Inc()
	if got := testutil.ToFloat64(a.In); got != 4 {
		t.Errorf("shared series = %v, want 4", got)
	}
}

func TestNewMetricsConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricIn, Help: "not ours"}))
	if _, err := NewMetrics(reg, "file", "logs"); err == nil {
		t.Error("conflicting registration accepted")
	}
	m, err := NewMetrics(nil, "file", "logs")
	if err != nil {
		t.Fatal(err)
	}
	m.In.Inc()
	m.Lag.Set(1)
}
