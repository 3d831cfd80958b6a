package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// RuleInfo describes a loaded rule.
type RuleInfo struct {
	ID         string   `json:"id"`
	Version    string   `json:"version,omitempty"`
	Title      string   `json:"title"`
	Kind       string   `json:"kind"`
	Severity   string   `json:"severity"`
	Techniques []string `json:"techniques,omitempty"`
	Path       string   `json:"path,omitempty"`
}

// Health answers /healthz and /readyz.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func (s *Server) table() []route {
	ok := func(desc string, schema any) map[int]respSpec {
		return map[int]respSpec{200: {desc: desc, schema: schema}, 400: {desc: "bad request", schema: errorBody{}}}
	}
	return append([]route{
		{method: "POST", path: "/api/v1/events", tag: "events", perm: "events.write", summary: "Send events as NDJSON (one JSON object per line; gzip accepted with Content-Encoding: gzip). Answers after the events are durably on the bus.",
			params: []param{{name: "dataset", in: "query", typ: "string", desc: "event.dataset of events that carry none (default generic)"}},
			body:   &bodySpec{contentType: "application/x-ndjson", desc: "one event per line"},
			responses: map[int]respSpec{
				202: {desc: "accepted: good lines are durably stored; bad lines are listed", schema: IngestResult{}},
				400: {desc: "every line was rejected, or the body is unreadable", schema: IngestResult{}},
				413: {desc: "body exceeds its limit", schema: errorBody{}},
				503: {desc: "the bus failed; retry", schema: errorBody{}},
			},
			handler: s.handleIngest},
		{method: "GET", path: "/api/v1/events/search", tag: "events", perm: "events.read", summary: "Search stored events with a KQL/Lucene-style query, newest first",
			params: []param{
				{name: "q", in: "query", typ: "string", desc: `query, e.g. source.ip:10.0.0.5 AND event.action:"logon-failed"`},
				{name: "from", in: "query", typ: "string", desc: "RFC 3339 time or a duration back from now (24h)"},
				{name: "to", in: "query", typ: "string", desc: "RFC 3339 time or a duration back from now"},
				{name: "limit", in: "query", typ: "integer", desc: "events to return (default 100, at most 10000)"},
			},
			responses: ok("matching events", search.Result{}), handler: s.handleSearch},
		{method: "GET", path: "/api/v1/alerts", tag: "alerts", perm: "alerts.read", summary: "List alerts, newest first",
			params: []param{
				{name: "rule_id", in: "query", typ: "string"}, {name: "incident_id", in: "query", typ: "string"},
				{name: "min_severity", in: "query", typ: "string", desc: "informational, low, medium, high or critical"},
				{name: "since", in: "query", typ: "string", desc: "RFC 3339 time or a duration back from now"},
				{name: "limit", in: "query", typ: "integer", desc: "default 100, at most 1000"},
				{name: "offset", in: "query", typ: "integer", desc: "alerts to skip, for paging (pages shift while alerts arrive: prefer cursor)"},
				{name: "cursor", in: "query", typ: "string", desc: "continue after the last alert of the previous page: its X-Next-Cursor response header"},
			},
			responses: ok("alerts; a full page carries X-Next-Cursor", []alert.Alert{}), handler: s.handleAlerts},
		{method: "GET", path: "/api/v1/rules", tag: "rules", perm: "rules.read", summary: "List the loaded detection rules",
			responses: ok("rules", []RuleInfo{}), handler: s.handleRules},
		{method: "GET", path: "/api/v1/openapi.json", tag: "meta", summary: "This document", public: true,
			responses: map[int]respSpec{200: {desc: "OpenAPI 3.1 document", schema: map[string]any{}}}, handler: s.handleDoc},
		{method: "GET", path: "/healthz", tag: "meta", summary: "Liveness: the process answers", public: true,
			responses: map[int]respSpec{200: {desc: "alive", schema: Health{}}}, handler: s.handleHealth},
		{method: "GET", path: "/readyz", tag: "meta", summary: "Readiness: the bus and stores answer", public: true,
			responses: map[int]respSpec{200: {desc: "ready", schema: Health{}}, 503: {desc: "a dependency is down", schema: Health{}}}, handler: s.handleReady},
		{method: "GET", path: "/metrics", tag: "meta", summary: "Prometheus metrics", public: true,
			responses: map[int]respSpec{200: {desc: "metrics in the Prometheus text format", contentType: "text/plain"}}, handler: s.handleMetrics},
	}, append(s.exceptionRoutes(), append(s.incidentRoutes(), s.reportRoutes()...)...)...)
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	tenant, ok := readScope(w, r)
	if !ok {
		return
	}
	now := time.Now()
	q := search.Query{Tenant: tenant, Text: r.URL.Query().Get("q")}
	var errs []error
	var err error
	if q.From, err = queryTime(r, "from", now); err != nil {
		errs = append(errs, err)
	}
	if q.To, err = queryTime(r, "to", now); err != nil {
		errs = append(errs, err)
	}
	if q.Limit, err = queryInt(r, "limit", 100); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, errors.Join(errs...).Error())
		return
	}
	res, err := s.deps.Search.Search(r.Context(), q)
	switch {
	case errors.Is(err, search.ErrBadQuery):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		s.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	tenant, ok := readScope(w, r)
	if !ok {
		return
	}
	f := store.AlertFilter{Tenant: tenant, RuleID: r.URL.Query().Get("rule_id"), IncidentID: r.URL.Query().Get("incident_id")}
	var errs []error
	var err error
	if v := r.URL.Query().Get("min_severity"); v != "" {
		if f.MinSeverity, err = alert.ParseSeverity(v); err != nil {
			errs = append(errs, err)
		}
	}
	if f.Since, err = queryTime(r, "since", time.Now()); err != nil {
		errs = append(errs, err)
	}
	if f.Limit, err = queryInt(r, "limit", 100); err != nil {
		errs = append(errs, err)
	}
	if f.Offset, err = queryInt(r, "offset", 0); err != nil {
		errs = append(errs, err)
	}
	if v := r.URL.Query().Get("cursor"); v != "" {
		if f.After, err = parseAlertCursor(v); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, errors.Join(errs...).Error())
		return
	}
	alerts, err := s.deps.Store.Alerts(r.Context(), f)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if n := len(alerts); n > 0 && n == f.PageSize() {
		last := alerts[n-1]
		w.Header().Set("X-Next-Cursor", strconv.FormatInt(last.Time.UnixNano(), 10)+"."+last.ID)
	}
	writeJSON(w, http.StatusOK, alerts)
}

