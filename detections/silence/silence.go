// Package silence is a built-in stateful detection rule that raises an
// alert when a log source goes quiet: an agency's log forwarding breaking is
// itself a security event. A source is one (tenant, collector, host); Eval
// records when each was last heard from and Tick emits a Finding, once per
// silence, for every watched source quiet for longer than its interval.
//
// The state is bounded (MaxSources) and survives restarts through
// detections.Stateful (Snapshot, Restore), which the process saves and
// restores with the correlation state.
package silence

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

// RuleID is the ID of the rule's alerts.
const RuleID = "mangrove-silent-source"

// Dataset is the event.dataset of the synthetic events the rule emits.
const Dataset = "mangrove.silence"

// HostFields are the event fields that name a source host, in order of
// preference.
var HostFields = []string{"host.name", "host.hostname", "agent.hostname", "log.syslog.hostname", "observer.name", "observer.hostname", "host.ip", "source.ip"}

// Config selects the watched sources. Zero fields take their defaults.
type Config struct {
	// Interval is how long a source may stay silent (default 1h).
	Interval time.Duration `yaml:"interval"`
	// Collectors are the collector names (event source) to watch, as
	// path.Match patterns; empty watches every collector.
	Collectors []string `yaml:"collectors"`
	// Hosts are the host names to watch, as path.Match patterns; empty
	// watches every host. Events without a host are watched as host "".
	Hosts []string `yaml:"hosts"`
	// Overrides give some sources their own interval; the first match wins.
	Overrides []Override `yaml:"overrides"`
	// MaxSources bounds the state (default 10,000); when full, the source
	// silent the longest is forgotten to make room.
	MaxSources int `yaml:"max_sources"`
	// Severity of the alerts (default medium).
	Severity string `yaml:"severity"`
	// RestartGrace is how long after the state is restored (at start-up)
	// a source is not yet reported, so that senders can reconnect and
	// their backlogs arrive (default 5m). It is never longer than the
	// time the state was not being updated (since the snapshot was
	// written).
	RestartGrace time.Duration `yaml:"restart_grace"`
}

// DefaultRestartGrace is Config.RestartGrace's default.
const DefaultRestartGrace = 5 * time.Minute

// Override is a different interval for the sources it matches (path.Match
// patterns, empty matches all).
type Override struct {
	Tenant    string        `yaml:"tenant"`
	Collector string        `yaml:"collector"`
	Host      string        `yaml:"host"`
	Interval  time.Duration `yaml:"interval"`
}

// Validate reports every problem at once, each with its path.
func (c Config) Validate() error {
	var errs []error
	if c.Interval < 0 {
		errs = append(errs, errors.New("interval: must be >= 0"))
	}
	if c.MaxSources < 0 {
		errs = append(errs, errors.New("max_sources: must be >= 0"))
	}
	if c.RestartGrace < 0 {
		errs = append(errs, errors.New("restart_grace: must be >= 0"))
	}
	check := func(p, pat string) {
		if _, err := path.Match(pat, ""); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q: %w", p, pat, err))
		}
	}
	for i, p := range c.Collectors {
		check(fmt.Sprintf("collectors[%d]", i), p)
	}
	for i, p := range c.Hosts {
		check(fmt.Sprintf("hosts[%d]", i), p)
	}
	for i, o := range c.Overrides {
		p := fmt.Sprintf("overrides[%d]", i)
		check(p+".tenant", o.Tenant)
		check(p+".collector", o.Collector)
		check(p+".host", o.Host)
		if o.Interval <= 0 {
			errs = append(errs, fmt.Errorf("%s.interval: must be > 0", p))
		}
	}
	if c.Severity != "" {
		if _, err := alert.ParseSeverity(c.Severity); err != nil {
			errs = append(errs, fmt.Errorf("severity: %w", err))
		}
	}
	return errors.Join(errs...)
}

type key struct{ tenant, collector, host string }

// state is one source's; last and alerted change under the read lock.
type state struct {
	last     atomic.Int64 // Unix nanoseconds of the last event
	interval time.Duration
	alerted  atomic.Bool // a finding was emitted for the current silence
	// notBefore (Unix nanoseconds) holds back findings after a restore;
	// set before the state is shared.
	notBefore int64
}

// Rule is the silent-source rule. It implements detections.Rule,
// detections.Ticker and detections.Stateful and is safe for concurrent use.
type Rule struct {
	cfg  Config
	sev  alert.Severity
	now  func() time.Time
	mu   sync.RWMutex
	srcs map[key]*state
}

var (
	_ detections.Rule     = (*Rule)(nil)
	_ detections.Ticker   = (*Rule)(nil)
	_ detections.Stateful = (*Rule)(nil)
)

// New validates cfg and returns the rule.
func New(cfg Config) (*Rule, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Hour
	}
	if cfg.MaxSources == 0 {
		cfg.MaxSources = 10000
	}
	if cfg.RestartGrace == 0 {
		cfg.RestartGrace = DefaultRestartGrace
	}
	sev := alert.Medium
	if cfg.Severity != "" {
		sev, _ = alert.ParseSeverity(cfg.Severity)
	}
	return &Rule{cfg: cfg, sev: sev, now: time.Now, srcs: map[key]*state{}}, nil
}

