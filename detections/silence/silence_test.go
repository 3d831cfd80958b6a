package silence

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

func ev(tenant, source, host string) *event.Event {
	e := &event.Event{Tenant: tenant, Source: source, Dataset: "syslog"}
	if host != "" {
		e.Set("host.name", event.StringValue(host))
	}
	return e
}

func tick(t *testing.T, r *Rule) []detections.Finding {
	t.Helper()
	var out []detections.Finding
	if err := r.Tick(t.Context(), time.Now(), func(f detections.Finding) { out = append(out, f) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func eval(t *testing.T, r *Rule, e *event.Event) {
	t.Helper()
	if err := r.Eval(t.Context(), e, func(detections.Finding) { t.Fatal("Eval emitted") }); err != nil {
		t.Fatal(err)
	}
}

func TestSilentSourceAlertsOncePerSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		eval(t, r, ev("agency-a", "syslog-udp", "fw01"))
		start := time.Now()
		time.Sleep(59 * time.Minute)
		if f := tick(t, r); len(f) != 0 {
			t.Fatalf("alert before the interval: %v", f)
		}
		time.Sleep(2 * time.Minute)
		f := tick(t, r)
		if len(f) != 1 {
			t.Fatalf("%d findings, want 1", len(f))
		}
		e := f[0].Events[0]
		if e.Tenant != "agency-a" || e.Dataset != Dataset || e.GetString("host.name") != "fw01" ||
			e.GetString("mangrove.silence.collector") != "syslog-udp" || e.ID == "" ||
			e.GetString("mangrove.silence.last_seen") != start.UTC().Format(time.RFC3339Nano) ||
			!strings.Contains(e.Message(), "1h1m0s") {
			t.Errorf("event %+v", e)
		}
		firstID := e.ID
		time.Sleep(time.Hour)
		if f := tick(t, r); len(f) != 0 {
			t.Fatalf("alerted twice for one silence: %d", len(f))
		}
		// The source comes back, then goes silent again: a new alert.
		eval(t, r, ev("agency-a", "syslog-udp", "fw01"))
		time.Sleep(30 * time.Minute)
		if f := tick(t, r); len(f) != 0 {
			t.Fatal("alert while the source is heard from")
		}
		time.Sleep(31 * time.Minute)
		f = tick(t, r)
		if len(f) != 1 || f[0].Events[0].ID == firstID {
			t.Fatalf("second silence: %d findings", len(f))
		}
		// The rule's own events never count as the source speaking.
		eval(t, r, f[0].Events[0])
		if r.Sources() != 1 {
			t.Errorf("%d sources", r.Sources())
		}
	})
}

func TestFiltersAndOverrides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := New(Config{
			Interval:   2 * time.Hour,
			Collectors: []string{"syslog-*", "beats"},
			Hosts:      []string{"dc*", "fw01"},
			Overrides:  []Override{{Collector: "beats", Host: "dc*", Interval: 10 * time.Minute}},
		})
		if err != nil {
			t.Fatal(err)
		}
		eval(t, r, ev("a", "beats", "dc01"))      // watched, 10 min
		eval(t, r, ev("a", "syslog-tcp", "fw01")) // watched, 2 h
		eval(t, r, ev("a", "file", "fw01"))       // collector not watched
		eval(t, r, ev("a", "beats", "ws17"))      // host not watched
		eval(t, r, ev("a", "beats", ""))          // no host: not in the list
		if r.Sources() != 2 {
			t.Fatalf("%d sources, want 2", r.Sources())
		}
		time.Sleep(11 * time.Minute)
		f := tick(t, r)
		if len(f) != 1 || f[0].Events[0].GetString("host.name") != "dc01" {
			t.Fatalf("findings %v", f)
		}
		time.Sleep(2 * time.Hour)
		if f := tick(t, r); len(f) != 1 || f[0].Events[0].GetString("host.name") != "fw01" {
			t.Fatalf("findings %v", f)
		}
	})
}

func TestHostFallbackAndTenants(t *testing.T) {
	r, _ := New(Config{})
	e := &event.Event{Tenant: "a", Source: "syslog"}
	e.Set("log.syslog.hostname", event.StringValue("router1"))
	eval(t, r, e)
	eval(t, r, ev("b", "syslog", "router1"))
	eval(t, r, ev("a", "syslog", "router1"))
	if r.Sources() != 2 {
		t.Errorf("%d sources, want 2 (tenant-scoped)", r.Sources())
	}
}

func TestStateBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := New(Config{MaxSources: 2})
		eval(t, r, ev("a", "s", "h1"))
		time.Sleep(time.Second)
		eval(t, r, ev("a", "s", "h2"))
		time.Sleep(time.Second)
		eval(t, r, ev("a", "s", "h3"))
		if r.Sources() != 2 {
			t.Fatalf("%d sources", r.Sources())
		}
		time.Sleep(2 * time.Hour)
		hosts := map[string]bool{}
		for _, f := range tick(t, r) {
			hosts[f.Events[0].GetString("host.name")] = true
		}
		if hosts["h1"] || !hosts["h2"] || !hosts["h3"] {
			t.Errorf("kept %v, want h2 and h3 (h1 silent longest)", hosts)
		}
	})
}

func TestConcurrentEval(t *testing.T) {
	r, _ := New(Config{MaxSources: 50})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				eval(t, r, ev("a", "s", string(rune('a'+g))+string(rune('a'+i%26))))
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			tick(t, r)
		}
	})
	wg.Wait()
	if n := r.Sources(); n > 50 {
		t.Errorf("%d sources over the bound", n)
	}
}

func TestValidate(t *testing.T) {
	err := Config{Interval: -1, MaxSources: -1, Hosts: []string{"["}, Severity: "loud",
		Overrides: []Override{{Collector: "[", Interval: 0}}}.Validate()
	for _, want := range []string{"interval:", "max_sources:", "hosts[0]", "overrides[0].collector", "overrides[0].interval", "severity:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if _, err := New(Config{Severity: "high"}); err != nil {
		t.Error(err)
	}
}

func BenchmarkEval(b *testing.B) {
	r, _ := New(Config{})
	evs := make([]*event.Event, 64)
	for i := range evs {
		evs[i] = ev("a", "syslog", "host"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Eval(b.Context(), evs[i%len(evs)], nil)
		i++
	}
}
