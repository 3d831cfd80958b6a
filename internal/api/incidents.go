package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/detections/exception"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/blob"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// IncidentDetail answers GET /api/v1/incidents/{id}: the incident and
// everything attached to it, its deadlines, and the states the caller may move
// it to.
type IncidentDetail struct {
	incident.Incident
	Alerts      []alert.Alert         `json:"alerts"`
	Tasks       []incident.Task       `json:"tasks"`
	Comments    []incident.Comment    `json:"comments"`
	Observables []incident.Observable `json:"observables"`
	Evidence    []incident.Evidence   `json:"evidence"`
	Filings     []store.Filing        `json:"filings"`
	Deadlines   []Deadline            `json:"deadlines"`
	NextStates  []incident.State      `json:"next_states"`
}

// IncidentSummary is one incident in a listing, with its overdue deadlines.
type IncidentSummary struct {
	incident.Incident
	Overdue []string `json:"overdue,omitempty"` // ids of deadlines passed and not met
}

// IncidentPage answers GET /api/v1/incidents.
type IncidentPage struct {
	Items []IncidentSummary `json:"items"`
	Next  string            `json:"next,omitempty"` // cursor of the next page
}

// CreateIncidentRequest is the body of POST /api/v1/incidents. Tenant is
// only read from center-wide callers; an agency officer's incident lands in
// the officer's own agency.
type CreateIncidentRequest struct {
	Tenant            string            `json:"tenant,omitempty"`
	Title             string            `json:"title"`
	Description       string            `json:"description,omitempty"`
	Category          incident.Category `json:"category,omitempty"`
	Severity          alert.Severity    `json:"severity"`
	Systems           []string          `json:"systems,omitempty"` // ids in the asset inventory
	DetectedAt        time.Time         `json:"detected_at,omitzero"`
	Serious           bool              `json:"serious,omitempty"`
	NationalSecurity  bool              `json:"national_security,omitempty"`
	SeriousDisruption bool              `json:"serious_disruption,omitempty"`
	PersonalData      []string          `json:"personal_data,omitempty"`
}

// TransitionRequest is the body of POST /api/v1/incidents/{id}/transition.
type TransitionRequest struct {
	State       incident.State `json:"state"`
	Version     int            `json:"version,omitempty"` // optional lost-update check
	DuplicateOf string         `json:"duplicate_of,omitempty"`
	Reason      string         `json:"reason,omitempty"`
	Assignee    string         `json:"assignee,omitempty"`
}

// AssignRequest is the body of POST /api/v1/incidents/{id}/assign and
// /api/v1/alerts/{id}/assign.
type AssignRequest struct {
	Assignee string  `json:"assignee"`
	Team     *string `json:"team,omitempty"`
}

// MergeRequest is the body of POST /api/v1/incidents/{id}/merge.
type MergeRequest struct {
	Sources []string `json:"sources"`
}

// SplitRequest is the body of POST /api/v1/incidents/{id}/split.
type SplitRequest struct {
	AlertIDs []string `json:"alert_ids"`
	Title    string   `json:"title,omitempty"`
}

// AttachRequest is the body of POST /api/v1/alerts/{id}/attach.
type AttachRequest struct {
	IncidentID string `json:"incident_id"`
}

// SuppressRequest is the body of POST /api/v1/alerts/{id}/suppress: an
// exception for the alert's rule and group-by values (or the given fields).
type SuppressRequest struct {
	Reason string              `json:"reason"`
	TTL    string              `json:"ttl"` // e.g. 720h
	Match  map[string][]string `json:"match,omitempty"`
}

// FilingRequest is the body of POST /api/v1/incidents/{id}/filings.
type FilingRequest struct {
	Obligation string    `json:"obligation"`
	At         time.Time `json:"at,omitzero"`
	Channel    string    `json:"channel,omitempty"`
	Reference  string    `json:"reference,omitempty"`
}

