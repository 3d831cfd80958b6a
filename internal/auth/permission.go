package auth

import "slices"

// Permission is one kind of action a principal may be allowed. Tenant scoping
// is separate: a permission is always exercised within Principal.Tenant when
// it is set.
type Permission string

// Permissions.
const (
	PermEventsWrite         Permission = "events.write"         // send events
	PermEventsRead          Permission = "events.read"          // search events
	PermAlertsRead          Permission = "alerts.read"          // list and read alerts
	PermAlertsWrite         Permission = "alerts.write"         // acknowledge, assign, attach to an incident, suppress
	PermIncidentsRead       Permission = "incidents.read"       // list and read incidents with their timeline
	PermIncidentsCreate     Permission = "incidents.create"     // report an incident by hand
	PermIncidentsWrite      Permission = "incidents.write"      // edit fields, assign, tasks, observables, evidence
	PermIncidentsComment    Permission = "incidents.comment"    // add comments
	PermIncidentsTransition Permission = "incidents.transition" // change state; incident.Transition then decides per role
	PermReportsRead         Permission = "reports.read"         // read and export reports
	PermMetricsRead         Permission = "metrics.read"         // read SOC metrics (MTTD, MTTR, ...)
	PermRulesRead           Permission = "rules.read"           // list rules and exceptions
	PermRulesWrite          Permission = "rules.write"          // reload rules, create and revoke exceptions
	PermAuditRead           Permission = "audit.read"           // read and verify the audit log
	PermUsersAdmin          Permission = "users.admin"          // manage users and API tokens
)

// AllPermissions lists every permission in a stable order.
var AllPermissions = []Permission{
	PermEventsWrite, PermEventsRead,
	PermAlertsRead, PermAlertsWrite,
	PermIncidentsRead, PermIncidentsCreate, PermIncidentsWrite, PermIncidentsComment, PermIncidentsTransition,
	PermReportsRead, PermMetricsRead,
	PermRulesRead, PermRulesWrite,
	PermAuditRead, PermUsersAdmin,
}

// rolePermissions is the one role → permission table. A role not listed has
// no permission.
var rolePermissions = map[string][]Permission{
	RoleAdmin:   slices.Clone(AllPermissions),
	RoleAnalyst: without(AllPermissions, PermUsersAdmin),
	RoleResponder: {
		PermEventsRead,
		PermAlertsRead, PermAlertsWrite,
		PermIncidentsRead, PermIncidentsWrite, PermIncidentsComment, PermIncidentsTransition,
		PermReportsRead, PermMetricsRead,
	},
	RoleAgencyOfficer: {
		PermEventsRead, // of its own tenant, like everything it reads
		PermAlertsRead,
		PermIncidentsRead, PermIncidentsCreate, PermIncidentsComment,
		PermReportsRead, PermMetricsRead,
	},
	RoleAuditor: {
		PermEventsRead, PermAlertsRead, PermIncidentsRead, PermReportsRead, PermMetricsRead, PermRulesRead,
		PermAuditRead,
	},
	RoleIngest: {PermEventsWrite},
}

func without(all []Permission, drop Permission) []Permission {
	return slices.DeleteFunc(slices.Clone(all), func(p Permission) bool { return p == drop })
}

// Permissions returns the permissions of a role (aliases allowed), in the
// order of AllPermissions; none for an unknown role. The slice is a copy.
func Permissions(role string) []Permission {
	r, ok := CanonicalRole(role)
	if !ok {
		return nil
	}
	return slices.Clone(rolePermissions[r])
}

// Can reports whether the principal's role grants perm. An unknown role
// grants nothing.
func (p Principal) Can(perm Permission) bool {
	r, _ := CanonicalRole(p.Role)
	return slices.Contains(rolePermissions[r], perm)
}
