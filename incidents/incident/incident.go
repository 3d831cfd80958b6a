// Package incident defines the Incident that groups alerts for the
// rapid-response team (đội ứng cứu sự cố), the things attached to it (tasks,
// comments, observables, evidence, timeline), and its lifecycle: the states an
// incident moves through and the one Transition function that allows or
// refuses a move for a given role.
package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
)

// State is where an incident is in its lifecycle.
type State string

// States, in the usual order of work (TT20/2017 Art. 11 and the incident
// state machine of docs/domain-vn.md §7.3), then the two dismissals.
const (
	New           State = "new"            // opened by the engine or reported by hand; nobody has looked yet
	Triaged       State = "triaged"        // an analyst confirmed it is real and set category and severity
	Investigating State = "investigating"  // scope, source and evidence are being worked
	Contained     State = "contained"      // the spread is stopped
	Eradicated    State = "eradicated"     // the cause is removed
	Recovered     State = "recovered"      // systems are back in service
	Closed        State = "closed"         // final report filed; reopen only by a lead
	FalsePositive State = "false_positive" // not an incident
	Duplicate     State = "duplicate"      // the same incident as DuplicateOf
)

// States lists every state in order.
var States = []State{New, Triaged, Investigating, Contained, Eradicated, Recovered, Closed, FalsePositive, Duplicate}

// Open reports whether new alerts still join an incident in this state.
func (s State) Open() bool { return !s.Terminal() }

// Terminal reports whether the incident is finished (closed or dismissed).
func (s State) Terminal() bool { return s == Closed || s == FalsePositive || s == Duplicate }

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Roles that may move incidents. The names are those of internal/auth.
const (
	RoleAdmin     = "admin"
	RoleAnalyst   = "analyst"
	RoleResponder = "responder"
)

// move is one allowed transition and the roles that may make it (admin may
// make every allowed move).
type move struct {
	from, to State
	roles    []string
}

var (
	triage   = []string{RoleAnalyst}
	response = []string{RoleAnalyst, RoleResponder}
)

// moves is the lifecycle table. Reopening a finished incident (closed,
// false positive, duplicate) goes back to investigating and is for analysts;
// recovered → contained is TT20 Art. 11(3)(c): the system is unstable again.
var moves = []move{
	{New, Triaged, triage},
	{New, Investigating, triage},
	{New, FalsePositive, triage},
	{New, Duplicate, triage},
	{Triaged, Investigating, response},
	{Triaged, FalsePositive, triage},
	{Triaged, Duplicate, triage},
	{Investigating, Contained, response},
	{Investigating, FalsePositive, triage},
	{Investigating, Duplicate, triage},
	{Contained, Investigating, response},
	{Contained, Eradicated, response},
	{Eradicated, Recovered, response},
	{Eradicated, Contained, response},
	{Recovered, Contained, response},
	{Recovered, Closed, triage},
	{Closed, Investigating, triage},
	{FalsePositive, Investigating, triage},
	{Duplicate, Investigating, triage},
}

// ErrNotAllowed wraps refusals because of the caller's role.
var ErrNotAllowed = fmt.Errorf("not allowed for this role")

// Transition returns nil if a caller with role may move an incident from one
// state to another. It is the only place that decides; stores and the API
// call it. A refusal for the role wraps ErrNotAllowed; an impossible move
// does not.
func Transition(from, to State, role string) error {
	if !from.Valid() {
		return fmt.Errorf("unknown state %q", from)
	}
	if !to.Valid() {
		return fmt.Errorf("unknown state %q", to)
	}
	for _, m := range moves {
		if m.from != from || m.to != to {
			continue
		}
		if role == RoleAdmin || slices.Contains(m.roles, role) {
			return nil
		}
		return fmt.Errorf("moving an incident from %s to %s: %w (%q); it needs one of %s", from, to, ErrNotAllowed, role,
			strings.Join(append([]string{RoleAdmin}, m.roles...), ", "))
	}
	return fmt.Errorf("an incident cannot move from %s to %s", from, to)
}

// Next lists the states a caller with role may move an incident to from s.
func Next(s State, role string) []State {
	var out []State
	for _, m := range moves {
		if m.from == s && Transition(m.from, m.to, role) == nil {
			out = append(out, m.to)
		}
	}
	return out
}

// Category is the national incident classification an analyst sets at
// triage (and the engine guesses from ATT&CK tags).
type Category string

// Categories.
const (
	Uncategorized Category = ""
	Malware       Category = "malware"
	DDoS          Category = "ddos"
	Defacement    Category = "web_defacement"
	Phishing      Category = "phishing"
	Intrusion     Category = "intrusion" // unauthorised access
	DataLeak      Category = "data_leak"
	Vulnerability Category = "vulnerability_exploitation"
	Scanning      Category = "scanning"
	OtherCategory Category = "other"
)

