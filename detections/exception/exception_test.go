package exception

import (
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

func TestValidate(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	err := (&Exception{Match: map[string][]string{"": nil}, Expires: now}).Validate(now)
	for _, want := range []string{"rule_id", "match: empty field", "match.: at least one value", "owner", "reason", "expires: must be in the future"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	e := Exception{RuleID: "r", Match: map[string][]string{"host.name": {"ws-1"}}, Owner: "lan", Reason: "patching", Expires: now.Add(400 * 24 * time.Hour)}
	if err := e.Validate(now); err == nil || !strings.Contains(err.Error(), "at most 366 days") {
		t.Fatalf("long expiry: %v", err)
	}
	e.Expires = now.Add(24 * time.Hour)
	if err := e.Validate(now); err != nil {
		t.Fatal(err)
	}
}

func TestSuppress(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ev := event.Event{Tenant: "so-a", Fields: []event.Field{
		{Name: "host.name", Value: event.StringValue("WS-1")},
		{Name: "tags", Value: event.Value{Kind: event.List, List: []event.Value{event.StringValue("x"), event.StringValue("scanner")}}},
		{Name: "user.name", Value: event.StringValue("svc")},
	}}
	set := NewSet([]Exception{
		{ID: "e-expired", RuleID: "r1", Match: map[string][]string{"host.name": {"ws-1"}}, Expires: now.Add(-time.Second)},
		{ID: "e-other-tenant", Tenant: "so-b", RuleID: "r1", Match: map[string][]string{"host.name": {"ws-1"}}, Expires: now.Add(time.Hour)},
		{ID: "e-revoked", RuleID: "r2", Match: map[string][]string{"host.name": {"ws-1"}}, Expires: now.Add(time.Hour), Revoked: now.Add(-time.Minute)},
		{ID: "e-both", RuleID: "r3", Match: map[string][]string{"host.name": {"ws-9", "ws-1"}, "tags": {"scanner"}}, Expires: now.Add(time.Hour)},
		{ID: "e-one-fails", RuleID: "r4", Match: map[string][]string{"host.name": {"ws-1"}, "user.name": {"admin"}}, Expires: now.Add(time.Hour)},
		{ID: "e-missing-field", RuleID: "r5", Match: map[string][]string{"process.name": {"x"}}, Expires: now.Add(time.Hour)},
		{ID: "e-tenant", Tenant: "so-a", RuleID: "r6", Match: map[string][]string{"user.name": {"SVC"}}, Expires: now.Add(time.Hour)},
	})
	tests := []struct {
		rule string
		want string
	}{{"r1", ""}, {"r2", ""}, {"r3", "e-both"}, {"r4", ""}, {"r5", ""}, {"r6", "e-tenant"}, {"none", ""}}
	for _, tt := range tests {
		id, ok := set.Suppress(tt.rule, &ev, now)
		if id != tt.want || ok != (tt.want != "") {
			t.Errorf("Suppress(%s) = %q %v, want %q", tt.rule, id, ok, tt.want)
		}
	}
	if id, ok := set.Suppress("r3", &ev, now.Add(2*time.Hour)); ok {
		t.Errorf("expired exception %s still suppresses", id)
	}
	var nilSet *Set
	if _, ok := nilSet.Suppress("r3", &ev, now); ok {
		t.Error("nil set suppresses")
	}
}
