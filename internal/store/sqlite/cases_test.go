package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/grouping"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/store"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// scanAlert is one alert of a port scan from src.
func scanAlert(tenant, src string, i int, at time.Time) alert.Alert {
	ev := fmt.Sprintf("scan-%s-%d", src, i)
	return alert.Alert{ID: alert.NewID(tenant, "net-port-scan", ev), Tenant: tenant, RuleID: "net-port-scan", RuleTitle: "Port scan",
		Severity: alert.Medium, Techniques: []string{"T1046"}, EventIDs: []string{ev}, Time: at, Created: at,
		Event: []byte(fmt.Sprintf(`{"source":{"ip":%q},"destination":{"ip":"10.1.%d.%d","port":%d}}`, src, i/250%250, i%250, 1+i%65000))}
}

type fixedAssets []incident.System

func (f fixedAssets) Systems(*alert.Alert) []incident.System { return f }

func TestFloodBecomesOneIncident(t *testing.T) {
	s := openTest(t)
	s.Configure(grouping.New(grouping.Config{Keys: []grouping.Part{grouping.Rule, grouping.SourceIP}}),
		fixedAssets{{ID: "portal", Name: "Cổng thông tin", Level: 3}})
	t0 := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	const n = 20000
	for b := 0; b < n; b += 1000 {
		batch := make([]alert.Alert, 1000)
		for i := range batch {
			batch[i] = scanAlert("so-a", "203.0.113.9", b+i, t0.Add(time.Duration(b+i)*time.Millisecond))
		}
		if got, err := s.IngestAlerts(t.Context(), batch); err != nil || got != 1000 {
			t.Fatalf("ingest = %d, %v", got, err)
		}
	}
	page, err := s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("incidents = %d, %v", len(page.Items), err)
	}
	inc := page.Items[0]
	if inc.AlertCount != n || inc.Category != incident.Scanning || inc.Priority != 3*3 || len(inc.Systems) != 1 {
		t.Fatalf("incident = %+v", inc)
	}
	// A second scanner is another incident; the first scanner after the
	// window is a third.
	late := t0.Add(25 * time.Hour)
	if _, err := s.IngestAlerts(t.Context(), []alert.Alert{scanAlert("so-a", "198.51.100.7", 0, t0), scanAlert("so-a", "203.0.113.9", n+1, late)}); err != nil {
		t.Fatal(err)
	}
	page, _ = s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a", Sort: "+created"})
	if len(page.Items) != 3 {
		t.Fatalf("incidents after a second scanner and a late alert = %d, want 3", len(page.Items))
	}
	// 20 batches: 1 open + 19 joins audited, then 2 opens.
	if got := verify(t, s); got != 22 {
		t.Fatalf("audit entries = %d, want 22", got)
	}
}