func (s *Server) incidentRoutes() []route {
	id := param{name: "id", in: "path", typ: "string", required: true}
	errs := func(m map[int]respSpec) map[int]respSpec {
		for code, desc := range map[int]string{400: "bad request", 403: "the role may not do this", 404: "no such incident for this tenant"} {
			if _, ok := m[code]; !ok {
				m[code] = respSpec{desc: desc, schema: errorBody{}}
			}
		}
		return m
	}
	jsonBody := func(v any) *bodySpec { return &bodySpec{contentType: "application/json", schema: v} }
	return []route{
		{method: "GET", path: "/api/v1/incidents", tag: "incidents", perm: "incidents.read",
			summary: "List incidents with filters, sorting and cursor pagination",
			params: []param{
				{name: "state", in: "query", typ: "string", desc: "comma-separated states: " + statesList()},
				{name: "open", in: "query", typ: "boolean", desc: "only incidents not closed or dismissed"},
				{name: "category", in: "query", typ: "string"}, {name: "assignee", in: "query", typ: "string"},
				{name: "min_severity", in: "query", typ: "string"}, {name: "min_priority", in: "query", typ: "integer"},
				{name: "rule_id", in: "query", typ: "string"},
				{name: "since", in: "query", typ: "string", desc: "detected at or after (RFC 3339 or a duration back)"},
				{name: "until", in: "query", typ: "string", desc: "detected before"},
				{name: "q", in: "query", typ: "string", desc: "text in the title"},
				{name: "sort", in: "query", typ: "string", desc: "updated (default), created, detected, priority, severity; + prefix for ascending"},
				{name: "cursor", in: "query", typ: "string", desc: "the next value of the previous page"},
				{name: "limit", in: "query", typ: "integer", desc: "default 100, at most 1000"},
			},
			responses: errs(map[int]respSpec{200: {desc: "a page of incidents", schema: IncidentPage{}}}), handler: s.handleIncidents},
		{method: "POST", path: "/api/v1/incidents", tag: "incidents", perm: "incidents.create",
			summary: "Report an incident by hand (an agency officer's lands in their own agency)", body: jsonBody(CreateIncidentRequest{}),
			responses: errs(map[int]respSpec{201: {desc: "the incident", schema: incident.Incident{}}}), handler: s.handleCreateIncident},
		{method: "GET", path: "/api/v1/incidents/{id}", tag: "incidents", perm: "incidents.read",
			summary:   "One incident with its alerts, tasks, comments, observables, evidence, filings and deadlines; ETag is its version",
			params:    []param{id},
			responses: errs(map[int]respSpec{200: {desc: "the incident", schema: IncidentDetail{}}}), handler: s.handleIncident},
		{method: "PATCH", path: "/api/v1/incidents/{id}", tag: "incidents", perm: "incidents.write",
			summary: "Change an incident's fields; send the version read (in the body or If-Match), a stale one gets 412",
			params:  []param{id, {name: "If-Match", in: "header", typ: "string", desc: `the ETag read, e.g. "v3"`}}, body: jsonBody(store.IncidentPatch{}),
			responses: errs(map[int]respSpec{200: {desc: "the incident", schema: incident.Incident{}},
				412: {desc: "the incident changed since it was read", schema: errorBody{}}, 428: {desc: "no version sent", schema: errorBody{}}}),
			handler: s.handlePatchIncident},
		{method: "POST", path: "/api/v1/incidents/{id}/transition", tag: "incidents", perm: "incidents.transition",
			summary: "Move an incident to another state; who may make each move depends on the role (audited)",
			params:  []param{id}, body: jsonBody(TransitionRequest{}),
			responses: errs(map[int]respSpec{200: {desc: "the incident", schema: incident.Incident{}}, 409: {desc: "the lifecycle does not allow this move", schema: errorBody{}},
				412: {desc: "stale version", schema: errorBody{}}}),
			handler: s.handleTransition},
		{method: "POST", path: "/api/v1/incidents/{id}/assign", tag: "incidents", perm: "incidents.write",
			summary: "Assign an incident to a person and optionally a team", params: []param{id}, body: jsonBody(AssignRequest{}),
			responses: errs(map[int]respSpec{200: {desc: "the incident", schema: incident.Incident{}}}), handler: s.handleAssignIncident},
		{method: "POST", path: "/api/v1/incidents/{id}/merge", tag: "incidents", perm: "incidents.write",
			summary: "Merge other incidents into this one: their alerts and observables move here, they become duplicates",
			params:  []param{id}, body: jsonBody(MergeRequest{}),
			responses: errs(map[int]respSpec{200: {desc: "the merged incident", schema: incident.Incident{}}, 409: {desc: "an incident is closed or dismissed", schema: errorBody{}}}),
			handler:   s.handleMerge},
		{method: "POST", path: "/api/v1/incidents/{id}/split", tag: "incidents", perm: "incidents.write",
			summary: "Move some alerts of this incident into a new incident", params: []param{id}, body: jsonBody(SplitRequest{}),
			responses: errs(map[int]respSpec{201: {desc: "the new incident", schema: incident.Incident{}}, 409: {desc: "no alert would stay", schema: errorBody{}}}),
			handler:   s.handleSplit},
		{method: "GET", path: "/api/v1/incidents/{id}/timeline", tag: "incidents", perm: "incidents.read",
			summary: "Every change of the incident, oldest first (from the audit log)", params: []param{id},
			responses: errs(map[int]respSpec{200: {desc: "timeline", schema: []incident.Event{}}}), handler: s.handleTimeline},
		{method: "GET", path: "/api/v1/incidents/{id}/tasks", tag: "incidents", perm: "incidents.read", summary: "Tasks of the incident", params: []param{id},
			responses: errs(map[int]respSpec{200: {desc: "tasks", schema: []incident.Task{}}}), handler: s.handleTasks},
		{method: "POST", path: "/api/v1/incidents/{id}/tasks", tag: "incidents", perm: "incidents.write", summary: "Add a task with an owner and a due time",
			params: []param{id}, body: jsonBody(incident.Task{}),
			responses: errs(map[int]respSpec{201: {desc: "the task", schema: incident.Task{}}}), handler: s.handleAddTask},
		{method: "PATCH", path: "/api/v1/incidents/{id}/tasks/{task}", tag: "incidents", perm: "incidents.write", summary: "Change a task (title, owner, due, done)",
			params: []param{id, {name: "task", in: "path", typ: "string", required: true}}, body: jsonBody(incident.Task{}),
			responses: errs(map[int]respSpec{200: {desc: "the task", schema: incident.Task{}}}), handler: s.handleUpdateTask},
		{method: "GET", path: "/api/v1/incidents/{id}/comments", tag: "incidents", perm: "incidents.read", summary: "Comments on the incident", params: []param{id},
			responses: errs(map[int]respSpec{200: {desc: "comments", schema: []incident.Comment{}}}), handler: s.handleComments},
		{method: "POST", path: "/api/v1/incidents/{id}/comments", tag: "incidents", perm: "incidents.comment", summary: "Comment on the incident",
			params: []param{id}, body: jsonBody(incident.Comment{}),
			responses: errs(map[int]respSpec{201: {desc: "the comment", schema: incident.Comment{}}}), handler: s.handleAddComment},
		{method: "GET", path: "/api/v1/incidents/{id}/observables", tag: "incidents", perm: "incidents.read", summary: "Observables of the incident", params: []param{id},
			responses: errs(map[int]respSpec{200: {desc: "observables", schema: []incident.Observable{}}}), handler: s.handleObservables},
		{method: "POST", path: "/api/v1/incidents/{id}/observables", tag: "incidents", perm: "incidents.write",
			summary: "Add an observable (ip, domain, url, hash, account, host, email); the same one twice is stored once",
			params:  []param{id}, body: jsonBody(incident.Observable{}),
			responses: errs(map[int]respSpec{201: {desc: "the observable", schema: incident.Observable{}}}), handler: s.handleAddObservable},
		{method: "GET", path: "/api/v1/incidents/{id}/evidence", tag: "incidents", perm: "incidents.read", summary: "Evidence files of the incident", params: []param{id},
			responses: errs(map[int]respSpec{200: {desc: "evidence", schema: []incident.Evidence{}}}), handler: s.handleEvidence},
		{method: "POST", path: "/api/v1/incidents/{id}/evidence", tag: "incidents", perm: "incidents.write",
			summary: "Upload an evidence file (the raw body; name in the query); stored by its SHA-256",
			params:  []param{id, {name: "name", in: "query", typ: "string", required: true, desc: "file name"}},
			body:    &bodySpec{contentType: "application/octet-stream", desc: "the file"},
			responses: errs(map[int]respSpec{201: {desc: "the evidence record", schema: incident.Evidence{}},
				413: {desc: "file larger than the limit", schema: errorBody{}}}), handler: s.handleAddEvidence},
		{method: "GET", path: "/api/v1/incidents/{id}/evidence/{evidence}", tag: "incidents", perm: "incidents.read",
			summary: "Download an evidence file", params: []param{id, {name: "evidence", in: "path", typ: "string", required: true}},
			responses: errs(map[int]respSpec{200: {desc: "the file", contentType: "application/octet-stream"}}), handler: s.handleEvidenceContent},
		{method: "POST", path: "/api/v1/incidents/{id}/filings", tag: "incidents", perm: "incidents.write",
			summary: "Record that the report a legal obligation asks for was sent (stops its clock)", params: []param{id}, body: jsonBody(FilingRequest{}),
			responses: errs(map[int]respSpec{201: {desc: "the filing", schema: store.Filing{}}}), handler: s.handleAddFiling},
		{method: "GET", path: "/api/v1/alerts/{id}", tag: "alerts", perm: "alerts.read", summary: "One alert", params: []param{id},
			responses: errs(map[int]respSpec{200: {desc: "the alert", schema: alert.Alert{}}}), handler: s.handleAlert},
		{method: "POST", path: "/api/v1/alerts/{id}/acknowledge", tag: "alerts", perm: "alerts.write", summary: "Acknowledge an alert (audited)", params: []param{id},
			responses: errs(map[int]respSpec{200: {desc: "the alert", schema: alert.Alert{}}}), handler: s.handleAckAlert},
		{method: "POST", path: "/api/v1/alerts/{id}/assign", tag: "alerts", perm: "alerts.write", summary: "Assign an alert", params: []param{id},
			body: jsonBody(AssignRequest{}), responses: errs(map[int]respSpec{200: {desc: "the alert", schema: alert.Alert{}}}), handler: s.handleAssignAlert},
		{method: "POST", path: "/api/v1/alerts/{id}/attach", tag: "alerts", perm: "alerts.write", summary: "Move an alert into another open incident",
			params: []param{id}, body: jsonBody(AttachRequest{}),
			responses: errs(map[int]respSpec{200: {desc: "the alert", schema: alert.Alert{}}, 409: {desc: "the incident is closed", schema: errorBody{}}}),
			handler:   s.handleAttachAlert},
		{method: "POST", path: "/api/v1/alerts/{id}/suppress", tag: "alerts", perm: "rules.write",
			summary: "Suppress further alerts like this one: an exception for its rule and group-by values, with a reason and an expiry",
			params:  []param{id}, body: jsonBody(SuppressRequest{}),
			responses: errs(map[int]respSpec{201: {desc: "the exception", schema: exception.Exception{}}}), handler: s.handleSuppressAlert},
	}
}

