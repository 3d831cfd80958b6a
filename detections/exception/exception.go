// Package exception defines rule exceptions: "do not alert on this rule for
// these field values", each with an owner, a reason and an expiry, so that a
// suppression is always someone's documented decision and never outlives its
// reason. A Set answers, per rule and event, whether an active exception
// suppresses the alert.
package exception

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// MaxLifetime is the longest an exception may last: a year, after which it
// must be reviewed and created again.
const MaxLifetime = 366 * 24 * time.Hour

// Exception suppresses one rule's alerts for events whose fields match.
type Exception struct {
	ID string `json:"id"`
	// Tenant limits the exception to one agency's events; "" applies to all
	// tenants and only a center-wide caller may create it.
	Tenant string `json:"tenant"`
	RuleID string `json:"rule_id"`
	// Match maps a field name to the values that suppress: every field must
	// have one of its values (case-insensitive, exact; a list field matches
	// when any element does).
	Match     map[string][]string `json:"match"`
	Owner     string              `json:"owner"`
	Reason    string              `json:"reason"`
	Expires   time.Time           `json:"expires"`
	Created   time.Time           `json:"created"`
	CreatedBy string              `json:"created_by"`
	// Revoked is set when the exception was withdrawn before it expired.
	Revoked time.Time `json:"revoked,omitzero"`
}

// NewID returns a random exception id.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return "EXC-" + hex.EncodeToString(b[:])
}

// Validate reports every problem at once.
func (e *Exception) Validate(now time.Time) error {
	var errs []error
	if strings.TrimSpace(e.RuleID) == "" {
		errs = append(errs, errors.New("rule_id: required"))
	}
	if len(e.Match) == 0 {
		errs = append(errs, errors.New("match: at least one field is required"))
	}
	for f, vs := range e.Match {
		if strings.TrimSpace(f) == "" {
			errs = append(errs, errors.New("match: empty field name"))
		}
		if len(vs) == 0 {
			errs = append(errs, fmt.Errorf("match.%s: at least one value is required", f))
		}
	}
	if strings.TrimSpace(e.Owner) == "" {
		errs = append(errs, errors.New("owner: required"))
	}
	if strings.TrimSpace(e.Reason) == "" {
		errs = append(errs, errors.New("reason: required"))
	}
	switch {
	case e.Expires.IsZero():
		errs = append(errs, errors.New("expires: required"))
	case !e.Expires.After(now):
		errs = append(errs, errors.New("expires: must be in the future"))
	case e.Expires.Sub(now) > MaxLifetime:
		errs = append(errs, fmt.Errorf("expires: at most %d days ahead", int(MaxLifetime.Hours()/24)))
	}
	return errors.Join(errs...)
}

// Active reports whether the exception suppresses at time now.
func (e *Exception) Active(now time.Time) bool {
	return now.Before(e.Expires) && (e.Revoked.IsZero() || now.Before(e.Revoked))
}

// Matches reports whether ev has one of the values of every field.
func (e *Exception) Matches(ev *event.Event) bool {
	for f, vs := range e.Match {
		v, ok := ev.Get(f)
		if !ok {
			return false
		}
		hit := false
		v.Each(func(x event.Value) bool {
			t := x.Text()
			for _, want := range vs {
				if strings.EqualFold(t, want) {
					hit = true
					return false
				}
			}
			return true
		})
		if !hit {
			return false
		}
	}
	return true
}

// Set is an immutable index of exceptions by rule, safe for concurrent use.
type Set struct {
	byRule map[string][]Exception
}

// NewSet indexes the exceptions; inactive ones are kept (they may be
// checked at another time) but never match.
func NewSet(es []Exception) *Set {
	s := &Set{byRule: map[string][]Exception{}}
	for _, e := range es {
		s.byRule[e.RuleID] = append(s.byRule[e.RuleID], e)
	}
	for _, l := range s.byRule {
		sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
	}
	return s
}

// Suppress returns the id of an active exception of ruleID that matches ev
// (of ev's tenant, or of all tenants), and whether there is one.
func (s *Set) Suppress(ruleID string, ev *event.Event, now time.Time) (string, bool) {
	if s == nil {
		return "", false
	}
	for i := range s.byRule[ruleID] {
		e := &s.byRule[ruleID][i]
		if (e.Tenant == "" || e.Tenant == ev.Tenant) && e.Active(now) && e.Matches(ev) {
			return e.ID, true
		}
	}
	return "", false
}

// Len returns how many exceptions the set holds.
func (s *Set) Len() int {
	n := 0
	for _, l := range s.byRule {
		n += len(l)
	}
	return n
}