// parseAlertCursor reads an X-Next-Cursor value: the Unix time in
// nanoseconds and the id of the last alert of a page.
func parseAlertCursor(v string) (*store.AlertCursor, error) {
	ns, id, ok := strings.Cut(v, ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, fmt.Errorf("cursor: %q is not an X-Next-Cursor value", v)
	}
	return &store.AlertCursor{Time: time.Unix(0, n), ID: id}, nil
}

func (s *Server) handleRules(w http.ResponseWriter, r *http.Request) {
	if _, ok := readScope(w, r); !ok {
		return
	}
	out := []RuleInfo{}
	for _, rule := range s.deps.Rules() {
		m := rule.Meta()
		out = append(out, RuleInfo{ID: m.ID, Version: m.Version, Title: m.Title, Kind: m.Kind, Severity: m.Severity.String(), Techniques: m.Techniques, Path: m.Path})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDoc(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.doc)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Health{Status: "ok"})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	h := Health{Status: "ok", Checks: map[string]string{}}
	code := http.StatusOK
	for name, p := range s.deps.Ready {
		if err := p.Ping(ctx); err != nil {
			h.Checks[name] = err.Error()
			h.Status, code = "unavailable", http.StatusServiceUnavailable
			continue
		}
		h.Checks[name] = "ok"
	}
	writeJSON(w, code, h)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.deps.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("request failed")
	writeError(w, http.StatusInternalServerError, "internal error")
}