// Categories lists every category with its Vietnamese name as it appears in
// reports to the authority.
var Categories = []struct {
	Category   Category
	Vietnamese string
}{
	{Malware, "Mã độc"},
	{DDoS, "Tấn công từ chối dịch vụ (DDoS)"},
	{Defacement, "Tấn công thay đổi giao diện (deface)"},
	{Phishing, "Lừa đảo trực tuyến (phishing)"},
	{Intrusion, "Xâm nhập, truy cập trái phép"},
	{DataLeak, "Lộ, lọt dữ liệu"},
	{Vulnerability, "Khai thác lỗ hổng bảo mật"},
	{Scanning, "Rà quét, thăm dò hệ thống"},
	{OtherCategory, "Loại khác"},
}

// Valid reports whether c is a known category (or unset).
func (c Category) Valid() bool {
	if c == Uncategorized {
		return true
	}
	for _, k := range Categories {
		if k.Category == c {
			return true
		}
	}
	return false
}

// Vietnamese returns the category's name in reports.
func (c Category) Vietnamese() string {
	for _, k := range Categories {
		if k.Category == c {
			return k.Vietnamese
		}
	}
	return "Chưa phân loại"
}

// categoryByTechnique guesses a category from ATT&CK technique prefixes, most
// specific first.
var categoryByTechnique = []struct {
	prefix string
	cat    Category
}{
	{"T1491", Defacement},
	{"T1498", DDoS}, {"T1499", DDoS},
	{"T1566", Phishing}, {"T1598", Phishing},
	{"T1041", DataLeak}, {"T1048", DataLeak}, {"T1567", DataLeak}, {"T1530", DataLeak},
	{"T1190", Vulnerability}, {"T1203", Vulnerability}, {"T1068", Vulnerability},
	{"T1595", Scanning}, {"T1046", Scanning},
	{"T1486", Malware}, {"T1059", Malware}, {"T1105", Malware}, {"T1204", Malware}, {"T1027", Malware}, {"T1071", Malware},
	{"T1110", Intrusion}, {"T1078", Intrusion}, {"T1021", Intrusion}, {"T1133", Intrusion},
}

// GuessCategory returns the category the techniques suggest, or
// Uncategorized.
func GuessCategory(techniques []string) Category {
	for _, c := range categoryByTechnique {
		for _, t := range techniques {
			if strings.HasPrefix(strings.ToUpper(t), c.prefix) {
				return c.cat
			}
		}
	}
	return Uncategorized
}

// System is an affected information system with its approved security level
// (cấp độ, 1–5).
type System struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Level int    `json:"level"`
	// NationalSecurity marks a system on the national-security list.
	NationalSecurity bool `json:"national_security,omitempty"`
}

// Priority is severity × the highest level of the affected systems (a system
// of unknown level counts as level 1): 1 (informational, level 1) to 25
// (critical, level 5).
func Priority(sev alert.Severity, systems []System) int {
	level := 1
	for _, s := range systems {
		level = max(level, min(s.Level, 5))
	}
	return max(int(sev), 1) * level
}

