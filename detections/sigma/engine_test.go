package sigma_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/engine"
	"github.com/mangrove-soc/mangrove/detections/sigma"
)

// TestCorrelationInEngine runs a correlation and the rule it refers to
// (from another file) through the engine: the rule alone does not alert,
// the correlation alerts once with the window's events and its group.
func TestCorrelationInEngine(t *testing.T) {
	rules, err := sigma.LoadSet([]detections.File{
		{Path: "a.yml", Data: []byte("title: Failed logon\nid: 11111111-0000-4000-8000-000000000001\nname: failed\nlogsource: {product: windows, service: security}\ndetection: {sel: {EventID: 4625}, condition: sel}\n")},
		{Path: "c.yml", Data: []byte("title: Brute force\nid: 11111111-0000-4000-8000-000000000002\nlevel: high\ncorrelation: {type: event_count, rules: [failed], group-by: [TargetUserName], timespan: 5m, condition: {gte: 3}}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 {
		t.Fatalf("%d rules, want the correlation alone", len(rules))
	}
	eng := engine.New(engine.Config{Workers: 1, Chunk: 1}, rules)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx, time.Hour, nil)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var events []event.Event
	for i := range 4 {
		ev := event.Event{ID: fmt.Sprintf("ev%d", i), Tenant: "t1", Time: t0.Add(time.Duration(i) * time.Minute)}
		ev.Set("Channel", event.StringValue("Security"))
		ev.Set("EventID", event.NumberValue(4625))
		ev.Set("TargetUserName", event.StringValue("admin"))
		events = append(events, ev)
	}
	alerts, err := eng.Process(ctx, events)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	if a.RuleID != "11111111-0000-4000-8000-000000000002" || a.Tenant != "t1" || !slices.Equal(a.EventIDs, []string{"ev2", "ev1", "ev0"}) ||
		len(a.GroupBy) != 1 || a.GroupBy[0].Value != "admin" || !a.Time.Equal(t0.Add(2*time.Minute)) || len(a.Event) == 0 {
		t.Errorf("alert %+v", a)
	}
}
