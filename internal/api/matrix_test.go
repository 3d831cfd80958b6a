package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/detections/exception"
	"github.com/mangrove-soc/mangrove/incidents/clock"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/incidents/report"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/blob"
	"github.com/mangrove-soc/mangrove/internal/store"
	"github.com/mangrove-soc/mangrove/internal/store/sqlite"
)

// secret marks every piece of agency A's data; no refused request and no
// listing of another agency's caller may ever contain it.
const secret = "SECRET-A"

// caller is one principal of the matrix.
type caller struct {
	name, role, tenant string
}

var callers = []caller{
	{"admin", auth.RoleAdmin, ""},
	{"analyst", auth.RoleAnalyst, ""},
	{"responder", auth.RoleResponder, ""},
	{"auditor", auth.RoleAuditor, ""},
	{"analyst-b", auth.RoleAnalyst, "so-b"},
	{"officer-a", auth.RoleAgencyOfficer, "so-a"},
	{"officer-b", auth.RoleAgencyOfficer, "so-b"},
	{"shipper-a", auth.RoleIngest, "so-a"},
}

func (c caller) token() string { return "token-of-" + c.name + "-0123456789" }

// fixture is agency A's data (and a little of B's) that the matrix targets.
type fixture struct {
	env                    *env
	incA, incA2, incB      string
	alertA, alertA2        string
	taskA, evidenceA, excA string
	auditLen               int
	pathsFor               map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	var toks []auth.TokenConfig
	for _, c := range callers {
		toks = append(toks, auth.TokenConfig{Name: c.name, Tenant: c.tenant, Role: c.role, TokenSHA256: tokenSum(c.token())})
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	authn, err := auth.New(auth.Config{Tokens: toks, DefaultTenant: "center"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := blob.Open(filepath.Join(t.TempDir(), "evidence"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	clk, err := clock.New(clock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{bus: &fakeBus{}, search: &fakeSearch{}, store: st, reg: prometheus.NewRegistry()}
	e.srv, err = New(Config{}, Deps{Publisher: e.bus, Store: st, Search: e.search, Auth: authn, DefaultTenant: "center",
		Rules: func() []detections.Rule { return nil }, Ready: map[string]Pinger{"cases": st}, Registry: e.reg,
		ReloadRules:       func(context.Context) (ReloadResult, error) { return ReloadResult{}, nil },
		ExceptionsChanged: func(context.Context) error { return nil },
		Clock:             clk, Evidence: ev, Reports: ReportConfig{Sender: report.Org{Name: "Trung tâm An ninh mạng tỉnh"}},
		Logger: zerolog.Nop(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	t0 := time.Now().UTC().Add(-time.Hour)
	mk := func(tenant, rule, host, evID string) alert.Alert {
		return alert.Alert{ID: alert.NewID(tenant, rule, evID), Tenant: tenant, RuleID: rule, RuleTitle: secretIf(tenant) + " rule " + rule,
			Severity: alert.High, EventIDs: []string{evID}, GroupBy: []alert.KV{{Field: "host.name", Value: host}}, Time: t0, Created: t0,
			Event: json.RawMessage(`{"message":"` + secretIf(tenant) + ` event"}`)}
	}
	a1, a2, a3 := mk("so-a", "r1", "ws-1", "e1"), mk("so-a", "r1", "ws-1", "e2"), mk("so-a", "r2", "ws-2", "e3")
	if _, err := st.IngestAlerts(ctx, []alert.Alert{a1, a2, a3, mk("so-b", "r1", "ws-1", "e1")}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: e, alertA: a1.ID, alertA2: a3.ID}
	all, err := st.Incidents(ctx, storeFilterAll())
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range all.Items {
		switch {
		case inc.Tenant == "so-b":
			f.incB = inc.ID
		case inc.RuleID == "r1":
			f.incA = inc.ID
		default:
			f.incA2 = inc.ID
		}
	}
	task, err := st.AddTask(ctx, "so-a", incident.Task{IncidentID: f.incA, Title: secret + " task"}, "user:x")
	if err != nil {
		t.Fatal(err)
	}
	st.AddComment(ctx, "so-a", incident.Comment{IncidentID: f.incA, Body: secret + " comment"}, "user:x")
	st.AddObservable(ctx, "so-a", incident.Observable{IncidentID: f.incA, Kind: incident.ObsHost, Value: secret + "-host"}, "user:x")
	sum, size, _ := ev.Put(strings.NewReader(secret + " evidence bytes"))
	evd, err := st.AddEvidence(ctx, "so-a", incident.Evidence{IncidentID: f.incA, Name: "dump.txt", SHA256: sum, Size: size}, "user:x")
	if err != nil {
		t.Fatal(err)
	}
	exc := exception.Exception{ID: exception.NewID(), Tenant: "so-a", RuleID: "r1", Match: map[string][]string{"host.name": {"ws-9"}},
		Owner: "lan", Reason: secret + " exception", Expires: time.Now().Add(time.Hour), Created: time.Now(), CreatedBy: "user:x"}
	if err := st.CreateException(ctx, exc, "user:x"); err != nil {
		t.Fatal(err)
	}
	f.taskA, f.evidenceA, f.excA = task.ID, evd.ID, exc.ID
	f.auditLen = auditLen(t, e)
	return f
}

func secretIf(tenant string) string {
	if tenant == "so-a" {
		return secret
	}
	return "public-b"
}

func auditLen(t *testing.T, e *env) int {
	n := 0
	if err := e.store.AuditLog(t.Context(), func(*audit.Entry) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// path fills a route's path parameters with agency A's objects.
func (f *fixture) path(rt route) string {
	p := rt.path
	id := f.incA
	switch {
	case strings.HasPrefix(p, "/api/v1/alerts/"):
		id = f.alertA
	case strings.HasPrefix(p, "/api/v1/exceptions/"):
		id = f.excA
	}
	r := strings.NewReplacer("{id}", id, "{task}", f.taskA, "{evidence}", f.evidenceA, "{kind}", "notice")
	p = r.Replace(p)
	switch rt.path {
	case "/api/v1/incidents/{id}/evidence":
		if rt.method == "POST" {
			p += "?name=more.txt"
		}
	case "/api/v1/metrics/incidents", "/api/v1/reports/summary":
		p += "?period=" + fmt.Sprint(time.Now().Year())
	}
	return p
}

// body is a valid request body for a route, aimed at agency A.
func (f *fixture) body(rt route) string {
	switch rt.method + " " + rt.path {
	case "POST /api/v1/events":
		return `{"message":"x"}`
	case "POST /api/v1/incidents":
		return `{"tenant":"so-a","title":"by hand","severity":"low"}`
	case "PATCH /api/v1/incidents/{id}":
		return `{"version":1,"title":"renamed"}`
	case "POST /api/v1/incidents/{id}/transition":
		return `{"state":"triaged"}`
	case "POST /api/v1/incidents/{id}/assign", "POST /api/v1/alerts/{id}/assign":
		return `{"assignee":"lan"}`
	case "POST /api/v1/incidents/{id}/merge":
		return `{"sources":["` + f.incA2 + `"]}`
	case "POST /api/v1/incidents/{id}/split":
		return `{"alert_ids":["` + f.alertA + `"]}`
	case "POST /api/v1/incidents/{id}/tasks":
		return `{"title":"t"}`
	case "PATCH /api/v1/incidents/{id}/tasks/{task}":
		return `{"done":true}`
	case "POST /api/v1/incidents/{id}/comments":
		return `{"body":"c"}`
	case "POST /api/v1/incidents/{id}/observables":
		return `{"kind":"ip","value":"203.0.113.5"}`
	case "POST /api/v1/incidents/{id}/evidence":
		return "more bytes"
	case "POST /api/v1/incidents/{id}/filings":
		return `{"obligation":"` + firstRule() + `"}`
	case "POST /api/v1/incidents/{id}/reports/{kind}":
		return `{"impact":"i"}`
	case "POST /api/v1/alerts/{id}/attach":
		return `{"incident_id":"` + f.incA2 + `"}`
	case "POST /api/v1/alerts/{id}/suppress":
		return `{"reason":"scanner","ttl":"1h"}`
	case "POST /api/v1/exceptions":
		return `{"rule_id":"r1","match":{"host.name":["x"]},"owner":"o","reason":"r","ttl":"1h"}`
	}
	return ""
}

func firstRule() string {
	c, _ := clock.New(clock.Config{})
	return c.Rules()[0].ID
}

// objectRoute reports whether a route addresses one object by id.
func objectRoute(rt route) bool { return strings.Contains(rt.path, "{") }

// TestAccessMatrix sends every API operation as every role, against
// agency A's objects: a role without the permission gets 403, a caller of
// another agency gets 403 or 404 (guessing A's ids gets nothing), and no
// refused request changes anything or answers with A's data. Listings by
// another agency's callers never contain A's data. Allowed requests do not
// fail with 403, 404 or 5xx.
func TestAccessMatrix(t *testing.T) {
	routes := newFixture(t).env.srv.routes
	for _, rt := range routes {
		if rt.public {
			continue
		}
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			f := newFixture(t)
			// Refusals first: they must leave everything as it was.
			var allowed []caller
			for _, c := range callers {
				p := auth.Principal{Name: c.name, Tenant: c.tenant, Role: c.role}
				otherTenant := c.tenant != "" && c.tenant != "so-a"
				denied := !p.Can(auth.Permission(rt.perm)) || (otherTenant && (objectRoute(rt) || rt.path == "/api/v1/incidents" && rt.method == "POST"))
				if !denied {
					allowed = append(allowed, c)
					continue
				}
				resp, raw := f.env.do(t, rt.method, f.path(rt), c.token(), strings.NewReader(f.body(rt)))
				if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s: status %d, want 403 or 404: %.300s", c.name, resp.StatusCode, raw)
				}
				if strings.Contains(string(raw), secret) {
					t.Errorf("%s: refusal leaks agency A's data: %.300s", c.name, raw)
				}
			}
			if n := auditLen(t, f.env); n != f.auditLen {
				t.Errorf("refused requests changed state: %d audit entries, was %d", n, f.auditLen)
			}
			// Allowed callers: reads by everyone; a write by the first one
			// (it changes the fixture).
			for i, c := range allowed {
				if rt.method != "GET" && i > 0 {
					break
				}
				resp, raw := f.env.do(t, rt.method, f.path(rt), c.token(), strings.NewReader(f.body(rt)))
				if resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 ||
					(resp.StatusCode == http.StatusForbidden && rt.path != "/api/v1/incidents/{id}/transition" && rt.path != "/api/v1/rules/reload") {
					t.Errorf("%s (allowed): status %d: %.300s", c.name, resp.StatusCode, raw)
				}
				if c.tenant != "" && c.tenant != "so-a" && strings.Contains(string(raw), secret) {
					t.Errorf("%s: listing shows agency A's data: %.300s", c.name, raw)
				}
			}
		})
	}
}

func storeFilterAll() store.IncidentFilter { return store.IncidentFilter{Limit: 1000} }
