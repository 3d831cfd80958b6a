// Package grouping decides which alerts belong to the same incident: alerts
// whose grouping key is equal join one open incident as long as they arrive
// within the window after its last alert. Keys are built from configurable
// parts (rule, group-by values, host, source IP, user…), per rule if needed,
// so that a flood of 100,000 alerts from one scan becomes one incident.
package grouping

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

// Part is one component of a grouping key.
type Part string

// Parts. The tenant is always part of the key.
const (
	Rule          Part = "rule"           // the rule id
	GroupBy       Part = "group_by"       // the rule's group-by values (correlation rules)
	Host          Part = "host"           // host.name (or host.hostname, winlog.computer_name)
	SourceIP      Part = "source_ip"      // source.ip (or client.ip)
	DestinationIP Part = "destination_ip" // destination.ip (or server.ip)
	User          Part = "user"           // user.name
	Technique     Part = "technique"      // the first ATT&CK technique
)

var parts = []Part{Rule, GroupBy, Host, SourceIP, DestinationIP, User, Technique}

// fields lists, per part, the event fields read in order; the first present
// one wins.
var fields = map[Part][]string{
	Host:          {"host.name", "host.hostname", "winlog.computer_name", "Event.System.Computer", "observer.hostname"},
	SourceIP:      {"source.ip", "client.ip"},
	DestinationIP: {"destination.ip", "server.ip"},
	User:          {"user.name", "winlog.event_data.TargetUserName", "Event.EventData.TargetUserName"},
}

// Config is the grouping policy.
type Config struct {
	// Window: an alert joins an open incident with the same key whose last
	// alert is at most this old; later alerts open a new incident. Default
	// 24h.
	Window time.Duration `yaml:"window"`
	// Keys are the parts of the default key. Default [rule, group_by].
	Keys []Part `yaml:"keys"`
	// Rules override the policy for rules whose id (or id glob) matches,
	// first match wins.
	Rules []RuleConfig `yaml:"rules"`
}

// RuleConfig is the policy for some rules.
type RuleConfig struct {
	Match  string        `yaml:"match"` // a rule id or a path.Match glob of ids
	Window time.Duration `yaml:"window"`
	Keys   []Part        `yaml:"keys"`
}

// Defaults returns the default policy.
func Defaults() Config { return Config{Window: 24 * time.Hour, Keys: []Part{Rule, GroupBy}} }

// Validate reports every problem at once, with its path.
func (c Config) Validate() error {
	var errs []error
	check := func(p string, w time.Duration, keys []Part) {
		if w < 0 {
			errs = append(errs, fmt.Errorf("%swindow: must not be negative", p))
		}
		for i, k := range keys {
			if !slices.Contains(parts, k) {
				errs = append(errs, fmt.Errorf("%skeys[%d]: %q is not one of %s", p, i, k, partNames()))
			}
		}
	}
	check("", c.Window, c.Keys)
	for i, r := range c.Rules {
		p := fmt.Sprintf("rules[%d].", i)
		if r.Match == "" {
			errs = append(errs, fmt.Errorf("%smatch: required", p))
		} else if _, err := path.Match(r.Match, ""); err != nil {
			errs = append(errs, fmt.Errorf("%smatch: %w", p, err))
		}
		check(p, r.Window, r.Keys)
	}
	return errors.Join(errs...)
}

func partNames() string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// Grouper computes grouping keys. It is safe for concurrent use.
type Grouper struct {
	c Config
}

// New returns a Grouper for a validated config; zero fields take defaults.
func New(c Config) *Grouper {
	d := Defaults()
	if c.Window == 0 {
		c.Window = d.Window
	}
	if len(c.Keys) == 0 {
		c.Keys = d.Keys
	}
	for i := range c.Rules {
		if c.Rules[i].Window == 0 {
			c.Rules[i].Window = c.Window
		}
		if len(c.Rules[i].Keys) == 0 {
			c.Rules[i].Keys = c.Keys
		}
	}
	return &Grouper{c: c}
}

// Group returns the alert's grouping key and window. The key starts with the
// tenant; parts absent from the alert are empty, so alerts that lack a host
// group together under the empty host.
func (g *Grouper) Group(a *alert.Alert) (string, time.Duration) {
	keys, window := g.c.Keys, g.c.Window
	for _, r := range g.c.Rules {
		if ok, _ := path.Match(r.Match, a.RuleID); ok {
			keys, window = r.Keys, r.Window
			break
		}
	}
	var b strings.Builder
	b.WriteString(a.Tenant)
	var ev *event.Event
	for _, k := range keys {
		b.WriteByte('|')
		b.WriteString(string(k))
		b.WriteByte('=')
		switch k {
		case Rule:
			b.WriteString(a.RuleID)
		case GroupBy:
			b.WriteString(a.GroupKey())
		case Technique:
			if len(a.Techniques) > 0 {
				b.WriteString(a.Techniques[0])
			}
		default:
			if v, ok := fromGroupBy(a, fields[k]); ok {
				b.WriteString(v)
				continue
			}
			if ev == nil {
				ev = &event.Event{}
				if len(a.Event) > 0 && len(a.Event) <= maxEventBytes {
					var dec event.Decoder // not safe for concurrent use: one per call
					if err := dec.Decode(a.Event, ev); err != nil {
						ev.Fields = nil
					}
				}
			}
			for _, f := range fields[k] {
				if v := ev.GetString(f); v != "" {
					b.WriteString(strings.ToLower(v))
					break
				}
			}
		}
	}
	return b.String(), window
}

// maxEventBytes bounds the event JSON read for a key.
const maxEventBytes = 256 << 10

func fromGroupBy(a *alert.Alert, names []string) (string, bool) {
	for _, f := range names {
		for _, kv := range a.GroupBy {
			if kv.Field == f {
				return strings.ToLower(kv.Value), true
			}
		}
	}
	return "", false
}
