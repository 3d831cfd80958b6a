package api

import (
	"context"
	"net"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's own counters; the pipeline registers its gauges
// (bus lag, engine counters) on the same registry.
type metrics struct {
	eventsIn       *prometheus.CounterVec // by source
	eventsAcked    *prometheus.CounterVec
	eventsRejected *prometheus.CounterVec // by reason
	requests       *prometheus.CounterVec // by route and code class
}

func newMetrics() metrics {
	return metrics{
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mangrove_events_in_total",
			Help: "Events received and decoded, before they are handed to the bus."}, []string{"source"}),
		eventsAcked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mangrove_events_acked_total",
			Help: "Events durably on the bus and acknowledged to their sender."}, []string{"source"}),
		eventsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mangrove_events_rejected_total",
			Help: "Input lines rejected (malformed, too large, not UTF-8...) or events not acknowledged (bus error)."}, []string{"source", "reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mangrove_http_requests_total",
			Help: "API requests by route and status code class."}, []string{"route", "code"}),
	}
}

func (m metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.eventsIn, m.eventsAcked, m.eventsRejected, m.requests} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}
