package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/store/sqlite"
)

// fakeBus records published events and acknowledges (or fails) batches.
type fakeBus struct {
	mu     sync.Mutex
	events []event.Event
	fail   error
}

func (b *fakeBus) Publish(ctx context.Context, bt *event.Batch) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		go bt.Done(b.fail)
		return nil
	}
	b.events = append(b.events, bt.Events...)
	go bt.Done(nil)
	return nil
}

type fakeSearch struct{ last search.Query }

func (f *fakeSearch) Search(ctx context.Context, q search.Query) (search.Result, error) {
	f.last = q
	if strings.Contains(q.Text, "((") {
		return search.Result{}, errors.Join(search.ErrBadQuery, errors.New("unbalanced parentheses"))
	}
	return search.Result{Total: 0, Events: []event.Event{}}, nil
}

type env struct {
	changed int
	srv     *Server
	bus     *fakeBus
	search  *fakeSearch
	store   *sqlite.Store
	reg     *prometheus.Registry
}

func tokenSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func newEnv(t *testing.T, cfg Config, tokens []auth.TokenConfig) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	authn, err := auth.New(auth.Config{Tokens: tokens, DefaultTenant: "center"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{bus: &fakeBus{}, search: &fakeSearch{}, store: st, reg: prometheus.NewRegistry()}
	e.srv, err = New(cfg, Deps{Publisher: e.bus, Store: st, Search: e.search, Auth: authn, DefaultTenant: "center",
		Rules: func() []detections.Rule { return nil }, Ready: map[string]Pinger{"cases": st}, Registry: e.reg,
		ReloadRules:       func(context.Context) (ReloadResult, error) { return ReloadResult{Rules: 7, Files: 7}, nil },
		ExceptionsChanged: func(context.Context) error { e.changed++; return nil },
		Logger:            zerolog.Nop(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) do(t *testing.T, method, path, token string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec.Result(), rec.Body.Bytes()
}

func TestIngestGoodAndBadLines(t *testing.T) {
	e := newEnv(t, Config{MaxLineBytes: 1 << 10}, nil)
	body := strings.Join([]string{
		`{"message":"ok 1","host":{"name":"h1"}}`,
		`{"message":"truncated`,
		"{\"message\":\"bad utf8 \xff\"}",
		`["not","an","object"]`,
		`{"message":` + strings.Repeat("x", 2000) + `}`,
		``,
		`{"message":"ok 2","@timestamp":"2026-11-25T10:00:00Z","event.dataset":"custom","mangrove.tenant":"evil"}`,
	}, "\n")
	resp, raw := e.do(t, "POST", "/api/v1/events?dataset=app", "", strings.NewReader(body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	var res IngestResult
	json.Unmarshal(raw, &res)
	if res.Accepted != 2 || res.Rejected != 4 {
		t.Fatalf("result = %+v", res)
	}
	lines := []int{}
	for _, le := range res.Errors {
		lines = append(lines, le.Line)
	}
	if got := lines; len(got) != 4 || got[0] != 2 || got[1] != 3 || got[2] != 4 || got[3] != 5 {
		t.Fatalf("rejected lines = %v (%+v)", lines, res.Errors)
	}
	if len(e.bus.events) != 2 {
		t.Fatalf("published %d events", len(e.bus.events))
	}
	ev0, ev1 := e.bus.events[0], e.bus.events[1]
	if ev0.Tenant != "center" || ev1.Tenant != "center" {
		t.Errorf("tenant taken from content: %q %q", ev0.Tenant, ev1.Tenant)
	}
	if ev0.Dataset != "app" || ev1.Dataset != "custom" || ev0.ID == "" || ev0.ID == ev1.ID {
		t.Errorf("metadata: %+v / %+v", ev0, ev1)
	}
	if !ev1.Time.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("time = %v", ev1.Time)
	}
	for reason, want := range map[string]float64{"syntax": 1, "utf8": 1, "not_object": 1, "too_large": 1} {
		if got := testutil.ToFloat64(e.srv.metrics.eventsRejected.WithLabelValues("http", reason)); got != want {
			t.Errorf("%s rejections = %v, want %v", reason, got, want)
		}
	}
	if got := testutil.ToFloat64(e.srv.metrics.eventsAcked.WithLabelValues("http")); got != 2 {
		t.Errorf("acked = %v", got)
	}
}

// zeros is an endless reader of 'x' bytes, to send a 100 MB line without
// holding it.
type xs struct{ n int64 }

func (r *xs) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return int(k), nil
}

func TestIngestHugeLine(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	body := io.MultiReader(strings.NewReader(`{"message":"before"}`+"\n"+`{"message":"`), &xs{n: 100 << 20},
		strings.NewReader(`"}`+"\n"+`{"message":"after"}`+"\n"))
	resp, raw := e.do(t, "POST", "/api/v1/events", "", body)
	var res IngestResult
	json.Unmarshal(raw, &res)
	if resp.StatusCode != http.StatusAccepted || res.Accepted != 2 || res.Rejected != 1 || res.Errors[0].Line != 2 ||
		!strings.Contains(res.Errors[0].Error, "line too long") {
		t.Fatalf("status %d, %+v", resp.StatusCode, res)
	}
}

func TestIngestLimitsAndFailures(t *testing.T) {
	gz := func(s string) io.Reader {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return &b
	}
	t.Run("gzip", func(t *testing.T) {
		e := newEnv(t, Config{}, nil)
		resp, raw := e.do(t, "POST", "/api/v1/events", "", gz(`{"a":1}`+"\n"+`{"a":2}`), "Content-Encoding", "gzip")
		if resp.StatusCode != http.StatusAccepted || len(e.bus.events) != 2 {
			t.Fatalf("status %d %s", resp.StatusCode, raw)
		}
	})
	t.Run("gzip bomb", func(t *testing.T) {
		e := newEnv(t, Config{MaxDecodedBytes: 1 << 20}, nil)
		resp, _ := e.do(t, "POST", "/api/v1/events", "", gz(strings.Repeat(`{"a":"`+strings.Repeat("y", 1000)+`"}`+"\n", 5000)), "Content-Encoding", "gzip")
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("not gzip", func(t *testing.T) {
		e := newEnv(t, Config{}, nil)
		if resp, _ := e.do(t, "POST", "/api/v1/events", "", strings.NewReader("plain"), "Content-Encoding", "gzip"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		e := newEnv(t, Config{MaxBodyBytes: 1000}, nil)
		if resp, _ := e.do(t, "POST", "/api/v1/events", "", strings.NewReader(strings.Repeat(`{"a":1}`+"\n", 1000))); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("all bad", func(t *testing.T) {
		e := newEnv(t, Config{}, nil)
		if resp, _ := e.do(t, "POST", "/api/v1/events", "", strings.NewReader("{\n{\"a\":tru}\n")); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("bus down", func(t *testing.T) {
		e := newEnv(t, Config{}, nil)
		e.bus.fail = errors.New("disk full")
		resp, raw := e.do(t, "POST", "/api/v1/events", "", strings.NewReader(`{"a":1}`))
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(raw), "disk full") {
			t.Fatalf("status %d %s", resp.StatusCode, raw)
		}
	})
}

func TestTenancy(t *testing.T) {
	toks := []auth.TokenConfig{
		{Name: "officer-a", Tenant: "so-a", Role: auth.RoleAgency, TokenSHA256: tokenSum("token-for-agency-a")},
		{Name: "soc", Role: auth.RoleAnalyst, TokenSHA256: tokenSum("token-for-the-center")},
		{Name: "shipper-b", Tenant: "so-b", Role: auth.RoleIngest, TokenSHA256: tokenSum("token-for-shipper-b")},
	}
	e := newEnv(t, Config{}, toks)
	t0 := time.Now().UTC()
	for _, tenant := range []string{"so-a", "so-b"} {
		a := alert.Alert{ID: alert.NewID(tenant, "r1", "e"), Tenant: tenant, RuleID: "r1", RuleTitle: "R", Severity: alert.High, EventIDs: []string{"e"}, Time: t0, Created: t0}
		if _, err := e.store.IngestAlerts(t.Context(), []alert.Alert{a}); err != nil {
			t.Fatal(err)
		}
	}
	if resp, _ := e.do(t, "GET", "/api/v1/incidents", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	var page struct{ Items []incident.Incident }
	_, raw := e.do(t, "GET", "/api/v1/incidents", "token-for-agency-a", nil)
	json.Unmarshal(raw, &page)
	if len(page.Items) != 1 || page.Items[0].Tenant != "so-a" {
		t.Fatalf("agency sees %s", raw)
	}
	_, raw = e.do(t, "GET", "/api/v1/incidents", "token-for-the-center", nil)
	json.Unmarshal(raw, &page)
	incs := page.Items
	if len(incs) != 2 {
		t.Fatalf("center sees %d incidents", len(incs))
	}
	var other string
	for _, inc := range incs {
		if inc.Tenant == "so-b" {
			other = inc.ID
		}
	}
	if resp, _ := e.do(t, "GET", "/api/v1/incidents/"+other, "token-for-agency-a", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("agency reads another tenant's incident: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "POST", "/api/v1/incidents/"+other+"/transition", "token-for-agency-a", strings.NewReader(`{"state":"closed"}`)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agency officer moves an incident: %d", resp.StatusCode)
	}
	resp, raw := e.do(t, "POST", "/api/v1/incidents/"+other+"/transition", "token-for-the-center", strings.NewReader(`{"state":"triaged","assignee":"lan"}`))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"assignee": "lan"`) {
		t.Fatalf("transition: %d %s", resp.StatusCode, raw)
	}
	if resp, _ := e.do(t, "POST", "/api/v1/incidents/"+other+"/transition", "token-for-the-center", strings.NewReader(`{"state":"new"}`)); resp.StatusCode != http.StatusConflict {
		t.Fatalf("invalid transition: %d", resp.StatusCode)
	}
	// An ingest-only shipper may send events, for its own tenant, and read nothing.
	resp, _ = e.do(t, "POST", "/api/v1/events", "token-for-shipper-b", strings.NewReader(`{"mangrove.tenant":"so-a","a":1}`))
	if resp.StatusCode != http.StatusAccepted || e.bus.events[0].Tenant != "so-b" {
		t.Fatalf("shipper ingest: %d, tenant %q", resp.StatusCode, e.bus.events[0].Tenant)
	}
	if resp, _ := e.do(t, "GET", "/api/v1/alerts", "token-for-shipper-b", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("shipper reads alerts: %d", resp.StatusCode)
	}
	// Search is scoped to the caller's tenant whatever the query says.
	e.do(t, "GET", "/api/v1/events/search?q=mangrove.tenant:so-b", "token-for-agency-a", nil)
	if e.search.last.Tenant != "so-a" {
		t.Fatalf("search tenant = %q", e.search.last.Tenant)
	}
	if resp, _ := e.do(t, "GET", "/api/v1/events/search?q=((", "token-for-agency-a", nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad query: %d", resp.StatusCode)
	}
}

// TestOpenAPIMatchesRoutes checks both directions: every route served is in
// the document, and every documented operation is routed (it answers with
// something other than the mux's 404/405).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	_, raw := e.do(t, "GET", "/api/v1/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("document: %v %s", err, raw[:min(len(raw), 200)])
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
			path := strings.ReplaceAll(p, "{id}", "INC-none")
			resp, body := e.do(t, strings.ToUpper(m), path, "", strings.NewReader(`{"state":"closed"}`))
			if resp.StatusCode == http.StatusMethodNotAllowed || strings.Contains(string(body), "404 page not found") {
				t.Errorf("documented %s %s is not served: %d %s", m, p, resp.StatusCode, body)
			}
		}
	}
	for _, rt := range e.srv.routes {
		if !documented[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is not documented", rt.method, rt.path)
		}
	}
	if resp, _ := e.do(t, "GET", "/api/v1/nope", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	if resp, raw := e.do(t, "GET", "/readyz", "", nil); resp.StatusCode != 200 || !strings.Contains(string(raw), `"cases": "ok"`) {
		t.Fatalf("readyz %d %s", resp.StatusCode, raw)
	}
	e.do(t, "POST", "/api/v1/events", "", strings.NewReader(`{"a":1}`))
	_, raw := e.do(t, "GET", "/metrics", "", nil)
	for _, want := range []string{"mangrove_events_in_total", "mangrove_events_acked_total", `mangrove_http_requests_total{code="2xx",route="POST /api/v1/events"} 1`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestExceptionsAPI(t *testing.T) {
	toks := []auth.TokenConfig{
		// Exceptions are the center's: analysts bound to one agency stand in
		// for it (agency officers may not suppress detections).
		{Name: "analyst-a", Tenant: "so-a", Role: auth.RoleAnalyst, TokenSHA256: tokenSum("token-for-agency-a")},
		{Name: "analyst-b", Tenant: "so-b", Role: auth.RoleAnalyst, TokenSHA256: tokenSum("token-for-agency-b")},
		{Name: "officer-a", Tenant: "so-a", Role: auth.RoleAgencyOfficer, TokenSHA256: tokenSum("token-for-officer-a")},
		{Name: "soc", Role: auth.RoleAnalyst, TokenSHA256: tokenSum("token-for-the-center")},
	}
	e := newEnv(t, Config{}, toks)
	if resp, _ := e.do(t, "POST", "/api/v1/exceptions", "token-for-officer-a", strings.NewReader(`{}`)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("agency officer creates an exception: %d", resp.StatusCode)
	}
	body := `{"rule_id":"r1","match":{"host.name":["ws-1"]},"owner":"lan","reason":"vulnerability scanner","ttl":"24h"}`
	resp, raw := e.do(t, "POST", "/api/v1/exceptions", "token-for-agency-a", strings.NewReader(body))
	if resp.StatusCode != http.StatusCreated || e.changed != 1 {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	var created struct {
		ID     string `json:"id"`
		Tenant string `json:"tenant"`
	}
	json.Unmarshal(raw, &created)
	if created.Tenant != "so-a" {
		t.Fatalf("exception tenant %q, want the caller's", created.Tenant)
	}
	if resp, raw := e.do(t, "POST", "/api/v1/exceptions", "token-for-agency-a", strings.NewReader(`{"rule_id":"r1","match":{},"ttl":"24h"}`)); resp.StatusCode != 400 ||
		!strings.Contains(string(raw), "owner: required") || !strings.Contains(string(raw), "reason: required") {
		t.Fatalf("invalid: %d %s", resp.StatusCode, raw)
	}
	if _, raw := e.do(t, "GET", "/api/v1/exceptions", "token-for-agency-b", nil); strings.Contains(string(raw), created.ID) {
		t.Fatalf("agency b sees agency a's exception: %s", raw)
	}
	if resp, _ := e.do(t, "DELETE", "/api/v1/exceptions/"+created.ID, "token-for-agency-b", nil); resp.StatusCode != 404 {
		t.Fatalf("agency b revokes a's exception: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "DELETE", "/api/v1/exceptions/"+created.ID, "token-for-agency-a", nil); resp.StatusCode != 200 || e.changed != 2 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "POST", "/api/v1/rules/reload", "token-for-agency-a", nil); resp.StatusCode != 403 {
		t.Fatalf("agency reloads rules: %d", resp.StatusCode)
	}
	if resp, raw := e.do(t, "POST", "/api/v1/rules/reload", "token-for-the-center", nil); resp.StatusCode != 200 || !strings.Contains(string(raw), `"rules": 7`) {
		t.Fatalf("reload: %d %s", resp.StatusCode, raw)
	}
}

// TestAlertsCursor pages through the alerts listing with X-Next-Cursor and
// checks that a malformed cursor is a 400.
func TestAlertsCursor(t *testing.T) {
	e := newEnv(t, Config{}, []auth.TokenConfig{{Name: "soc", Role: auth.RoleAnalyst, TokenSHA256: tokenSum("token-for-the-center")}})
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var batch []alert.Alert
	for i := range 25 {
		ev := fmt.Sprint("e", i)
		batch = append(batch, alert.Alert{ID: alert.NewID("so-a", "r1", ev), Tenant: "so-a", RuleID: "r1", RuleTitle: "R1",
			Severity: alert.Low, EventIDs: []string{ev}, Time: t0.Add(time.Duration(i/2) * time.Second), Created: t0})
	}
	if _, err := e.store.IngestAlerts(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	path := "/api/v1/alerts?limit=10"
	for pages := 0; ; pages++ {
		resp, raw := e.do(t, "GET", path, "token-for-the-center", nil)
		var page []alert.Alert
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &page) != nil {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
		}
		for _, a := range page {
			if seen[a.ID] {
				t.Fatalf("alert %s on two pages", a.ID)
			}
			seen[a.ID] = true
		}
		next := resp.Header.Get("X-Next-Cursor")
		if (next == "") != (len(page) < 10) {
			t.Fatalf("page %d of %d alerts: X-Next-Cursor %q", pages, len(page), next)
		}
		if next == "" {
			break
		}
		path = "/api/v1/alerts?limit=10&cursor=" + url.QueryEscape(next)
	}
	if len(seen) != len(batch) {
		t.Errorf("%d alerts over all pages, want %d", len(seen), len(batch))
	}
	for _, bad := range []string{"x", "12", ".abc", "abc.def"} {
		if resp, _ := e.do(t, "GET", "/api/v1/alerts?cursor="+bad, "token-for-the-center", nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("cursor %q: %d, want 400", bad, resp.StatusCode)
		}
	}
}
