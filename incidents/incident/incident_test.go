package incident

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
)

// TestTransition is the table of allowed moves: every (from, to) pair for
// every role, the allowed ones listed, everything else refused.
func TestTransition(t *testing.T) {
	type key struct {
		from, to State
		role     string
	}
	A, R := RoleAnalyst, RoleResponder
	allowed := map[key]bool{}
	for _, m := range []struct {
		from, to State
		roles    []string
	}{
		{New, Triaged, []string{A}}, {New, Investigating, []string{A}}, {New, FalsePositive, []string{A}}, {New, Duplicate, []string{A}},
		{Triaged, Investigating, []string{A, R}}, {Triaged, FalsePositive, []string{A}}, {Triaged, Duplicate, []string{A}},
		{Investigating, Contained, []string{A, R}}, {Investigating, FalsePositive, []string{A}}, {Investigating, Duplicate, []string{A}},
		{Contained, Investigating, []string{A, R}}, {Contained, Eradicated, []string{A, R}},
		{Eradicated, Recovered, []string{A, R}}, {Eradicated, Contained, []string{A, R}},
		{Recovered, Contained, []string{A, R}}, {Recovered, Closed, []string{A}},
		{Closed, Investigating, []string{A}}, {FalsePositive, Investigating, []string{A}}, {Duplicate, Investigating, []string{A}},
	} {
		for _, r := range append(m.roles, RoleAdmin) {
			allowed[key{m.from, m.to, r}] = true
		}
	}
	roles := []string{RoleAdmin, A, R, "agency_officer", "auditor", ""}
	for _, from := range States {
		for _, to := range States {
			for _, role := range roles {
				err := Transition(from, to, role)
				if want := allowed[key{from, to, role}]; (err == nil) != want {
					t.Errorf("Transition(%s, %s, %q) = %v, want allowed=%v", from, to, role, err, want)
				}
				// A move some role may make is refused to others for the
				// role; a move nobody may make is impossible.
				possible := allowed[key{from, to, RoleAdmin}]
				if err != nil && errors.Is(err, ErrNotAllowed) != possible {
					t.Errorf("Transition(%s, %s, %q): ErrNotAllowed=%v, want %v (%v)", from, to, role, errors.Is(err, ErrNotAllowed), possible, err)
				}
			}
		}
	}
	for _, bad := range [][2]State{{New, "bogus"}, {"bogus", New}} {
		if err := Transition(bad[0], bad[1], RoleAdmin); err == nil || errors.Is(err, ErrNotAllowed) {
			t.Errorf("Transition(%s, %s) = %v", bad[0], bad[1], err)
		}
	}
	if got := Next(New, R); len(got) != 0 {
		t.Errorf("a responder may move a new incident to %v", got)
	}
	if got := Next(Contained, R); !slices.Equal(got, []State{Investigating, Eradicated}) {
		t.Errorf("Next(contained, responder) = %v", got)
	}
}

func TestOpenJoinApply(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a := alert.Alert{ID: "a1", Tenant: "t", RuleID: "r", RuleTitle: "Encoded PowerShell", Severity: alert.Medium, Time: t0,
		Techniques: []string{"T1059.001"}, GroupBy: []alert.KV{{Field: "host.name", Value: "ws-01"}}}
	inc := Open(&a, "t|rule=r", t0)
	if again := Open(&a, "t|rule=r", t0.Add(time.Hour)); again.ID != inc.ID {
		t.Fatal("incident id is not deterministic")
	}
	if inc.Title != "Encoded PowerShell (host.name=ws-01)" || inc.State != New || !inc.State.Open() || inc.Category != Malware || inc.Priority != 3 {
		t.Fatalf("incident = %+v", inc)
	}
	b := a
	b.ID, b.Severity, b.Time, b.Techniques = "a2", alert.High, t0.Add(-time.Minute), []string{"T1105"}
	inc.Join(&b, t0)
	if inc.AlertCount != 2 || inc.Severity != alert.High || !inc.FirstSeen.Equal(b.Time) || !inc.LastSeen.Equal(t0) ||
		len(inc.Techniques) != 2 || inc.Version != 2 || inc.Priority != 4 {
		t.Fatalf("after join: %+v", inc)
	}
	inc.Apply(Contained, t0.Add(time.Hour))
	inc.Apply(Investigating, t0.Add(2*time.Hour))
	inc.Apply(Recovered, t0.Add(3*time.Hour))
	if inc.AcknowledgedAt == nil || !inc.ContainedAt.Equal(t0.Add(time.Hour)) || !inc.RecoveredAt.Equal(t0.Add(3*time.Hour)) || inc.ClosedAt != nil {
		t.Fatalf("times after apply: %+v", inc)
	}
}

func TestPriorityAndCategory(t *testing.T) {
	if got := Priority(alert.Critical, []System{{Level: 2}, {Level: 5}}); got != 25 {
		t.Errorf("critical on level 5 = %d", got)
	}
	if got := Priority(alert.Low, nil); got != 2 {
		t.Errorf("low without systems = %d", got)
	}
	for tech, want := range map[string]Category{"T1498.001": DDoS, "t1566": Phishing, "T1491.002": Defacement, "T9999": Uncategorized} {
		if got := GuessCategory([]string{tech}); got != want {
			t.Errorf("GuessCategory(%s) = %q, want %q", tech, got, want)
		}
	}
	if !Category("").Valid() || Category("nope").Valid() || Malware.Vietnamese() != "Mã độc" {
		t.Error("category validity or name")
	}
}
