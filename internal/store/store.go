// Package store is the contract for Mangrove's case data: alerts, the
// incidents they are grouped into, and the hash-chained audit log. The
// embedded implementation is in store/sqlite; a PostgreSQL one sits behind the
// same interface for scale-out.
//
// Every read takes the tenant from the caller (the authenticated user's
// agency); the empty tenant means "all tenants" and is only passed for
// center-wide roles.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/detections/exception"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/audit"
)

// ErrNotFound is returned when the object does not exist for this tenant.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a state change is not possible.
var ErrConflict = errors.New("conflict")

// ErrInvalid is returned when a request is malformed (bad cursor, missing
// field); the message says what.
var ErrInvalid = errors.New("invalid")

// ErrForbidden is returned when the caller's role may not make a change.
var ErrForbidden = errors.New("forbidden")

// AlertFilter selects alerts; zero fields do not filter.
type AlertFilter struct {
	Tenant      string
	RuleID      string
	IncidentID  string
	Status      string // "new" or "acknowledged"
	MinSeverity alert.Severity
	Since       time.Time
	Limit       int // default 100, at most 1000
	Offset      int // alerts to skip, for paging
	// After continues a listing after the alert it names, in the listing's
	// order (newest first, then by id): unlike Offset, pages stay exact
	// while new alerts arrive.
	After *AlertCursor
}

// PageSize is the number of alerts a listing returns at most: Limit, 100
// when it is not positive, 1000 at most.
func (f AlertFilter) PageSize() int {
	switch {
	case f.Limit <= 0:
		return 100
	case f.Limit > 1000:
		return 1000
	}
	return f.Limit
}

// AlertCursor names a place in the alerts listing: an alert's time and id.
type AlertCursor struct {
	Time time.Time
	ID   string
}

// IncidentFilter selects and orders incidents; zero fields do not filter.
type IncidentFilter struct {
	Tenant      string
	States      []incident.State
	Open        bool // only states that are not terminal
	Category    incident.Category
	Assignee    string
	MinSeverity alert.Severity
	MinPriority int
	RuleID      string
	Since       time.Time // detected at or after
	Until       time.Time // detected before
	Text        string    // substring of the title (case-insensitive)
	// Sort is one of "updated" (default), "created", "detected", "priority",
	// "severity"; newest or highest first ("-" prefix allowed), "+" prefix
	// for ascending.
	Sort string
	// Cursor continues a listing where the previous page ended (Page.Next).
	Cursor string
	Limit  int // default 100, at most 1000
}

// Page is one page of a listing.
type Page[T any] struct {
	Items []T `json:"items"`
	// Next is the cursor of the following page; empty on the last one.
	Next string `json:"next,omitempty"`
}

// IncidentPatch changes an incident's fields; nil fields stay as they are.
// Version must be the version the caller read: a stale one is refused with
// ErrStale.
type IncidentPatch struct {
	Version           int                `json:"version"`
	Title             *string            `json:"title,omitempty"`
	Description       *string            `json:"description,omitempty"`
	Category          *incident.Category `json:"category,omitempty"`
	Severity          *alert.Severity    `json:"severity,omitempty"`
	Assignee          *string            `json:"assignee,omitempty"`
	Team              *string            `json:"team,omitempty"`
	Systems           *[]incident.System `json:"systems,omitempty"`
	Serious           *bool              `json:"serious,omitempty"`
	NationalSecurity  *bool              `json:"national_security,omitempty"`
	SeriousDisruption *bool              `json:"serious_disruption,omitempty"`
	PersonalData      *[]string          `json:"personal_data,omitempty"`
}

// Filing records that the report a legal obligation asks for was sent.
type Filing struct {
	IncidentID string    `json:"incident_id"`
	Obligation string    `json:"obligation"` // a clock rule id, e.g. d331-serious-initial-24h
	At         time.Time `json:"at"`
	Channel    string    `json:"channel,omitempty"`
	Reference  string    `json:"reference,omitempty"` // document number, portal reference
	Actor      string    `json:"actor"`
}

// ErrStale is returned when a write carries an outdated version.
var ErrStale = errors.New("the incident changed since it was read (stale version)")

// Grouper decides which alerts share an incident (incidents/grouping).
type Grouper interface {
	Group(a *alert.Alert) (key string, window time.Duration)
}

// AssetMatcher finds the information systems an alert touches
// (incidents/asset).
type AssetMatcher interface {
	Systems(a *alert.Alert) []incident.System
}