// Meta describes the rule.
func (r *Rule) Meta() detections.Meta {
	return detections.Meta{
		ID: RuleID, Version: "1", Kind: "builtin", Severity: r.sev,
		Title:       "Log source went silent",
		Description: "A collector stopped receiving events from a host for longer than its interval: log forwarding may be broken or disabled.",
		Tags:        []string{"attack.defense_evasion", "attack.t1562.006"},
		Techniques:  []string{"T1562.006"},
	}
}

// Eval records that the event's source was heard from now (arrival time,
// not the event's own time, so a replayed backlog does not look silent).
// Events the rule itself emitted are ignored.
func (r *Rule) Eval(_ context.Context, ev *event.Event, _ func(detections.Finding)) error {
	if ev.Dataset == Dataset {
		return nil
	}
	k := key{tenant: ev.Tenant, collector: ev.Source, host: hostOf(ev)}
	if !r.watched(k) {
		return nil
	}
	now := r.now().UnixNano()
	r.mu.RLock()
	s, ok := r.srcs[k]
	if ok {
		s.heard(now)
		r.mu.RUnlock()
		return nil
	}
	r.mu.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok = r.srcs[k]; !ok {
		if len(r.srcs) >= r.cfg.MaxSources {
			r.evictLocked()
		}
		s = &state{interval: r.intervalFor(k)}
		r.srcs[k] = s
	}
	s.heard(now)
	return nil
}

// heard records an event at t (Unix nanoseconds) and re-arms the alert.
func (s *state) heard(t int64) {
	for {
		old := s.last.Load()
		if t <= old || s.last.CompareAndSwap(old, t) {
			break
		}
	}
	if s.alerted.Load() {
		s.alerted.Store(false)
	}
}

// Tick emits one finding per source silent for longer than its interval,
// once per silence: the source must be heard from again to re-arm.
func (r *Rule) Tick(_ context.Context, now time.Time, emit func(detections.Finding)) error {
	type due struct {
		k        key
		last     time.Time
		interval time.Duration
	}
	var out []due
	r.mu.Lock()
	for k, s := range r.srcs {
		last := time.Unix(0, s.last.Load())
		if !s.alerted.Load() && now.Sub(last) > s.interval && now.UnixNano() >= s.notBefore {
			s.alerted.Store(true)
			out = append(out, due{k, last, s.interval})
		}
	}
	r.mu.Unlock()
	for _, d := range out {
		ev := syntheticEvent(d.k, d.last, d.interval, now)
		emit(detections.Finding{
			Events: []*event.Event{ev},
			GroupBy: []alert.KV{{Field: "mangrove.silence.collector", Value: d.k.collector},
				{Field: "host.name", Value: d.k.host}},
			Time: now,
		})
	}
	return nil
}

// Sources returns how many sources are watched.
func (r *Rule) Sources() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.srcs)
}

// evictLocked forgets the source silent the longest.
func (r *Rule) evictLocked() {
	var oldest key
	var t int64
	first := true
	for k, s := range r.srcs {
		if l := s.last.Load(); first || l < t {
			oldest, t, first = k, l, false
		}
	}
	delete(r.srcs, oldest)
}

// watched reports whether the configuration watches source k.
func (r *Rule) watched(k key) bool {
	return matchAny(r.cfg.Collectors, k.collector) && matchAny(r.cfg.Hosts, k.host)
}

func (r *Rule) intervalFor(k key) time.Duration {
	for _, o := range r.cfg.Overrides {
		if match(o.Tenant, k.tenant) && match(o.Collector, k.collector) && match(o.Host, k.host) {
			return o.Interval
		}
	}
	return r.cfg.Interval
}

// syntheticEvent describes the silent source. Its ID is deterministic for
// one silence (same source, same last-seen time), so a re-run does not
// duplicate the alert.
func syntheticEvent(k key, last time.Time, interval time.Duration, now time.Time) *event.Event {
	silent := now.Sub(last).Round(time.Second)
	id := event.NewID(k.tenant, []byte("silence\x00"+k.collector+"\x00"+k.host+"\x00"+strconv.FormatInt(last.UnixNano(), 10)))
	ev := &event.Event{ID: id, Time: now, Tenant: k.tenant, Source: "detections.silence", Dataset: Dataset}
	ev.Set("message", event.StringValue(fmt.Sprintf("no events from host %q through collector %q for %s (interval %s)", k.host, k.collector, silent, interval)))
	ev.Set("event.kind", event.StringValue("alert"))
	ev.Set("event.category", event.StringValue("host"))
	ev.Set("host.name", event.StringValue(k.host))
	ev.Set("mangrove.silence.collector", event.StringValue(k.collector))
	ev.Set("mangrove.silence.last_seen", event.StringValue(last.UTC().Format(time.RFC3339Nano)))
	ev.Set("mangrove.silence.interval_seconds", event.NumberValue(interval.Seconds()))
	ev.Set("mangrove.silence.silent_seconds", event.NumberValue(silent.Seconds()))
	return ev
}

func hostOf(ev *event.Event) string {
	for _, f := range HostFields {
		if h := ev.GetString(f); h != "" {
			return h
		}
	}
	return ""
}

func matchAny(pats []string, s string) bool {
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if match(p, s) {
			return true
		}
	}
	return false
}

func match(pat, s string) bool {
	if pat == "" {
		return true
	}
	ok, _ := path.Match(pat, s)
	return ok
}
