package incident

import (
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
)

func TestTransition(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{New, Acknowledged, true},
		{New, Investigating, true},
		{New, Contained, false},
		{Acknowledged, Investigating, true},
		{Investigating, Contained, true},
		{Contained, Resolved, true},
		{Resolved, Investigating, true}, // reopen
		{Resolved, Closed, true},
		{Closed, Investigating, false}, // closed is final
		{Closed, Closed, false},
		{New, New, false},
		{New, "bogus", false},
		{"bogus", New, false},
	}
	for _, tt := range tests {
		err := Transition(tt.from, tt.to)
		if (err == nil) != tt.ok {
			t.Errorf("Transition(%s, %s) = %v, want ok=%v", tt.from, tt.to, err, tt.ok)
		}
	}
}

func TestOpenJoin(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a := alert.Alert{ID: "a1", Tenant: "t", RuleID: "r", RuleTitle: "Encoded PowerShell", Severity: alert.Medium, Time: t0,
		GroupBy: []alert.KV{{Field: "host.name", Value: "ws-01"}}}
	inc := Open(&a, t0)
	if again := Open(&a, t0.Add(time.Hour)); again.ID != inc.ID {
		t.Fatal("incident id is not deterministic")
	}
	if inc.Title != "Encoded PowerShell (host.name=ws-01)" || inc.State != New || !inc.State.Open() {
		t.Fatalf("incident = %+v", inc)
	}
	b := a
	b.ID, b.Severity, b.Time = "a2", alert.High, t0.Add(-time.Minute)
	inc.Join(&b, t0)
	if inc.AlertCount != 2 || inc.Severity != alert.High || !inc.FirstSeen.Equal(b.Time) || !inc.LastSeen.Equal(t0) {
		t.Fatalf("after join: %+v", inc)
	}
}
