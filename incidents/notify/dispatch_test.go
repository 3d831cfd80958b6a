package notify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/incidents/clock"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// recorder is a Notifier that records notices and fails while err is set.
type recorder struct {
	mu  sync.Mutex
	got []Notice
	err error
}

func (r *recorder) Notify(_ context.Context, n Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) notices() []Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *recorder) kinds() string { return kinds(r.notices()) }

func kinds(ns []Notice) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.IncidentID+"/"+n.DeadlineID+"/"+n.Kind)
	}
	return strings.Join(out, ",")
}

func TestMultiTenantFilter(t *testing.T) {
	center, soA, soB := &recorder{}, &recorder{}, &recorder{}
	failing := &recorder{err: errors.New("down")}
	m := NewMulti(
		Target{Name: "center", Notifier: center},
		Target{Name: "so-a", Tenants: []string{"so-a"}, Notifier: soA},
		Target{Name: "so-b", Tenants: []string{"so-b", "so-c"}, Notifier: soB},
	)
	for _, tenant := range []string{"so-a", "so-c", "so-d"} {
		n := testNotice()
		n.Tenant = tenant
		if err := m.Notify(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	tenants := func(r *recorder) string {
		var out []string
		for _, n := range r.notices() {
			out = append(out, n.Tenant)
		}
		return strings.Join(out, ",")
	}
	if tenants(center) != "so-a,so-c,so-d" || tenants(soA) != "so-a" || tenants(soB) != "so-c" {
		t.Fatalf("center %q, so-a %q, so-b %q", tenants(center), tenants(soA), tenants(soB))
	}
	// Errors are joined and name their target; the others still get it.
	m = NewMulti(Target{Name: "webhooks[0]", Notifier: failing}, Target{Name: "smtp", Notifier: center})
	err := m.Notify(t.Context(), testNotice())
	if err == nil || !strings.Contains(err.Error(), "webhooks[0]: down") || len(center.notices()) != 4 {
		t.Fatalf("err = %v, center got %d", err, len(center.notices()))
	}
}

func TestDispatcherSendsOnceAcrossRestarts(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	inc := &incident.Incident{ID: "INC-1", Tenant: "so-a", Title: "Ransomware on FS-02"}
	deadlines := []clock.Deadline{
		{ID: "vn-serious-initial", Name: "Initial notification", NameVI: "Thông báo ban đầu", Basis: "NĐ 85/2016", Due: t0.Add(3 * time.Hour)},
		{ID: "sla-acknowledge", Name: "Acknowledge", NameVI: "Tiếp nhận", Due: t0.Add(30 * time.Minute)},
		{ID: "vn-report-72h", Name: "Report", NameVI: "Báo cáo", Due: t0.Add(72 * time.Hour)},
		{ID: "sla-contain", Name: "Contain", NameVI: "Ngăn chặn", Due: t0.Add(-time.Hour), Met: true},
		{ID: "no-due-time"},
	}
	ledger := &MemoryLedger{}
	center, soB := &recorder{}, &recorder{}
	m := NewMulti(Target{Name: "center", Notifier: center}, Target{Name: "so-b", Tenants: []string{"so-b"}, Notifier: soB})
	cfg := Config{BaseURL: "https://soc.example.gov.vn/", DueSoon: 2 * time.Hour}

	d := NewDispatcher(m, ledger, cfg, zerolog.Nop())
	// 08:00: acknowledge is due within 2h.
	if n, err := d.Dispatch(t.Context(), inc, deadlines, t0); err != nil || n != 1 {
		t.Fatalf("first round: %d, %v", n, err)
	}
	if got := center.notices(); len(got) != 1 || got[0].URL != "https://soc.example.gov.vn/incidents/INC-1" || got[0].Kind != KindDueSoon {
		t.Fatalf("notices = %+v", got)
	}
	// "Restart": a new dispatcher over the same ledger sends nothing again.
	d = NewDispatcher(m, ledger, cfg, zerolog.Nop())
	if n, err := d.Dispatch(t.Context(), inc, deadlines, t0.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("after restart: %d, %v", n, err)
	}
	// 09:05: acknowledge overdue, initial notification due soon.
	if n, err := d.Dispatch(t.Context(), inc, deadlines, t0.Add(65*time.Minute)); err != nil || n != 2 {
		t.Fatalf("09:05: %d, %v", n, err)
	}
	// 11:00 sharp: initial notification overdue (due time reached).
	d = NewDispatcher(m, ledger, cfg, zerolog.Nop())
	for range 3 {
		if _, err := d.Dispatch(t.Context(), inc, deadlines, t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	want := "INC-1/sla-acknowledge/due_soon,INC-1/sla-acknowledge/overdue,INC-1/vn-serious-initial/due_soon,INC-1/vn-serious-initial/overdue"
	got := center.notices()
	slices.SortFunc(got, func(a, b Notice) int { return strings.Compare(a.DeadlineID+a.Kind, b.DeadlineID+b.Kind) })
	if kinds(got) != want {
		t.Fatalf("sent %s\nwant %s", kinds(got), want)
	}
	if len(soB.notices()) != 0 || ledger.Len() != 4 {
		t.Fatalf("so-b got %d, ledger %d", len(soB.notices()), ledger.Len())
	}
}

func TestDispatcherRetriesOnlyFailedTargets(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	inc := &incident.Incident{ID: "INC-2", Tenant: "so-a"}
	deadlines := []clock.Deadline{{ID: "sla-resolve", Due: t0.Add(-time.Minute)}}
	ok, flaky := &recorder{}, &recorder{err: errors.New("connection refused")}
	m := NewMulti(Target{Name: "webhooks[0]", Notifier: ok}, Target{Name: "smtp", Notifier: flaky})
	d := NewDispatcher(m, &MemoryLedger{}, Config{}, zerolog.Nop())
	n, err := d.Dispatch(t.Context(), inc, deadlines, t0)
	if n != 1 || err == nil || !strings.Contains(err.Error(), "notifying smtp of overdue sla-resolve on INC-2: connection refused") {
		t.Fatalf("first: %d, %v", n, err)
	}
	flaky.mu.Lock()
	flaky.err = nil
	flaky.mu.Unlock()
	if n, err := d.Dispatch(t.Context(), inc, deadlines, t0.Add(time.Minute)); n != 1 || err != nil {
		t.Fatalf("second: %d, %v", n, err)
	}
	if len(ok.notices()) != 1 || len(flaky.notices()) != 1 {
		t.Fatalf("ok got %d, flaky got %d", len(ok.notices()), len(flaky.notices()))
	}
}

// failingLedger fails reads or writes.
type failingLedger struct{ read, write bool }

func (l failingLedger) Sent(context.Context, string) (bool, error) {
	if l.read {
		return false, errors.New("db locked")
	}
	return false, nil
}

func (l failingLedger) MarkSent(context.Context, string, time.Time) error {
	if l.write {
		return errors.New("disk full")
	}
	return nil
}

func TestDispatcherLedgerErrors(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	inc := &incident.Incident{ID: "INC-3", Tenant: "so-a"}
	deadlines := []clock.Deadline{{ID: "a", Due: t0}, {ID: "b", Due: t0}}
	for _, tt := range []struct {
		l        failingLedger
		want     string
		wantSent int
	}{
		{failingLedger{read: true}, "reading notify ledger: db locked", 0},
		{failingLedger{write: true}, "writing notify ledger: disk full", 1},
	} {
		r := &recorder{}
		n, err := NewDispatcher(NewMulti(Target{Name: "x", Notifier: r}), tt.l, Config{}, zerolog.Nop()).Dispatch(t.Context(), inc, deadlines, t0)
		if err == nil || !strings.Contains(err.Error(), tt.want) || n != tt.wantSent || len(r.notices()) != tt.wantSent {
			t.Fatalf("%+v: %d, %v", tt.l, n, err)
		}
	}
}

// source hands out the same pending incident every round.
type source struct {
	mu     sync.Mutex
	rounds []time.Time
	p      []Pending
}

func (s *source) Pending(_ context.Context, now time.Time, within time.Duration) ([]Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds = append(s.rounds, now)
	return s.p, nil
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		src := &source{p: []Pending{{Incident: incident.Incident{ID: "INC-4", Tenant: "so-a"},
			Deadlines: []clock.Deadline{{ID: "sla-acknowledge", Due: start.Add(150 * time.Second)}}}}}
		r := &recorder{}
		d := NewDispatcher(NewMulti(Target{Name: "x", Notifier: r}), &MemoryLedger{}, Config{Interval: time.Minute, DueSoon: time.Minute}, zerolog.Nop())
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx, src, time.Now) }()
		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Rounds at 0, 1m, 2m, 3m: due_soon at 2m (30s left), overdue at 3m.
		if len(src.rounds) != 4 || r.kinds() != "INC-4/sla-acknowledge/due_soon,INC-4/sla-acknowledge/overdue" {
			t.Fatalf("%d rounds, sent %s", len(src.rounds), r.kinds())
		}
	})
}
