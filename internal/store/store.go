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

// ErrConflict is returned when a state change is not allowed.
var ErrConflict = errors.New("conflict")

// AlertFilter selects alerts; zero fields do not filter.
type AlertFilter struct {
	Tenant      string
	RuleID      string
	IncidentID  string
	MinSeverity alert.Severity
	Since       time.Time
	Limit       int // default 100, at most 1000
	Offset      int // alerts to skip, for paging
}

// IncidentFilter selects incidents; zero fields do not filter.
type IncidentFilter struct {
	Tenant string
	State  incident.State
	Limit  int // default 100, at most 1000
}

// Store holds case data. Implementations are safe for concurrent use.
type Store interface {
	// IngestAlerts stores alerts and groups each new one into the open
	// incident of the same tenant, rule and group key, or opens an incident
	// (audited as "incident.open"). Alerts whose ID is already stored are
	// skipped, so redelivery never duplicates. It returns how many were new.
	// All of it happens in one transaction.
	IngestAlerts(ctx context.Context, alerts []alert.Alert) (int, error)
	Alerts(ctx context.Context, f AlertFilter) ([]alert.Alert, error)
	Incidents(ctx context.Context, f IncidentFilter) ([]incident.Incident, error)
	// Incident returns one incident of the tenant, or ErrNotFound.
	Incident(ctx context.Context, tenant, id string) (incident.Incident, error)
	// TransitionIncident moves an incident to a new state (incident.Transition
	// decides, ErrConflict wraps its refusal), optionally setting the
	// assignee, and audits the change with actor.
	TransitionIncident(ctx context.Context, tenant, id string, to incident.State, assignee, actor string) (incident.Incident, error)
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