// Store holds case data. Implementations are safe for concurrent use.
type Store interface {
	// IngestAlerts stores alerts and groups each new one into the open
	// incident with the same grouping key (Grouper) whose last alert is
	// within the key's window, or opens an incident (audited as
	// "incident.open"; joins are audited once per incident and batch as
	// "incident.alerts_joined"). Alerts whose ID is already stored are
	// skipped, so redelivery never duplicates. It returns how many were new.
	// All of it happens in one transaction.
	IngestAlerts(ctx context.Context, alerts []alert.Alert) (int, error)
	Alerts(ctx context.Context, f AlertFilter) ([]alert.Alert, error)
	// Alert returns one alert of the tenant, or ErrNotFound.
	Alert(ctx context.Context, tenant, id string) (alert.Alert, error)
	// UpdateAlert acknowledges and/or assigns an alert, audited.
	UpdateAlert(ctx context.Context, tenant, id string, acknowledge bool, assignee *string, actor string) (alert.Alert, error)
	// AttachAlert moves an alert into another open incident of its tenant.
	AttachAlert(ctx context.Context, tenant, alertID, incidentID, actor string) (alert.Alert, error)
	Incidents(ctx context.Context, f IncidentFilter) (Page[incident.Incident], error)
	// Incident returns one incident of the tenant, or ErrNotFound.
	Incident(ctx context.Context, tenant, id string) (incident.Incident, error)
	// CreateIncident stores an incident reported by hand.
	CreateIncident(ctx context.Context, inc incident.Incident, actor string) (incident.Incident, error)
	// UpdateIncident applies a patch, checking the version.
	UpdateIncident(ctx context.Context, tenant, id string, p IncidentPatch, actor string) (incident.Incident, error)
	// TransitionIncident moves an incident to a new state for a caller with
	// role (incident.Transition decides: ErrConflict wraps an impossible
	// move, ErrForbidden one the role may not make). version 0 skips the
	// version check. Moving to duplicate needs duplicateOf.
	TransitionIncident(ctx context.Context, tenant, id string, to incident.State, role string, version int, duplicateOf, reason, actor string) (incident.Incident, error)
	// MergeIncidents moves every alert and observable of the sources into
	// target and marks the sources duplicates of it.
	MergeIncidents(ctx context.Context, tenant, target string, sources []string, actor string) (incident.Incident, error)
	// SplitIncident moves the given alerts of an incident into a new
	// incident, returned.
	SplitIncident(ctx context.Context, tenant, id string, alertIDs []string, title, actor string) (incident.Incident, error)
	// Item operations on an incident's tasks, comments, observables,
	// evidence and filings; all audited with the incident as object.
	AddTask(ctx context.Context, tenant string, t incident.Task, actor string) (incident.Task, error)
	UpdateTask(ctx context.Context, tenant string, t incident.Task, actor string) (incident.Task, error)
	Tasks(ctx context.Context, tenant, incidentID string) ([]incident.Task, error)
	AddComment(ctx context.Context, tenant string, c incident.Comment, actor string) (incident.Comment, error)
	Comments(ctx context.Context, tenant, incidentID string) ([]incident.Comment, error)
	AddObservable(ctx context.Context, tenant string, o incident.Observable, actor string) (incident.Observable, error)
	Observables(ctx context.Context, tenant, incidentID string) ([]incident.Observable, error)
	AddEvidence(ctx context.Context, tenant string, e incident.Evidence, actor string) (incident.Evidence, error)
	Evidence(ctx context.Context, tenant, incidentID string) ([]incident.Evidence, error)
	AddFiling(ctx context.Context, tenant string, f Filing) (Filing, error)
	Filings(ctx context.Context, tenant string, incidentIDs ...string) ([]Filing, error)
	// Timeline returns the audit entries about an incident, oldest first.
	Timeline(ctx context.Context, tenant, incidentID string) ([]incident.Event, error)
	// IncidentsBetween returns every incident of the tenant detected in
	// [from, to), for metrics and summaries.
	IncidentsBetween(ctx context.Context, tenant string, from, to time.Time) ([]incident.Incident, error)
	// CreateException stores a rule exception (validated by the caller) and
	// audits it as "exception.create" by actor.
	CreateException(ctx context.Context, e exception.Exception, actor string) error
	// RevokeException ends an exception of the tenant ("" = any) now, audited
	// as "exception.revoke"; ErrNotFound when there is no such active one.
	RevokeException(ctx context.Context, tenant, id, actor string) (exception.Exception, error)
	// Exceptions lists the tenant's exceptions ("" = all) and those of all
	// tenants, active first; inactive ones only when all is set.
	Exceptions(ctx context.Context, tenant string, all bool) ([]exception.Exception, error)
	// AuditLog calls fn for every audit entry in sequence order until fn
	// returns an error.
	AuditLog(ctx context.Context, fn func(*audit.Entry) error) error
	Ping(ctx context.Context) error
	Close() error
}