func statesList() string {
	s := make([]string, len(incident.States))
	for i, st := range incident.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// decodeBody reads a JSON body (at most 1 MiB, unknown fields refused),
// answering 400 itself when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "decoding body: "+err.Error())
		return false
	}
	return true
}

// storeError answers a store error with its status code.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrForbidden):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, store.ErrStale):
		writeError(w, http.StatusPreconditionFailed, err.Error())
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		s.internalError(w, r, err)
	}
}

func (s *Server) handleIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.IncidentFilter{Tenant: principal(r).Tenant, Category: incident.Category(q.Get("category")), Assignee: q.Get("assignee"),
		RuleID: q.Get("rule_id"), Text: q.Get("q"), Sort: q.Get("sort"), Cursor: q.Get("cursor"), Open: q.Get("open") == "true"}
	var errs []error
	if v := q.Get("state"); v != "" {
		for st := range strings.SplitSeq(v, ",") {
			if !incident.State(st).Valid() {
				errs = append(errs, fmt.Errorf("state: unknown state %q (want %s)", st, statesList()))
			}
			f.States = append(f.States, incident.State(st))
		}
	}
	if !f.Category.Valid() {
		errs = append(errs, fmt.Errorf("category: unknown category %q", f.Category))
	}
	var err error
	if v := q.Get("min_severity"); v != "" {
		if f.MinSeverity, err = alert.ParseSeverity(v); err != nil {
			errs = append(errs, fmt.Errorf("min_severity: %w", err))
		}
	}
	now := time.Now()
	if f.MinPriority, err = queryInt(r, "min_priority", 0); err != nil {
		errs = append(errs, err)
	}
	if f.Since, err = queryTime(r, "since", now); err != nil {
		errs = append(errs, err)
	}
	if f.Until, err = queryTime(r, "until", now); err != nil {
		errs = append(errs, err)
	}
	if f.Limit, err = queryInt(r, "limit", 100); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, errors.Join(errs...).Error())
		return
	}
	page, err := s.deps.Store.Incidents(r.Context(), f)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	out := IncidentPage{Items: make([]IncidentSummary, len(page.Items)), Next: page.Next}
	ids := make([]string, len(page.Items))
	for i, inc := range page.Items {
		ids[i] = inc.ID
	}
	filings, err := s.deps.Store.Filings(r.Context(), f.Tenant, ids...)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	byIncident := map[string][]store.Filing{}
	for _, fl := range filings {
		byIncident[fl.IncidentID] = append(byIncident[fl.IncidentID], fl)
	}
	for i := range page.Items {
		out.Items[i].Incident = page.Items[i]
		for _, d := range s.deadlines(&page.Items[i], byIncident[page.Items[i].ID], now) {
			if d.Overdue {
				out.Items[i].Overdue = append(out.Items[i].Overdue, d.ID)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateIncident(w http.ResponseWriter, r *http.Request) {
	var req CreateIncidentRequest
	if !decodeBody(w, r, &req) {
		return
	}
	p := principal(r)
	tenant := p.Tenant
	switch {
	case tenant != "" && req.Tenant != "" && req.Tenant != tenant:
		writeError(w, http.StatusForbidden, "you may only report incidents of your own agency")
		return
	case tenant == "":
		tenant = req.Tenant
	}
	var errs []error
	if tenant == "" {
		errs = append(errs, errors.New("tenant: required for center-wide callers (the agency the incident belongs to)"))
	}
	if strings.TrimSpace(req.Title) == "" {
		errs = append(errs, errors.New("title: required"))
	}
	if req.Severity == 0 {
		errs = append(errs, errors.New("severity: required (informational, low, medium, high or critical)"))
	}
	if !req.Category.Valid() {
		errs = append(errs, fmt.Errorf("category: unknown category %q", req.Category))
	}
	inc := incident.Incident{Tenant: tenant, Title: req.Title, Description: req.Description, Category: req.Category, Severity: req.Severity,
		DetectedAt: req.DetectedAt.UTC(), Serious: req.Serious, NationalSecurity: req.NationalSecurity, SeriousDisruption: req.SeriousDisruption,
		PersonalData: req.PersonalData}
	if !req.DetectedAt.IsZero() && req.DetectedAt.After(time.Now().Add(5*time.Minute)) {
		errs = append(errs, errors.New("detected_at: in the future"))
	}
	for i, id := range req.Systems {
		sys, ok := s.system(tenant, id)
		if !ok {
			errs = append(errs, fmt.Errorf("systems[%d]: %q is not an information system of %s in the asset inventory", i, id, tenant))
			continue
		}
		inc.Systems = append(inc.Systems, sys)
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, errors.Join(errs...).Error())
		return
	}
	inc, err := s.deps.Store.CreateIncident(r.Context(), inc, p.Actor())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

// system looks an information system up in the asset inventory.
func (s *Server) system(tenant, id string) (incident.System, bool) {
	if s.deps.Assets == nil {
		return incident.System{}, false
	}
	return s.deps.Assets.System(tenant, id)
}

func etag(inc *incident.Incident) string { return `"v` + strconv.Itoa(inc.Version) + `"` }

func (s *Server) handleIncident(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	ctx := r.Context()
	inc, err := s.deps.Store.Incident(ctx, p.Tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	d := IncidentDetail{Incident: inc}
	if d.Alerts, err = s.deps.Store.Alerts(ctx, store.AlertFilter{Tenant: inc.Tenant, IncidentID: inc.ID, Limit: 1000}); err == nil {
		d.Tasks, err = s.deps.Store.Tasks(ctx, inc.Tenant, inc.ID)
	}
	if err == nil {
		d.Comments, err = s.deps.Store.Comments(ctx, inc.Tenant, inc.ID)
	}
	if err == nil {
		d.Observables, err = s.deps.Store.Observables(ctx, inc.Tenant, inc.ID)
	}
	if err == nil {
		d.Evidence, err = s.deps.Store.Evidence(ctx, inc.Tenant, inc.ID)
	}
	if err == nil {
		d.Filings, err = s.deps.Store.Filings(ctx, inc.Tenant, inc.ID)
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	d.Deadlines = s.deadlines(&inc, d.Filings, time.Now())
	d.NextStates = incident.Next(inc.State, p.Role)
	if d.NextStates == nil {
		d.NextStates = []incident.State{}
	}
	w.Header().Set("ETag", etag(&inc))
	writeJSON(w, http.StatusOK, d)
}

// version reads the version a write is based on: the body's, else If-Match.
func version(r *http.Request, body int) (int, bool) {
	if body > 0 {
		return body, true
	}
	m := strings.Trim(strings.TrimPrefix(r.Header.Get("If-Match"), "W/"), `"`)
	if v, err := strconv.Atoi(strings.TrimPrefix(m, "v")); err == nil && v > 0 {
		return v, true
	}
	return 0, false
}

func (s *Server) handlePatchIncident(w http.ResponseWriter, r *http.Request) {
	var patch store.IncidentPatch
	if !decodeBody(w, r, &patch) {
		return
	}
	v, ok := version(r, patch.Version)
	if !ok {
		writeError(w, http.StatusPreconditionRequired, "send the version you read, in the body (version) or as If-Match")
		return
	}
	patch.Version = v
	var errs []error
	if patch.Category != nil && !patch.Category.Valid() {
		errs = append(errs, fmt.Errorf("category: unknown category %q", *patch.Category))
	}
	if patch.Title != nil && strings.TrimSpace(*patch.Title) == "" {
		errs = append(errs, errors.New("title: must not be empty"))
	}
	p := principal(r)
	if patch.Systems != nil {
		// Systems come from the inventory: only ids are trusted.
		var resolved []incident.System
		inc, err := s.deps.Store.Incident(r.Context(), p.Tenant, r.PathValue("id"))
		if err != nil {
			s.storeError(w, r, err)
			return
		}
		for i, sys := range *patch.Systems {
			got, ok := s.system(inc.Tenant, sys.ID)
			if !ok {
				errs = append(errs, fmt.Errorf("systems[%d]: %q is not an information system of %s in the asset inventory", i, sys.ID, inc.Tenant))
				continue
			}
			resolved = append(resolved, got)
		}
		patch.Systems = &resolved
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, errors.Join(errs...).Error())
		return
	}
	inc, err := s.deps.Store.UpdateIncident(r.Context(), p.Tenant, r.PathValue("id"), patch, p.Actor())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(&inc))
	writeJSON(w, http.StatusOK, inc)
}

func (s *Server) handleTransition(w http.ResponseWriter, r *http.Request) {
	var req TransitionRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !req.State.Valid() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("state: unknown state %q (want %s)", req.State, statesList()))
		return
	}
	p := principal(r)
	inc, err := s.deps.Store.TransitionIncident(r.Context(), p.Tenant, r.PathValue("id"), req.State, p.Role, req.Version, req.DuplicateOf, req.Reason, p.Actor())
	if err == nil && req.Assignee != "" && req.Assignee != inc.Assignee {
		inc, err = s.deps.Store.UpdateIncident(r.Context(), p.Tenant, inc.ID, store.IncidentPatch{Version: inc.Version, Assignee: &req.Assignee}, p.Actor())
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(&inc))
	writeJSON(w, http.StatusOK, inc)
}

func (s *Server) handleAssignIncident(w http.ResponseWriter, r *http.Request) {
	var req AssignRequest
	if !decodeBody(w, r, &req) {
		return
	}
	p := principal(r)
	// Assignment carries its own intent; it is applied to the current
	// version (retried once if another change lands in between).
	var inc incident.Incident
	var err error
	for range 2 {
		if inc, err = s.deps.Store.Incident(r.Context(), p.Tenant, r.PathValue("id")); err != nil {
			break
		}
		inc, err = s.deps.Store.UpdateIncident(r.Context(), p.Tenant, inc.ID, store.IncidentPatch{Version: inc.Version, Assignee: &req.Assignee, Team: req.Team}, p.Actor())
		if !errors.Is(err, store.ErrStale) {
			break
		}
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (s *Server) handleMerge(w http.ResponseWriter, r *http.Request) {
	act(s, w, r, http.StatusOK, func(p principalInfo, req *MergeRequest) (incident.Incident, error) {
		return s.deps.Store.MergeIncidents(r.Context(), p.tenant, p.incident, req.Sources, p.actor)
	})
}

func (s *Server) handleSplit(w http.ResponseWriter, r *http.Request) {
	act(s, w, r, http.StatusCreated, func(p principalInfo, req *SplitRequest) (incident.Incident, error) {
		return s.deps.Store.SplitIncident(r.Context(), p.tenant, p.incident, req.AlertIDs, req.Title, p.actor)
	})
}

func (s *Server) handleTimeline(w http.ResponseWriter, r *http.Request) {
	tl, err := s.deps.Store.Timeline(r.Context(), principal(r).Tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tl)
}

// list answers a GET of items of an incident.
func list[T any](s *Server, w http.ResponseWriter, r *http.Request, fn func(tenant, id string) ([]T, error)) {
	items, err := fn(principal(r).Tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) handleTasks(w http.ResponseWriter, r *http.Request) {
	list(s, w, r, func(t, id string) ([]incident.Task, error) { return s.deps.Store.Tasks(r.Context(), t, id) })
}

func (s *Server) handleComments(w http.ResponseWriter, r *http.Request) {
	list(s, w, r, func(t, id string) ([]incident.Comment, error) { return s.deps.Store.Comments(r.Context(), t, id) })
}

func (s *Server) handleObservables(w http.ResponseWriter, r *http.Request) {
	list(s, w, r, func(t, id string) ([]incident.Observable, error) { return s.deps.Store.Observables(r.Context(), t, id) })
}

func (s *Server) handleEvidence(w http.ResponseWriter, r *http.Request) {
	list(s, w, r, func(t, id string) ([]incident.Evidence, error) { return s.deps.Store.Evidence(r.Context(), t, id) })
}

// add answers a POST that creates an item of an incident.
func add[T, R any](s *Server, w http.ResponseWriter, r *http.Request, fn func(p principalInfo, v *T) (R, error)) {
	act(s, w, r, http.StatusCreated, fn)
}

// act decodes the body into a T, runs fn for the caller on the object of the
// path's {id}, and answers its result with code (or the store error).
func act[T, R any](s *Server, w http.ResponseWriter, r *http.Request, code int, fn func(p principalInfo, v *T) (R, error)) {
	var v T
	if !decodeBody(w, r, &v) {
		return
	}
	p := principal(r)
	out, err := fn(principalInfo{tenant: p.Tenant, actor: p.Actor(), incident: r.PathValue("id")}, &v)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, code, out)
}

// principalInfo is the caller's tenant and audit name, and the path's {id}
// (an incident or an alert).
type principalInfo struct{ tenant, actor, incident string }

func (s *Server) handleAddTask(w http.ResponseWriter, r *http.Request) {
	add(s, w, r, func(p principalInfo, t *incident.Task) (incident.Task, error) {
		t.IncidentID, t.Done = p.incident, false
		return s.deps.Store.AddTask(r.Context(), p.tenant, *t, p.actor)
	})
}

func (s *Server) handleUpdateTask(w http.ResponseWriter, r *http.Request) {
	var t incident.Task
	if !decodeBody(w, r, &t) {
		return
	}
	p := principal(r)
	t.ID, t.IncidentID = r.PathValue("task"), r.PathValue("id")
	out, err := s.deps.Store.UpdateTask(r.Context(), p.Tenant, t, p.Actor())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAddComment(w http.ResponseWriter, r *http.Request) {
	add(s, w, r, func(p principalInfo, c *incident.Comment) (incident.Comment, error) {
		c.IncidentID, c.Author = p.incident, p.actor
		return s.deps.Store.AddComment(r.Context(), p.tenant, *c, p.actor)
	})
}

func (s *Server) handleAddObservable(w http.ResponseWriter, r *http.Request) {
	add(s, w, r, func(p principalInfo, o *incident.Observable) (incident.Observable, error) {
		o.IncidentID = p.incident
		return s.deps.Store.AddObservable(r.Context(), p.tenant, *o, p.actor)
	})
}

func (s *Server) handleAddFiling(w http.ResponseWriter, r *http.Request) {
	add(s, w, r, func(p principalInfo, f *FilingRequest) (store.Filing, error) {
		if f.At.After(time.Now().Add(5 * time.Minute)) {
			return store.Filing{}, fmt.Errorf("%w: at: in the future", store.ErrInvalid)
		}
		if !s.knownObligation(f.Obligation) {
			return store.Filing{}, fmt.Errorf("%w: obligation %q is not a rule of the legal clock", store.ErrInvalid, f.Obligation)
		}
		return s.deps.Store.AddFiling(r.Context(), p.tenant, store.Filing{IncidentID: p.incident, Obligation: f.Obligation, At: f.At.UTC(),
			Channel: f.Channel, Reference: f.Reference, Actor: p.actor})
	})
}

func (s *Server) handleAddEvidence(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	name := r.URL.Query().Get("name")
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\\x00") {
		writeError(w, http.StatusBadRequest, "name: required, a file name without path separators, at most 255 bytes")
		return
	}
	if s.deps.Evidence == nil {
		writeError(w, http.StatusServiceUnavailable, "no evidence store configured")
		return
	}
	// Check the incident before taking the upload.
	inc, err := s.deps.Store.Incident(r.Context(), p.Tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	sum, size, err := s.deps.Evidence.Put(r.Body)
	if errors.Is(err, blob.ErrTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	mt := r.Header.Get("Content-Type")
	if _, _, err := mime.ParseMediaType(mt); err != nil {
		mt = "application/octet-stream"
	}
	ev, err := s.deps.Store.AddEvidence(r.Context(), inc.Tenant, incident.Evidence{IncidentID: inc.ID, Name: name, SHA256: sum, Size: size, MediaType: mt}, p.Actor())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ev)
}

func (s *Server) handleEvidenceContent(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	list, err := s.deps.Store.Evidence(r.Context(), p.Tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	for _, e := range list {
		if e.ID != r.PathValue("evidence") {
			continue
		}
		f, err := s.deps.Evidence.Open(e.SHA256)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": e.Name}))
		w.Header().Set("X-Content-SHA256", e.SHA256)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", e.Created, f)
		return
	}
	writeError(w, http.StatusNotFound, "no evidence "+r.PathValue("evidence"))
}

func (s *Server) handleAlert(w http.ResponseWriter, r *http.Request) {
	a, err := s.deps.Store.Alert(r.Context(), principal(r).Tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleAckAlert(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	a, err := s.deps.Store.UpdateAlert(r.Context(), p.Tenant, r.PathValue("id"), true, nil, p.Actor())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleAssignAlert(w http.ResponseWriter, r *http.Request) {
	act(s, w, r, http.StatusOK, func(p principalInfo, req *AssignRequest) (alert.Alert, error) {
		return s.deps.Store.UpdateAlert(r.Context(), p.tenant, p.incident, false, &req.Assignee, p.actor)
	})
}

func (s *Server) handleAttachAlert(w http.ResponseWriter, r *http.Request) {
	act(s, w, r, http.StatusOK, func(p principalInfo, req *AttachRequest) (alert.Alert, error) {
		return s.deps.Store.AttachAlert(r.Context(), p.tenant, p.incident, req.IncidentID, p.actor)
	})
}

func (s *Server) handleSuppressAlert(w http.ResponseWriter, r *http.Request) {
	var req SuppressRequest
	if !decodeBody(w, r, &req) {
		return
	}
	p := principal(r)
	a, err := s.deps.Store.Alert(r.Context(), p.Tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	ttl, err := time.ParseDuration(req.TTL)
	if err != nil || ttl <= 0 {
		writeError(w, http.StatusBadRequest, "ttl: required, a duration like 720h")
		return
	}
	match := req.Match
	if len(match) == 0 {
		match = map[string][]string{}
		for _, kv := range a.GroupBy {
			match[kv.Field] = append(match[kv.Field], kv.Value)
		}
	}
	now := time.Now().UTC()
	e := exception.Exception{ID: exception.NewID(), Tenant: a.Tenant, RuleID: a.RuleID, Match: match, Owner: p.Name, Reason: req.Reason,
		Expires: now.Add(ttl), Created: now, CreatedBy: p.Actor()}
	if err := e.Validate(now); err != nil {
		writeError(w, http.StatusBadRequest, err.Error()+" (an alert without group-by values needs match)")
		return
	}
	s.createException(w, r, e, p.Actor())
}
