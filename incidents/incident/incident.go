// Package incident defines the Incident that groups alerts for the
// rapid-response team, and its lifecycle: the states an incident moves through
// and the one Transition function that allows or refuses a move.
package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
)

// State is where an incident is in its lifecycle.
type State string

// States, in the usual order of work.
const (
	New           State = "new"           // opened by the engine, nobody has looked yet
	Acknowledged  State = "acknowledged"  // an analyst has taken it
	Investigating State = "investigating" // triage confirmed it needs work
	Contained     State = "contained"     // the spread is stopped
	Resolved      State = "resolved"      // the cause is removed; may reopen
	Closed        State = "closed"        // final; reports filed
)

// States lists every state in order.
var States = []State{New, Acknowledged, Investigating, Contained, Resolved, Closed}

// Open reports whether new alerts of the same rule and group key still join
// this incident.
func (s State) Open() bool { return s != Resolved && s != Closed }

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// allowed lists the moves Transition permits.
var allowed = map[State][]State{
	New:           {Acknowledged, Investigating, Resolved, Closed},
	Acknowledged:  {Investigating, Contained, Resolved, Closed},
	Investigating: {Contained, Resolved, Closed},
	Contained:     {Investigating, Resolved, Closed},
	Resolved:      {Investigating, Closed},
	Closed:        {},
}

// Transition returns nil if an incident may move from one state to another.
// It is the only place that decides; stores and the API call it.
func Transition(from, to State) error {
	if !from.Valid() {
		return fmt.Errorf("unknown state %q", from)
	}
	if !to.Valid() {
		return fmt.Errorf("unknown state %q", to)
	}
	for _, s := range allowed[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("an incident cannot move from %s to %s", from, to)
}

// Incident is a group of alerts handled as one case.
type Incident struct {
	ID         string         `json:"id"`
	Tenant     string         `json:"tenant"`
	Title      string         `json:"title"`
	RuleID     string         `json:"rule_id"`
	GroupKey   string         `json:"group_key"`
	Severity   alert.Severity `json:"severity"`
	State      State          `json:"state"`
	Assignee   string         `json:"assignee,omitempty"`
	AlertCount int            `json:"alert_count"`
	FirstSeen  time.Time      `json:"first_seen"`
	LastSeen   time.Time      `json:"last_seen"`
	Created    time.Time      `json:"created"`
	Updated    time.Time      `json:"updated"`
}

// Open returns the incident that a first alert opens: deterministic ID (the
// same alert always opens the same incident), state New.
func Open(a *alert.Alert, now time.Time) Incident {
	key := a.GroupKey()
	h := sha256.New()
	for _, s := range []string{a.Tenant, a.RuleID, key, a.ID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	title := a.RuleTitle
	if key != "" {
		title += " (" + key + ")"
	}
	return Incident{
		ID:         "INC-" + hex.EncodeToString(h.Sum(nil)[:8]),
		Tenant:     a.Tenant,
		Title:      title,
		RuleID:     a.RuleID,
		GroupKey:   key,
		Severity:   a.Severity,
		State:      New,
		AlertCount: 1,
		FirstSeen:  a.Time,
		LastSeen:   a.Time,
		Created:    now,
		Updated:    now,
	}
}

// Join adds a later alert of the same rule and group key to the incident:
// the count grows, the time range widens, severity rises to the alert's.
func (inc *Incident) Join(a *alert.Alert, now time.Time) {
	inc.AlertCount++
	if a.Time.Before(inc.FirstSeen) {
		inc.FirstSeen = a.Time
	}
	if a.Time.After(inc.LastSeen) {
		inc.LastSeen = a.Time
	}
	inc.Severity = max(inc.Severity, a.Severity)
	inc.Updated = now
}