func TestLifecycleMergeSplitItems(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	batch := []alert.Alert{
		mkAlert("so-a", "r1", "ws-1", "e1", alert.Medium, t0),
		mkAlert("so-a", "r1", "ws-1", "e2", alert.Medium, t0.Add(time.Second)),
		mkAlert("so-a", "r1", "ws-1", "e3", alert.High, t0.Add(2*time.Second)),
		mkAlert("so-a", "r2", "ws-1", "e1", alert.Low, t0),
	}
	if _, err := s.IngestAlerts(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	page, _ := s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a", Sort: "-severity"})
	if len(page.Items) != 2 {
		t.Fatalf("incidents = %d", len(page.Items))
	}
	var r1, r2 incident.Incident
	for _, inc := range page.Items {
		if inc.RuleID == "r1" {
			r1 = inc
		} else {
			r2 = inc
		}
	}

	// Lost update: a stale version is refused.
	title := "Encoded PowerShell on ws-1"
	if _, err := s.UpdateIncident(t.Context(), "so-a", r1.ID, store.IncidentPatch{Version: r1.Version - 1, Title: &title}, "user:a"); !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale update: %v", err)
	}
	cat, serious := incident.Malware, true
	r1, err := s.UpdateIncident(t.Context(), "so-a", r1.ID, store.IncidentPatch{Version: r1.Version, Title: &title, Category: &cat, Serious: &serious}, "user:a")
	if err != nil || r1.Title != title || !r1.Serious || r1.Category != incident.Malware {
		t.Fatalf("update = %+v, %v", r1, err)
	}

	// Split one alert off, then merge it back.
	part, err := s.SplitIncident(t.Context(), "so-a", r1.ID, []string{batch[2].ID}, "", "user:a")
	if err != nil || part.AlertCount != 1 || part.Severity != alert.High {
		t.Fatalf("split = %+v, %v", part, err)
	}
	if _, err := s.SplitIncident(t.Context(), "so-a", r1.ID, []string{batch[0].ID, batch[1].ID}, "", "user:a"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("splitting off every alert: %v", err)
	}
	if _, err := s.SplitIncident(t.Context(), "so-a", r1.ID, []string{batch[3].ID}, "", "user:a"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("splitting another incident's alert: %v", err)
	}
	merged, err := s.MergeIncidents(t.Context(), "so-a", r1.ID, []string{part.ID, r2.ID}, "user:a")
	if err != nil || merged.AlertCount != 4 || merged.Severity != alert.High {
		t.Fatalf("merge = %+v, %v", merged, err)
	}
	gone, _ := s.Incident(t.Context(), "so-a", r2.ID)
	if gone.State != incident.Duplicate || gone.DuplicateOf != r1.ID {
		t.Fatalf("merged source = %+v", gone)
	}
	alerts, _ := s.Alerts(t.Context(), store.AlertFilter{Tenant: "so-a", IncidentID: r1.ID})
	if len(alerts) != 4 {
		t.Fatalf("alerts of the merged incident = %d", len(alerts))
	}
	if _, err := s.MergeIncidents(t.Context(), "so-b", r1.ID, []string{part.ID}, "user:b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-tenant merge: %v", err)
	}

	// Items.
	due := t0.Add(time.Hour)
	task, err := s.AddTask(t.Context(), "so-a", incident.Task{IncidentID: r1.ID, Title: "Isolate ws-1", Owner: "responder1", Due: &due}, "user:a")
	if err != nil {
		t.Fatal(err)
	}
	task.Done = true
	if task, err = s.UpdateTask(t.Context(), "so-a", task, "user:r"); err != nil || !task.Done || task.Owner != "responder1" {
		t.Fatalf("task update = %+v, %v", task, err)
	}
	if _, err := s.AddComment(t.Context(), "so-a", incident.Comment{IncidentID: r1.ID, Author: "user:a", Body: "Seen before"}, "user:a"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the same observable twice is stored once
		if _, err := s.AddObservable(t.Context(), "so-a", incident.Observable{IncidentID: r1.ID, Kind: incident.ObsIP, Value: "203.0.113.9"}, "user:a"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddObservable(t.Context(), "so-a", incident.Observable{IncidentID: r1.ID, Kind: "bogus", Value: "x"}, "user:a"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad observable kind: %v", err)
	}
	if _, err := s.AddComment(t.Context(), "so-b", incident.Comment{IncidentID: r1.ID, Body: "x"}, "user:b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-tenant comment: %v", err)
	}
	obs, _ := s.Observables(t.Context(), "so-a", r1.ID)
	if len(obs) != 1 {
		t.Fatalf("observables = %+v", obs)
	}
	if _, err := s.AddFiling(t.Context(), "so-a", store.Filing{IncidentID: r1.ID, Obligation: "d331-serious-initial-24h", Reference: "123/CV", Actor: "user:a"}); err != nil {
		t.Fatal(err)
	}
	if fs, _ := s.Filings(t.Context(), "so-a", r1.ID, r2.ID); len(fs) != 1 {
		t.Fatalf("filings = %+v", fs)
	}
	if _, err := s.Tasks(t.Context(), "so-b", r1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-tenant tasks: %v", err)
	}

	// Lifecycle with timestamps.
	steps := []struct {
		to   incident.State
		role string
	}{{incident.Triaged, "analyst"}, {incident.Investigating, "responder"}, {incident.Contained, "responder"},
		{incident.Eradicated, "responder"}, {incident.Recovered, "responder"}, {incident.Closed, "analyst"}}
	for _, st := range steps {
		if r1, err = s.TransitionIncident(t.Context(), "so-a", r1.ID, st.to, st.role, 0, "", "", "user:x"); err != nil {
			t.Fatalf("→ %s: %v", st.to, err)
		}
	}
	if r1.AcknowledgedAt == nil || r1.ContainedAt == nil || r1.RecoveredAt == nil || r1.ClosedAt == nil {
		t.Fatalf("lifecycle times not set: %+v", r1)
	}
	tl, err := s.Timeline(t.Context(), "so-a", r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range tl {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"incident.open", "incident.update", "incident.split", "incident.merge", "task.create", "task.update",
		"comment.create", "observable.create", "report.filed", "incident.transition"} {
		if !slices.Contains(actions, want) {
			t.Errorf("timeline lacks %s: %v", want, actions)
		}
	}
	verify(t, s)
}

func TestIncidentListingFiltersAndCursor(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s.now = func() time.Time { now = now.Add(time.Second); return now }
	var all []string
	for i := range 57 {
		sev := alert.Severity(1 + i%5)
		a := mkAlert("so-a", fmt.Sprintf("r%d", i), "h", fmt.Sprintf("e%d", i), sev, t0)
		if _, err := s.IngestAlerts(t.Context(), []alert.Alert{a}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.IngestAlerts(t.Context(), []alert.Alert{mkAlert("so-b", "r1", "h", "e1", alert.Critical, t0)}); err != nil {
		t.Fatal(err)
	}
	for _, sortBy := range []string{"", "+updated", "priority", "+severity", "detected"} {
		all = all[:0]
		f := store.IncidentFilter{Tenant: "so-a", Sort: sortBy, Limit: 10}
		pages := 0
		for {
			p, err := s.Incidents(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, inc := range p.Items {
				all = append(all, inc.ID)
			}
			if p.Next == "" {
				break
			}
			f.Cursor = p.Next
		}
		sorted := slices.Clone(all)
		sort.Strings(sorted)
		if len(all) != 57 || len(slices.Compact(sorted)) != 57 || pages != 6 {
			t.Fatalf("sort %q: %d ids (%d distinct) in %d pages", sortBy, len(all), len(slices.Compact(sorted)), pages)
		}
	}
	p, err := s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a", MinSeverity: alert.Critical})
	if err != nil || len(p.Items) != 11 {
		t.Fatalf("critical incidents = %d, %v", len(p.Items), err)
	}
	p, _ = s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a", Text: "rule r5"})
	if len(p.Items) != 8 { // r5, r50..r56
		t.Fatalf("title search = %d", len(p.Items))
	}
	if p, _ = s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a", Text: "r5%"}); len(p.Items) != 0 {
		t.Fatalf("a %% in the text is a literal, found %d", len(p.Items))
	}
	if p, _ = s.Incidents(t.Context(), store.IncidentFilter{Tenant: "so-a", Text: "R5"}); len(p.Items) != 8 {
		t.Fatalf("short title search = %d", len(p.Items))
	}
	if _, err := s.Incidents(t.Context(), store.IncidentFilter{Cursor: "%%%"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, err := s.Incidents(t.Context(), store.IncidentFilter{Sort: "bogus"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad sort: %v", err)
	}
	between, _ := s.IncidentsBetween(t.Context(), "so-b", t0, t0.Add(24*time.Hour))
	if len(between) != 1 {
		t.Fatalf("so-b incidents in the period = %d", len(between))
	}
}

func TestManualIncident(t *testing.T) {
	s := openTest(t)
	inc, err := s.CreateIncident(t.Context(), incident.Incident{Tenant: "so-a", Title: "Website defaced", Category: incident.Defacement,
		Severity: alert.High, Systems: []incident.System{{ID: "portal", Level: 4}}}, "user:officer")
	if err != nil {
		t.Fatal(err)
	}
	if inc.Priority != 16 || inc.Source != "manual" || inc.ReportedBy != "user:officer" || inc.State != incident.New {
		t.Fatalf("manual incident = %+v", inc)
	}
	if _, err := s.Incident(t.Context(), "so-b", inc.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}
