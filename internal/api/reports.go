package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/incidents/clock"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/incidents/report"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// Deadline is one clock (SLA or legal) running on an incident.
type Deadline = clock.Deadline

// Clock computes an incident's deadlines (incidents/clock).
type Clock interface {
	Deadlines(inc *incident.Incident, filed []clock.Filing, now time.Time) []clock.Deadline
	Rules() []clock.Rule
}

// SystemLookup finds an information system of a tenant in the asset
// inventory by its id.
type SystemLookup interface {
	System(tenant, id string) (incident.System, bool)
}

// ReportConfig is what reports to the authority print about the sender.
type ReportConfig struct {
	// Sender is the center (or agency) sending the reports.
	Sender report.Org `yaml:"sender"`
	// Recipient overrides the default recipient of incident reports.
	Recipient string `yaml:"recipient"`
	// SummaryRecipient receives quarterly and annual summaries.
	SummaryRecipient string `yaml:"summary_recipient"`
	// TenantNames maps tenant ids to agency names in reports.
	TenantNames map[string]string `yaml:"tenant_names"`
}

// vietnam is the time zone of report periods.
var vietnam = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return l
	}
	return time.FixedZone("ICT", 7*3600)
}()

func (s *Server) reportRoutes() []route {
	id := param{name: "id", in: "path", typ: "string", required: true}
	kind := param{name: "kind", in: "path", typ: "string", required: true, desc: "notice, initial, report_72h, closing or pdp_breach"}
	format := param{name: "format", in: "query", typ: "string", desc: "html (default) or pdf"}
	doc := map[int]respSpec{200: {desc: "the document (text/html or application/pdf)", contentType: "text/html"},
		400: {desc: "unknown kind or format, or missing fields", schema: errorBody{}}, 404: {desc: "no such incident for this tenant", schema: errorBody{}}}
	return []route{
		{method: "GET", path: "/api/v1/incidents/{id}/deadlines", tag: "incidents", perm: "incidents.read",
			summary: "The SLA and legal clocks running on an incident: due times, met and overdue flags, legal basis", params: []param{id},
			responses: map[int]respSpec{200: {desc: "deadlines, soonest first", schema: []Deadline{}}, 404: {desc: "no such incident", schema: errorBody{}}},
			handler:   s.handleDeadlines},
		{method: "GET", path: "/api/v1/incidents/{id}/reports/{kind}", tag: "reports", perm: "reports.read",
			summary: "An incident's report to the authority, in Vietnamese, from what is recorded", params: []param{id, kind, format},
			responses: doc, handler: s.handleReport},
		{method: "POST", path: "/api/v1/incidents/{id}/reports/{kind}", tag: "reports", perm: "reports.read",
			summary: "An incident's report with the narrative the analyst writes (impact, cause, measures, result, recommendations…)",
			params:  []param{id, kind, format}, body: &bodySpec{contentType: "application/json", schema: report.Input{}},
			responses: doc, handler: s.handleReport},
		{method: "GET", path: "/api/v1/metrics/incidents", tag: "reports", perm: "metrics.read",
			summary: "Incident counts and MTTA, MTTC, MTTR per agency for a period",
			params: []param{{name: "period", in: "query", typ: "string", desc: "2026, 2026-Q4, or from/to"},
				{name: "from", in: "query", typ: "string"}, {name: "to", in: "query", typ: "string"}},
			responses: map[int]respSpec{200: {desc: "the statistics", schema: report.Summary{}}, 400: {desc: "bad period", schema: errorBody{}}},
			handler:   s.handleIncidentMetrics},
		{method: "GET", path: "/api/v1/reports/summary", tag: "reports", perm: "reports.read",
			summary:   "The quarterly or annual summary report (Báo cáo tổng hợp) in Vietnamese",
			params:    []param{{name: "period", in: "query", typ: "string", required: true, desc: "2026-Q4 (quarterly) or 2026 (annual)"}, format},
			responses: map[int]respSpec{200: {desc: "the document", contentType: "text/html"}, 400: {desc: "bad period", schema: errorBody{}}},
			handler:   s.handleSummaryReport},
		{method: "GET", path: "/api/v1/clock/rules", tag: "reports", perm: "incidents.read",
			summary:   "The legal deadline rules in force, each with its legal basis and confidence",
			responses: map[int]respSpec{200: {desc: "rules", schema: []clock.Rule{}}}, handler: s.handleClockRules},
		{method: "GET", path: "/api/v1/audit", tag: "audit", perm: "audit.read",
			summary: "Audit log entries in sequence order (a tenant-bound caller sees its tenant's only)",
			params: []param{{name: "after", in: "query", typ: "integer", desc: "sequence number to start after"},
				{name: "limit", in: "query", typ: "integer", desc: "default 100, at most 1000"}},
			responses: map[int]respSpec{200: {desc: "entries", schema: []audit.Entry{}}}, handler: s.handleAudit},
	}
}

// deadlines computes an incident's clocks; none without a clock.
func (s *Server) deadlines(inc *incident.Incident, filings []store.Filing, now time.Time) []Deadline {
	if s.deps.Clock == nil {
		return []Deadline{}
	}
	filed := make([]clock.Filing, len(filings))
	for i, f := range filings {
		filed[i] = clock.Filing{Obligation: f.Obligation, At: f.At, Reference: f.Reference}
	}
	out := s.deps.Clock.Deadlines(inc, filed, now)
	if out == nil {
		out = []Deadline{}
	}
	return out
}

