package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/detections/exception"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/store"
)

func mkAlert(tenant, rule, host, event string, sev alert.Severity, at time.Time) alert.Alert {
	return alert.Alert{ID: alert.NewID(tenant, rule, event), Tenant: tenant, RuleID: rule, RuleTitle: "Rule " + rule,
		Severity: sev, EventIDs: []string{event}, GroupBy: []alert.KV{{Field: "host.name", Value: host}}, Time: at, Created: at}
}

func verify(t *testing.T, s *Store) int64 {
	t.Helper()
	v := audit.NewVerifier()
	if err := s.AuditLog(t.Context(), v.Check); err != nil {
		t.Fatal(err)
	}
	return v.Count()
}

func TestIngestGroupsAndDedups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mangrove.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	batch := []alert.Alert{
		mkAlert("so-a", "r1", "ws-1", "e1", alert.Medium, t0),
		mkAlert("so-a", "r1", "ws-1", "e2", alert.High, t0.Add(time.Minute)),
		mkAlert("so-a", "r1", "ws-2", "e3", alert.Low, t0),
		mkAlert("so-b", "r1", "ws-1", "e1", alert.Low, t0),
	}
	n, err := s.IngestAlerts(t.Context(), batch)
	if err != nil || n != 4 {
		t.Fatalf("ingest = %d, %v", n, err)
	}
	// Redelivery of the same alerts changes nothing.
	if n, err := s.IngestAlerts(t.Context(), batch); err != nil || n != 0 {
		t.Fatalf("re-ingest = %d, %v", n, err)
	}
	page, err := s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a"})
	incs := page.Items
	if err != nil || len(incs) != 2 {
		t.Fatalf("so-a incidents = %v, %v", incs, err)
	}
	var ws1 incident.Incident
	for _, inc := range incs {
		if inc.GroupKey == "so-a|rule=r1|group_by=host.name=ws-1" {
			ws1 = inc
		}
	}
	if ws1.AlertCount != 2 || ws1.Severity != alert.High || !ws1.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ws-1 incident = %+v", ws1)
	}
	// Tenancy: so-b cannot see so-a's incident.
	if _, err := s.Incident(t.Context(), "so-b", ws1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-tenant read: %v", err)
	}
	alerts, err := s.Alerts(t.Context(), store.AlertFilter{Tenant: "so-a", IncidentID: ws1.ID})
	if err != nil || len(alerts) != 2 || alerts[0].IncidentID != ws1.ID {
		t.Fatalf("alerts = %+v, %v", alerts, err)
	}
	if got := verify(t, s); got != 3 {
		t.Fatalf("audit entries = %d, want 3 incident.open", got)
	}

	// Dismissed as a false positive: the next alert opens a new incident.
	if _, err := s.TransitionIncident(t.Context(), "so-a", ws1.ID, incident.FalsePositive, "analyst", 0, "", "benign admin script", "user:analyst"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TransitionIncident(t.Context(), "so-a", ws1.ID, incident.New, "analyst", 0, "", "", "user:analyst"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("false_positive→new: %v, want ErrConflict", err)
	}
	if _, err := s.TransitionIncident(t.Context(), "so-a", ws1.ID, incident.Investigating, "responder", 0, "", "", "user:r"); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("responder reopening: %v, want ErrForbidden", err)
	}
	if _, err := s.TransitionIncident(t.Context(), "so-b", ws1.ID, incident.Closed, "admin", 0, "", "", "user:other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-tenant transition: %v", err)
	}
	if n, err := s.IngestAlerts(t.Context(), []alert.Alert{mkAlert("so-a", "r1", "ws-1", "e9", alert.Low, t0)}); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	open, _ := s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a", States: []incident.State{incident.New}})
	if len(open.Items) != 2 {
		t.Fatalf("open incidents after resolve = %d, want 2", len(open.Items))
	}
	s.Close()

	// Reopening keeps everything and the audit chain continues.
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, _ := s.Incidents(t.Context(), store.IncidentFilter{})
	if len(all.Items) != 4 {
		t.Fatalf("incidents after reopen = %d, want 4", len(all.Items))
	}
	if _, err := s.TransitionIncident(t.Context(), "", ws1.ID, incident.Investigating, "analyst", 0, "", "reopened", "user:lead"); err != nil {
		t.Fatal(err)
	}
	if got := verify(t, s); got != 6 {
		t.Fatalf("audit entries = %d, want 6", got)
	}
}