// Incident is a group of alerts, or a report by hand, handled as one case.
type Incident struct {
	ID          string         `json:"id"`
	Tenant      string         `json:"tenant"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	Source      string         `json:"source"`            // "detection" or "manual"
	RuleID      string         `json:"rule_id,omitempty"` // for detection incidents
	GroupKey    string         `json:"group_key,omitempty"`
	Category    Category       `json:"category,omitempty"`
	Severity    alert.Severity `json:"severity"`
	Priority    int            `json:"priority"`
	State       State          `json:"state"`
	DuplicateOf string         `json:"duplicate_of,omitempty"`
	Assignee    string         `json:"assignee,omitempty"`
	Team        string         `json:"team,omitempty"`
	Systems     []System       `json:"systems,omitempty"`
	Techniques  []string       `json:"techniques,omitempty"`
	AlertCount  int            `json:"alert_count"`
	// Legal facts that decide which reporting clocks run (domain-vn.md §3–4).
	Serious           bool     `json:"serious,omitempty"`            // serious incident (sự cố nghiêm trọng)
	NationalSecurity  bool     `json:"national_security,omitempty"`  // signs of harm to national security or public order
	SeriousDisruption bool     `json:"serious_disruption,omitempty"` // serious disruption of the system
	PersonalData      []string `json:"personal_data,omitempty"`      // kinds involved: basic, sensitive, location, biometric
	ReportedBy        string   `json:"reported_by"`                  // "system:detections" or "user:<name>"
	// Times. DetectedAt starts the legal clocks; the rest are set by the
	// first transition into the matching state and feed MTTA/MTTC/MTTR.
	FirstSeen      time.Time  `json:"first_seen"`
	LastSeen       time.Time  `json:"last_seen"`
	DetectedAt     time.Time  `json:"detected_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	ContainedAt    *time.Time `json:"contained_at,omitempty"`
	RecoveredAt    *time.Time `json:"recovered_at,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	Created        time.Time  `json:"created"`
	Updated        time.Time  `json:"updated"`
	// Version grows by one with every change; writers send the version they
	// read and a stale one is refused (no lost updates).
	Version int `json:"version"`
}

// Open returns the incident that a first alert opens: deterministic ID (the
// same alert always opens the same incident), state New, detected now.
func Open(a *alert.Alert, key string, now time.Time) Incident {
	h := sha256.New()
	for _, s := range []string{a.Tenant, a.RuleID, key, a.ID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	title := a.RuleTitle
	if k := a.GroupKey(); k != "" {
		title += " (" + k + ")"
	}
	return Incident{
		ID:         "INC-" + hex.EncodeToString(h.Sum(nil)[:8]),
		Tenant:     a.Tenant,
		Title:      title,
		Source:     "detection",
		RuleID:     a.RuleID,
		GroupKey:   key,
		Category:   GuessCategory(a.Techniques),
		Severity:   a.Severity,
		Priority:   Priority(a.Severity, nil),
		State:      New,
		Techniques: slices.Clone(a.Techniques),
		AlertCount: 1,
		ReportedBy: "system:detections",
		FirstSeen:  a.Time,
		LastSeen:   a.Time,
		DetectedAt: now,
		Created:    now,
		Updated:    now,
		Version:    1,
	}
}

// Join adds a later alert to the incident: the count grows, the time range
// widens, severity rises to the alert's, new techniques are added.
func (inc *Incident) Join(a *alert.Alert, now time.Time) {
	inc.AlertCount++
	if a.Time.Before(inc.FirstSeen) {
		inc.FirstSeen = a.Time
	}
	if a.Time.After(inc.LastSeen) {
		inc.LastSeen = a.Time
	}
	inc.Severity = max(inc.Severity, a.Severity)
	for _, t := range a.Techniques {
		if !slices.Contains(inc.Techniques, t) {
			inc.Techniques = append(inc.Techniques, t)
		}
	}
	if inc.Category == Uncategorized {
		inc.Category = GuessCategory(inc.Techniques)
	}
	inc.Priority = Priority(inc.Severity, inc.Systems)
	inc.Updated = now
	inc.Version++
}

// Apply sets the timestamps a move into state to records (the first time
// only), and the state itself.
func (inc *Incident) Apply(to State, now time.Time) {
	set := func(p **time.Time) {
		if *p == nil {
			t := now
			*p = &t
		}
	}
	if to != New && to != FalsePositive && to != Duplicate {
		set(&inc.AcknowledgedAt)
	}
	switch to {
	case Contained, Eradicated:
		set(&inc.ContainedAt)
	case Recovered:
		set(&inc.ContainedAt)
		set(&inc.RecoveredAt)
	case Closed:
		set(&inc.ClosedAt)
	}
	inc.State, inc.Updated = to, now
	inc.Version++
}

// Task is a piece of work on an incident with an owner and a due time.
type Task struct {
	ID         string     `json:"id"`
	IncidentID string     `json:"incident_id"`
	Title      string     `json:"title"`
	Owner      string     `json:"owner,omitempty"`
	Due        *time.Time `json:"due,omitempty"`
	Done       bool       `json:"done"`
	Created    time.Time  `json:"created"`
	Updated    time.Time  `json:"updated"`
}

// Comment is an analyst's note on an incident.
type Comment struct {
	ID         string    `json:"id"`
	IncidentID string    `json:"incident_id"`
	Author     string    `json:"author"`
	Body       string    `json:"body"`
	Created    time.Time `json:"created"`
}

// ObservableKind is what an observable is.
type ObservableKind string

// Observable kinds.
const (
	ObsIP      ObservableKind = "ip"
	ObsDomain  ObservableKind = "domain"
	ObsURL     ObservableKind = "url"
	ObsHash    ObservableKind = "hash"
	ObsAccount ObservableKind = "account"
	ObsHost    ObservableKind = "host"
	ObsEmail   ObservableKind = "email"
)

// ObservableKinds lists the kinds.
var ObservableKinds = []ObservableKind{ObsIP, ObsDomain, ObsURL, ObsHash, ObsAccount, ObsHost, ObsEmail}

// Observable is an indicator seen in an incident.
type Observable struct {
	ID         string         `json:"id"`
	IncidentID string         `json:"incident_id"`
	Kind       ObservableKind `json:"kind"`
	Value      string         `json:"value"`
	Note       string         `json:"note,omitempty"`
	Created    time.Time      `json:"created"`
}

// Evidence is a file attached to an incident, stored by its SHA-256.
type Evidence struct {
	ID         string    `json:"id"`
	IncidentID string    `json:"incident_id"`
	Name       string    `json:"name"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	MediaType  string    `json:"media_type,omitempty"`
	AddedBy    string    `json:"added_by"`
	Created    time.Time `json:"created"`
}

// Event is one line of an incident's timeline: every change, who made it and
// when.
type Event struct {
	Time   time.Time      `json:"time"`
	Actor  string         `json:"actor"`
	Action string         `json:"action"` // e.g. "incident.transition", "task.create"
	Detail map[string]any `json:"detail,omitempty"`
}
