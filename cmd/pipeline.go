package cmd

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/detections/engine"
	"github.com/mangrove-soc/mangrove/internal/bus"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// pipeline is what the bus consumers do with a delivered batch. A handler
// returns nil (and the bus acknowledges the batch) only after its results are
// stored.
type pipeline struct {
	eng    *engine.Engine
	cases  store.Store
	events eventIndexer
	log    zerolog.Logger

	newAlerts   prometheus.Counter
	unindexable prometheus.Counter
}

func newPipeline(eng *engine.Engine, cases store.Store, events eventIndexer, log zerolog.Logger) *pipeline {
	return &pipeline{eng: eng, cases: cases, events: events, log: log.With().Str("component", "pipeline").Logger(),
		newAlerts: prometheus.NewCounter(prometheus.CounterOpts{Name: "mangrove_alerts_total",
			Help: "New alerts stored (duplicates from redelivery are not counted)."}),
		unindexable: prometheus.NewCounter(prometheus.CounterOpts{Name: "mangrove_events_unindexable_total",
			Help: "Events the event store refused (they were still evaluated by detection)."})}
}

// detect runs the rules over a batch and stores the alerts and incidents.
func (p *pipeline) detect(ctx context.Context, events []event.Event) error {
	alerts, err := p.eng.Process(ctx, events)
	if err != nil {
		return err
	}
	return p.storeAlerts(ctx, alerts)
}

func (p *pipeline) storeAlerts(ctx context.Context, alerts []alert.Alert) error {
	n, err := p.cases.IngestAlerts(ctx, alerts)
	p.newAlerts.Add(float64(n))
	return err
}

// tickAlerts stores alerts emitted by stateful rules on the clock.
func (p *pipeline) tickAlerts(ctx context.Context, alerts []alert.Alert) {
	if err := p.storeAlerts(ctx, alerts); err != nil {
		p.log.Error().Err(err).Int("alerts", len(alerts)).Msg("storing alerts of stateful rules")
	}
}

// store keeps the batch in the event store for search. A batch the store
// refuses as bad is retried event by event so that one bad event does not
// block the rest (it would be redelivered forever); the refused ones are
// counted and logged.
func (p *pipeline) store(ctx context.Context, events []event.Event) error {
	err := p.events.Index(ctx, events)
	if !errors.Is(err, search.ErrBadEvent) {
		return err
	}
	for i := range events {
		if err := p.events.Index(ctx, events[i:i+1]); err != nil {
			if !errors.Is(err, search.ErrBadEvent) {
				return err
			}
			p.unindexable.Inc()
			p.log.Warn().Err(err).Str("event_id", events[i].ID).Msg("event not indexed for search")
		}
	}
	return nil
}

// register adds the pipeline's metrics and gauges over the engine and bus.
func (p *pipeline) register(reg prometheus.Registerer, b bus.Bus) error {
	lag := func(name string) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2e9)
			defer cancel()
			n, err := b.Pending(ctx, name)
			if err != nil {
				return -1
			}
			return float64(n)
		}
	}
	cs := []prometheus.Collector{
		p.newAlerts, p.unindexable,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mangrove_bus_lag", Help: "Batches not yet acknowledged by a consumer (-1: unknown).",
			ConstLabels: prometheus.Labels{"consumer": consumerDetect}}, lag(consumerDetect)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mangrove_bus_lag", Help: "Batches not yet acknowledged by a consumer (-1: unknown).",
			ConstLabels: prometheus.Labels{"consumer": consumerStore}}, lag(consumerStore)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mangrove_engine_events_total", Help: "Events evaluated by the detection engine (redeliveries included)."},
			func() float64 { return float64(p.eng.Stats().Events) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mangrove_engine_rule_errors_total", Help: "Rule evaluations that failed."},
			func() float64 { return float64(p.eng.Stats().RuleErrors) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mangrove_rules_loaded", Help: "Detection rules loaded."},
			func() float64 { return float64(len(p.eng.Rules())) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