func TestAuditTamperDetected(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	for _, e := range []string{"e1", "e2"} {
		if _, err := s.IngestAlerts(t.Context(), []alert.Alert{mkAlert("t", "r-"+e, "h", e, alert.Low, t0)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.w.Exec(`UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	v := audit.NewVerifier()
	if err := s.AuditLog(t.Context(), v.Check); err == nil {
		t.Fatal("tampered audit log verified")
	}
}

func BenchmarkIngestAlerts(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "m.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		batch := make([]alert.Alert, 100)
		for j := range batch {
			i++
			batch[j] = mkAlert("t", "r1", "h"+string(rune('a'+i%20)), time.Duration(i).String(), alert.Medium, t0)
		}
		if _, err := s.IngestAlerts(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "alerts/s")
}

func TestExceptions(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	mk := func(id, tenant string, expires time.Time) exception.Exception {
		return exception.Exception{ID: id, Tenant: tenant, RuleID: "r1", Match: map[string][]string{"host.name": {"ws-1"}},
			Owner: "lan", Reason: "scanner", Expires: expires, Created: now, CreatedBy: "user:lan"}
	}
	for _, e := range []exception.Exception{mk("a", "so-a", now.Add(time.Hour)), mk("b", "so-b", now.Add(time.Hour)),
		mk("all", "", now.Add(time.Hour)), mk("old", "so-a", now.Add(-time.Hour))} {
		if err := s.CreateException(t.Context(), e, "user:lan"); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Exceptions(t.Context(), "so-a", false)
	if err != nil || len(list) != 2 {
		t.Fatalf("so-a active exceptions = %+v, %v", list, err)
	}
	if all, _ := s.Exceptions(t.Context(), "", true); len(all) != 4 {
		t.Fatalf("all = %d", len(all))
	}
	if _, err := s.RevokeException(t.Context(), "so-a", "b", "user:x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-tenant revoke: %v", err)
	}
	e, err := s.RevokeException(t.Context(), "so-a", "a", "user:lan")
	if err != nil || e.Revoked.IsZero() {
		t.Fatalf("revoke: %+v %v", e, err)
	}
	if list, _ := s.Exceptions(t.Context(), "so-a", false); len(list) != 1 || list[0].ID != "all" {
		t.Fatalf("after revoke: %+v", list)
	}
	if got := verify(t, s); got != 5 {
		t.Fatalf("audit entries = %d, want 5", got)
	}
}

// TestAlertsCursorPaging checks that paging by cursor returns every alert
// exactly once while newer alerts keep arriving (paging by offset would
// repeat some and skip others), including alerts that share a time.
func TestAlertsCursorPaging(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "mangrove.db"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var first []alert.Alert
	for i := range 250 {
		first = append(first, mkAlert("so-a", "r1", "ws-1", fmt.Sprint("e", i), alert.Low, t0.Add(time.Duration(i/3)*time.Second)))
	}
	if _, err := s.IngestAlerts(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	f := store.AlertFilter{Tenant: "so-a", Limit: 40}
	for page := 0; ; page++ {
		alerts, err := s.Alerts(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			seen[a.ID]++
		}
		if len(alerts) < f.PageSize() {
			break
		}
		last := alerts[len(alerts)-1]
		f.After = &store.AlertCursor{Time: last.Time, ID: last.ID}
		// Newer alerts arrive between pages.
		late := mkAlert("so-a", "r1", "ws-1", fmt.Sprint("late", page), alert.Low, t0.Add(time.Hour+time.Duration(page)*time.Second))
		if _, err := s.IngestAlerts(t.Context(), []alert.Alert{late}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range first {
		if seen[a.ID] != 1 {
			t.Errorf("alert %s listed %d times", a.ID, seen[a.ID])
		}
	}
	if len(seen) != len(first) {
		t.Errorf("%d alerts listed, want the %d that existed when paging began", len(seen), len(first))
	}
}
