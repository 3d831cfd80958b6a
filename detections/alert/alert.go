// Package alert defines the Alert that detection rules produce: what fired, on
// which events, how severe, with a deterministic ID so that re-processing the
// same events never creates a second alert.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Severity orders alerts and incidents. The names are Sigma's rule levels.
type Severity int

// Severities from least to most severe.
const (
	Informational Severity = iota + 1
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"", "informational", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Informational || s > Critical {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name (case-insensitive).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames[1:] {
		if strings.EqualFold(s, n) {
			return Severity(i + 1), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[1:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Alert is one firing of one rule.
type Alert struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	RuleID      string    `json:"rule_id"`
	RuleVersion string    `json:"rule_version,omitempty"`
	RuleTitle   string    `json:"rule_title"`
	Severity    Severity  `json:"severity"`
	Techniques  []string  `json:"techniques,omitempty"` // ATT&CK ids, e.g. T1059.001
	Tags        []string  `json:"tags,omitempty"`
	EventIDs    []string  `json:"event_ids"`
	GroupBy     []KV      `json:"group_by,omitempty"`
	Time        time.Time `json:"time"`    // time of the (last) matching event
	Created     time.Time `json:"created"` // when the engine produced the alert
	// Event is the first matching event as JSON, for triage without a
	// second lookup. It may be truncated to a size limit by the engine.
	Event json.RawMessage `json:"event,omitempty"`
	// IncidentID is set by the store once the alert is grouped.
	IncidentID string `json:"incident_id,omitempty"`
	// Status ("new", "acknowledged") and Assignee are set by analysts.
	Status   string `json:"status,omitempty"`
	Assignee string `json:"assignee,omitempty"`
}

// KV is one group-by value.
type KV struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// GroupKey returns the canonical text of the group-by values, used to group
// alerts of the same rule into one incident.
func (a *Alert) GroupKey() string {
	var b strings.Builder
	for i, kv := range a.GroupBy {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(kv.Field)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	return b.String()
}

// NewID returns the deterministic ID of an alert of rule ruleID for tenant on
// the given events: the same rule firing on the same events always gets the
// same ID.
func NewID(tenant, ruleID string, eventIDs ...string) string {
	h := sha256.New()
	for _, s := range append([]string{tenant, ruleID}, eventIDs...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