// knownObligation reports whether id is a rule of the legal clock.
func (s *Server) knownObligation(id string) bool {
	if s.deps.Clock == nil {
		return false
	}
	for _, r := range s.deps.Clock.Rules() {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (s *Server) handleDeadlines(w http.ResponseWriter, r *http.Request) {
	tenant := principal(r).Tenant
	inc, err := s.deps.Store.Incident(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	filings, err := s.deps.Store.Filings(r.Context(), inc.Tenant, inc.ID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.deadlines(&inc, filings, time.Now()))
}

func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	var in report.Input
	if r.Method == http.MethodPost && !decodeBody(w, r, &in) {
		return
	}
	ctx := r.Context()
	inc, err := s.deps.Store.Incident(ctx, principal(r).Tenant, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	// What the store records always wins over the body.
	in.Incident = inc
	if in.Observables, err = s.deps.Store.Observables(ctx, inc.Tenant, inc.ID); err == nil {
		if in.Tasks, err = s.deps.Store.Tasks(ctx, inc.Tenant, inc.ID); err == nil {
			in.Timeline, err = s.deps.Store.Timeline(ctx, inc.Tenant, inc.ID)
		}
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	in.Comments = nil // internal notes stay internal
	in.Sender = s.deps.Reports.Sender
	if in.Recipient == "" {
		in.Recipient = s.deps.Reports.Recipient
	}
	in.GeneratedAt = time.Now()
	format := report.Format(r.URL.Query().Get("format"))
	if format == "" {
		format = report.HTML
	}
	var buf bytes.Buffer
	err = report.Render(&buf, report.Kind(r.PathValue("kind")), format, in)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeDocument(w, format, inc.ID+"-"+r.PathValue("kind"), buf.Bytes())
}

func writeDocument(w http.ResponseWriter, format report.Format, name string, b []byte) {
	ct := "text/html; charset=utf-8"
	if format == report.PDF {
		ct = "application/pdf"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `inline; filename="`+name+"."+string(format)+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// period reads ?period=2026 | 2026-Q4, or ?from=&to=; it returns the kind of
// summary it names.
func period(r *http.Request) (from, to time.Time, kind report.Kind, err error) {
	q := r.URL.Query()
	if p := q.Get("period"); p != "" {
		y, qs, quarterly := strings.Cut(strings.ToUpper(p), "-Q")
		year, err := strconv.Atoi(y)
		if err != nil || year < 2000 || year > 2100 {
			return from, to, "", fmt.Errorf("period: want YYYY or YYYY-QN, got %q", p)
		}
		if !quarterly {
			from, to = report.Year(year, vietnam)
			return from, to, report.Annual, nil
		}
		n, err := strconv.Atoi(qs)
		if err != nil {
			return from, to, "", fmt.Errorf("period: want YYYY or YYYY-QN, got %q", p)
		}
		from, to, err = report.Quarter(year, n, vietnam)
		if err != nil {
			return from, to, "", fmt.Errorf("period: %w", err)
		}
		return from, to, report.Quarterly, nil
	}
	now := time.Now()
	if from, err = queryTime(r, "from", now); err != nil {
		return
	}
	if to, err = queryTime(r, "to", now); err != nil {
		return
	}
	if from.IsZero() {
		return from, to, "", errors.New("period: give period=YYYY|YYYY-QN or from (and to)")
	}
	if to.IsZero() {
		to = now
	}
	if !to.After(from) {
		return from, to, "", errors.New("period: to must be after from")
	}
	return from, to, "", nil
}

func (s *Server) handleIncidentMetrics(w http.ResponseWriter, r *http.Request) {
	from, to, _, err := period(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	incs, err := s.deps.Store.IncidentsBetween(r.Context(), principal(r).Tenant, from, to)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, report.Summarize(incs, from, to))
}

func (s *Server) handleSummaryReport(w http.ResponseWriter, r *http.Request) {
	from, to, kind, err := period(r)
	if err == nil && kind == "" {
		err = errors.New("period: want YYYY (annual) or YYYY-QN (quarterly)")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	incs, err := s.deps.Store.IncidentsBetween(r.Context(), principal(r).Tenant, from, to)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	format := report.Format(r.URL.Query().Get("format"))
	if format == "" {
		format = report.HTML
	}
	recipient := s.deps.Reports.SummaryRecipient
	if recipient == "" {
		recipient = s.deps.Reports.Recipient
	}
	if recipient == "" {
		recipient = "Công an tỉnh"
	}
	var buf bytes.Buffer
	if err := report.RenderSummary(&buf, format, report.SummaryInput{Kind: kind, Summary: report.Summarize(incs, from, to),
		Sender: s.deps.Reports.Sender, Recipient: recipient, TenantNames: s.deps.Reports.TenantNames, GeneratedAt: time.Now()}); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeDocument(w, format, "bao-cao-tong-hop-"+r.URL.Query().Get("period"), buf.Bytes())
}

func (s *Server) handleClockRules(w http.ResponseWriter, r *http.Request) {
	if s.deps.Clock == nil {
		writeJSON(w, http.StatusOK, []clock.Rule{})
		return
	}
	writeJSON(w, http.StatusOK, s.deps.Clock.Rules())
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	after, err := queryInt(r, "after", 0)
	if err == nil {
		var n int
		if n, err = queryInt(r, "limit", 100); err == nil {
			tenant := principal(r).Tenant
			limit := min(max(n, 1), 1000)
			out := []audit.Entry{}
			errDone := errors.New("done")
			err = s.deps.Store.AuditLog(r.Context(), func(e *audit.Entry) error {
				if e.Seq <= int64(after) || (tenant != "" && e.Tenant != tenant) {
					return nil
				}
				out = append(out, *e)
				if len(out) == limit {
					return errDone
				}
				return nil
			})
			if errors.Is(err, errDone) || err == nil {
				writeJSON(w, http.StatusOK, out)
				return
			}
			s.internalError(w, r, err)
			return
		}
	}
	writeError(w, http.StatusBadRequest, err.Error())
}
