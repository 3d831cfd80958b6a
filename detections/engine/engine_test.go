package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/detections/exception"
)

// containsRule matches events whose message contains a word.
type containsRule struct {
	id, word string
	fail     bool
}

func (r containsRule) Meta() detections.Meta {
	return detections.Meta{ID: r.id, Title: "contains " + r.word, Severity: alert.High, Techniques: []string{"T1110"}}
}

func (r containsRule) Eval(_ context.Context, ev *event.Event, emit func(detections.Finding)) error {
	if r.fail {
		return errors.New("broken rule")
	}
	if strings.Contains(ev.Message(), r.word) {
		emit(detections.Finding{Events: []*event.Event{ev}, GroupBy: []alert.KV{{Field: "host.name", Value: ev.GetString("host.name")}}})
	}
	return nil
}

func events(n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		msg := "ok"
		if i%10 == 0 {
			msg = "Failed password for root"
		}
		out[i] = event.Event{ID: event.NewID("t", []byte{byte(i), byte(i >> 8)}), Tenant: "so-a", Time: time.Unix(int64(i), 0),
			Fields: []event.Field{{Name: "host.name", Value: event.StringValue("h1")}, {Name: "message", Value: event.StringValue(msg)}}}
	}
	return out
}

func start(t *testing.T, e *Engine) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.Run(ctx, time.Hour, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestProcess(t *testing.T) {
	e := New(Config{Workers: 2, Chunk: 7}, []detections.Rule{containsRule{id: "r1", word: "Failed"}, containsRule{id: "bad", fail: true}})
	start(t, e)
	evs := events(100)
	got, err := e.Process(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("alerts = %d, want 10", len(got))
	}
	for i, a := range got {
		if a.EventIDs[0] != evs[i*10].ID {
			t.Fatalf("alert %d is for event %s, want %s (order)", i, a.EventIDs[0], evs[i*10].ID)
		}
		if a.Tenant != "so-a" || a.Severity != alert.High || a.RuleID != "r1" || len(a.Event) == 0 || a.GroupKey() != "host.name=h1" {
			t.Fatalf("alert = %+v", a)
		}
	}
	again, _ := e.Process(t.Context(), evs)
	for i := range got {
		if again[i].ID != got[i].ID {
			t.Fatal("alert ids differ on re-processing")
		}
	}
	if st := e.Stats(); st.Events != 200 || st.RuleErrors != 200 || st.Alerts != 20 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSetRules(t *testing.T) {
	e := New(Config{Workers: 1}, nil)
	start(t, e)
	if got, _ := e.Process(t.Context(), events(10)); len(got) != 0 {
		t.Fatal("alerts without rules")
	}
	e.SetRules([]detections.Rule{containsRule{id: "r1", word: "Failed"}})
	if got, _ := e.Process(t.Context(), events(10)); len(got) != 1 {
		t.Fatalf("alerts after SetRules = %d", len(got))
	}
}

func TestProcessCanceled(t *testing.T) {
	e := New(Config{Workers: 1, Queue: 1}, []detections.Rule{containsRule{id: "r1", word: "x"}})
	// No Run: the queue fills and Process must give up when ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.Process(ctx, events(10000)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkProcess(b *testing.B) {
	e := New(Config{}, []detections.Rule{containsRule{id: "r1", word: "Failed"}})
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	go e.Run(ctx, time.Hour, nil)
	evs := events(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Process(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}

func TestExceptionsSuppress(t *testing.T) {
	e := New(Config{Workers: 1}, []detections.Rule{containsRule{id: "r1", word: "Failed"}})
	start(t, e)
	e.SetExceptions(exception.NewSet([]exception.Exception{{ID: "x", RuleID: "r1",
		Match: map[string][]string{"host.name": {"h1"}}, Expires: time.Now().Add(time.Hour)}}))
	if got, _ := e.Process(t.Context(), events(100)); len(got) != 0 {
		t.Fatalf("alerts despite the exception: %d", len(got))
	}
	if st := e.Stats(); st.Suppressed != 10 {
		t.Fatalf("suppressed = %d", st.Suppressed)
	}
	e.SetExceptions(nil)
	if got, _ := e.Process(t.Context(), events(100)); len(got) != 10 {
		t.Fatalf("alerts after removing the exception: %d", len(got))
	}
}

// pairRules is a MultiRule of two containsRules.
type pairRules struct{ rules []containsRule }

func (p pairRules) Metas() []detections.Meta {
	return []detections.Meta{p.rules[0].Meta(), p.rules[1].Meta()}
}

func (p pairRules) EvalAll(ctx context.Context, ev *event.Event, emit func(int, detections.Finding)) error {
	for i, r := range p.rules {
		r.Eval(ctx, ev, func(f detections.Finding) { emit(i, f) })
	}
	return nil
}

func TestGroupIntoMultiRules(t *testing.T) {
	a, b, c := containsRule{id: "a", word: "Failed"}, containsRule{id: "b", word: "root"}, containsRule{id: "c", word: "ok"}
	group := func(rs []detections.Rule) ([]detections.Rule, []detections.MultiRule, error) {
		return rs[2:], []detections.MultiRule{pairRules{[]containsRule{rs[0].(containsRule), rs[1].(containsRule)}}}, nil
	}
	e := New(Config{Workers: 2, Group: group}, []detections.Rule{a, b, c})
	start(t, e)
	got, err := e.Process(t.Context(), events(100))
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, al := range got {
		n[al.RuleID]++
	}
	if n["a"] != 10 || n["b"] != 10 || n["c"] != 90 || len(e.Rules()) != 3 {
		t.Fatalf("alerts per rule = %v, rules %d", n, len(e.Rules()))
	}
}
