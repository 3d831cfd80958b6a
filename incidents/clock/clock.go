// Package clock computes the deadlines that run on an incident: the SOC's
// own service-level clocks (acknowledge, contain, resolve by severity) and
// the legal reporting deadlines of Vietnamese law (Decree 331/2026 and the
// legacy Circular 20/2017 for incidents; Law 91/2025 with Decree 356/2025
// and the legacy Decree 13/2023 for personal-data breaches).
//
// The legal rules are data: a versioned rules.yaml embedded in the binary
// (or a file of the same schema named in the configuration), each rule with
// its legal basis, the confidence tag of docs/domain-vn.md and its effective
// window, so that the API and the CLI can show why a deadline exists.
//
// The package also provides the Vietnamese working-day Calendar used for
// dossier deadlines counted in working days (ngày làm việc); incident
// timers run in plain hours and days and do not use it.
package clock

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// Config configures the clocks. Start from DefaultConfig and decode the
// YAML over it: a zero SLA duration means "no such clock", so a zero Config
// has no SLA clocks at all.
type Config struct {
	// IncidentRegime selects the incident rules: "auto" (default) applies
	// each regime's rules to incidents detected while they are in force, so
	// an incident detected before 19 Aug 2026 follows Circular 20/2017 and a
	// later one Decree 331/2026; "d331_2026" or "legacy_tt20_2017" applies
	// that regime only (still within its effective window); "none" turns
	// the incident rules off.
	IncidentRegime string `yaml:"incident_regime"`
	// PDPRegime selects the personal-data rules the same way: "auto"
	// (default), "law91_2025", "d13_2023" or "none".
	PDPRegime string `yaml:"pdp_regime"`
	// RulesFile, if set, replaces the embedded rule set with this file (same
	// schema as rules.yaml, at most MaxRulesBytes).
	RulesFile string `yaml:"rules_file"`
	// HolidaysFile, if set, adds or replaces years of the embedded holiday
	// calendar (schema of holidays.yaml).
	HolidaysFile string `yaml:"holidays_file"`
	// ImmediateGrace is how long an "immediately" deadline allows; default
	// 1h, at most 24h.
	ImmediateGrace time.Duration `yaml:"immediate_grace"`
	// SLA are the SOC's own clocks per incident severity.
	SLA SLAConfig `yaml:"sla"`
}

// SLAConfig holds the SLA of each severity (names of alert.Severity).
type SLAConfig struct {
	Informational SLA `yaml:"informational"`
	Low           SLA `yaml:"low"`
	Medium        SLA `yaml:"medium"`
	High          SLA `yaml:"high"`
	Critical      SLA `yaml:"critical"`
}

// SLA is the time from detection within which an incident must be
// acknowledged, contained and resolved. Zero means no clock.
type SLA struct {
	Acknowledge time.Duration `yaml:"acknowledge"`
	Contain     time.Duration `yaml:"contain"`
	Resolve     time.Duration `yaml:"resolve"`
}

// DefaultImmediateGrace is the default Config.ImmediateGrace.
const DefaultImmediateGrace = time.Hour

const (
	maxImmediateGrace = 24 * time.Hour
	maxSLA            = 366 * 24 * time.Hour
	day               = 24 * time.Hour
)

// DefaultConfig returns the defaults: regimes "auto", a one-hour grace for
// immediate notices, and these SLAs (acknowledge / contain / resolve):
// critical 15m/4h/24h, high 1h/8h/72h, medium 4h/24h/7d, low 24h/72h/30d,
// informational none.
func DefaultConfig() Config {
	return Config{
		IncidentRegime: RegimeAuto,
		PDPRegime:      RegimeAuto,
		ImmediateGrace: DefaultImmediateGrace,
		SLA: SLAConfig{
			Low:      SLA{Acknowledge: day, Contain: 3 * day, Resolve: 30 * day},
			Medium:   SLA{Acknowledge: 4 * time.Hour, Contain: day, Resolve: 7 * day},
			High:     SLA{Acknowledge: time.Hour, Contain: 8 * time.Hour, Resolve: 3 * day},
			Critical: SLA{Acknowledge: 15 * time.Minute, Contain: 4 * time.Hour, Resolve: day},
		},
	}
}

// ApplyDefaults sets the empty regimes to "auto" and a zero grace to
// DefaultImmediateGrace. It leaves SLAs alone: zero there means no clock.
func (c *Config) ApplyDefaults() {
	if c.IncidentRegime == "" {
		c.IncidentRegime = RegimeAuto
	}
	if c.PDPRegime == "" {
		c.PDPRegime = RegimeAuto
	}
	if c.ImmediateGrace == 0 {
		c.ImmediateGrace = DefaultImmediateGrace
	}
}

// Validate reports every problem at once, each with its path.
func (c Config) Validate() error {
	var errs []error
	checkRegime := func(key, v, a, b string) {
		switch v {
		case RegimeAuto, RegimeNone, a, b:
		default:
			errs = append(errs, fmt.Errorf("%s: %q is not one of %s, %s, %s, %s", key, v, RegimeAuto, a, b, RegimeNone))
		}
	}
	checkRegime("incident_regime", c.IncidentRegime, RegimeD331, RegimeTT20)
	checkRegime("pdp_regime", c.PDPRegime, RegimeLaw91, RegimeD13)
	if c.ImmediateGrace <= 0 || c.ImmediateGrace > maxImmediateGrace {
		errs = append(errs, fmt.Errorf("immediate_grace: %s must be > 0 and at most %s", c.ImmediateGrace, maxImmediateGrace))
	}
	for _, s := range c.SLA.each() {
		errs = append(errs, s.sla.validate("sla."+s.sev.String())...)
	}
	return errors.Join(errs...)
}

func (s SLA) validate(path string) []error {
	var errs []error
	clocks := []struct {
		name string
		d    time.Duration
	}{{"acknowledge", s.Acknowledge}, {"contain", s.Contain}, {"resolve", s.Resolve}}
	prev, prevName := time.Duration(0), ""
	for _, c := range clocks {
		switch {
		case c.d < 0:
			errs = append(errs, fmt.Errorf("%s.%s: %s must not be negative (0 means no clock)", path, c.name, c.d))
		case c.d > maxSLA:
			errs = append(errs, fmt.Errorf("%s.%s: %s is longer than %s", path, c.name, c.d, maxSLA))
		case c.d > 0 && c.d < prev:
			errs = append(errs, fmt.Errorf("%s.%s: %s is shorter than %s (%s)", path, c.name, c.d, prevName, prev))
		}
		if c.d > 0 {
			prev, prevName = c.d, c.name
		}
	}
	return errs
}

type severitySLA struct {
	sev alert.Severity
	sla SLA
}

func (c SLAConfig) each() []severitySLA {
	return []severitySLA{
		{alert.Informational, c.Informational}, {alert.Low, c.Low}, {alert.Medium, c.Medium},
		{alert.High, c.High}, {alert.Critical, c.Critical},
	}
}

// Filing records that the report a rule asks for was sent. Obligation is
// the rule id (Rule.ID); a filing also meets the rules that list its id in
// met_by. A filing with a zero At is ignored.
type Filing struct {
	Obligation string    `json:"obligation"`
	At         time.Time `json:"at"`
	Reference  string    `json:"reference,omitempty"` // e.g. the dispatch number (số công văn) or portal receipt
}

// Deadline kinds.
const (
	KindSLA   = "sla"
	KindLegal = "legal"
)

// SLA deadline ids.
const (
	SLAAcknowledge = "sla-acknowledge"
	SLAContain     = "sla-contain"
	SLAResolve     = "sla-resolve"
)

// Deadline is one clock running on an incident.
type Deadline struct {
	// ID is the rule id for legal deadlines, or one of SLAAcknowledge,
	// SLAContain, SLAResolve.
	ID         string `json:"id"`
	Kind       string `json:"kind"` // KindSLA or KindLegal
	Name       string `json:"name"`
	NameVI     string `json:"name_vi"`
	Report     string `json:"report,omitempty"`    // legal: the report type (ReportInitial, ...)
	Recipient  string `json:"recipient,omitempty"` // legal: who receives it
	Basis      string `json:"basis"`               // legal text and article, or the SLA setting
	Confidence string `json:"confidence,omitempty"`
	// Start is when the clock started, Due when it runs out.
	Start time.Time `json:"start"`
	Due   time.Time `json:"due"`
	// MetAt is when the deadline was met (earliest matching filing, or the
	// incident timestamp for SLAs); nil while it is not.
	MetAt *time.Time `json:"met_at,omitempty"`
	// Reference is the meeting filing's reference.
	Reference string `json:"reference,omitempty"`
	Met       bool   `json:"met"`
	// Late: met, but after Due.
	Late bool `json:"late,omitempty"`
	// Overdue: not met and now is after Due.
	Overdue bool `json:"overdue"`
	// DueIn is Due minus now, negative once past (JSON: nanoseconds); it
	// is computed for met deadlines too, where it means little.
	DueIn time.Duration `json:"due_in"`
}

// slaClock is one precomputed SLA deadline template.
type slaClock struct {
	id, name, nameVI, basis string
	d                       time.Duration
}

// selectedRule is a rule with the ids whose filings meet it.
type selectedRule struct {
	Rule
	meetIDs []string
}

// Clock computes deadlines. It is immutable after New and safe for
// concurrent use.
type Clock struct {
	cfg     Config
	version string
	rules   []selectedRule
	// sla is indexed by severity; index 0 (unknown severity) has no clocks.
	sla [alert.Critical + 1][3]slaClock
	cal *Calendar
}

// New builds a Clock: it applies defaults to cfg, validates it, loads the
// rules (cfg.RulesFile or the embedded set) and the holiday calendar.
func New(cfg Config) (*Clock, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("clock config: %w", err)
	}
	var (
		rs  *RuleSet
		err error
	)
	if cfg.RulesFile != "" {
		rs, err = LoadRules(cfg.RulesFile)
	} else {
		rs, err = EmbeddedRules()
	}
	if err != nil {
		return nil, err
	}
	cal, err := LoadCalendar(cfg.HolidaysFile)
	if err != nil {
		return nil, err
	}
	c := &Clock{cfg: cfg, version: rs.Version, cal: cal}
	for _, r := range rs.Rules {
		if !regimeSelected(r.Regime, cfg) {
			continue
		}
		c.rules = append(c.rules, selectedRule{Rule: r, meetIDs: append([]string{r.ID}, r.MetBy...)})
	}
	for _, s := range cfg.SLA.each() {
		sev := s.sev.String()
		c.sla[s.sev] = [3]slaClock{
			{SLAAcknowledge, "Acknowledge (" + sev + " severity SLA)", "Tiếp nhận, xác minh sự cố", "Internal SLA: clock.sla." + sev + ".acknowledge", s.sla.Acknowledge},
			{SLAContain, "Contain (" + sev + " severity SLA)", "Ngăn chặn, khoanh vùng sự cố", "Internal SLA: clock.sla." + sev + ".contain", s.sla.Contain},
			{SLAResolve, "Resolve (" + sev + " severity SLA)", "Xử lý, khôi phục hoạt động bình thường", "Internal SLA: clock.sla." + sev + ".resolve", s.sla.Resolve},
		}
	}
	return c, nil
}

func regimeSelected(regime string, cfg Config) bool {
	pick := cfg.IncidentRegime
	if regimeFamily[regime] == familyPDP {
		pick = cfg.PDPRegime
	}
	return pick == RegimeAuto || pick == regime
}

// Rules lists the rules the configured regimes select, in file order, each
// with its effective window (a rule applies to an incident detected inside
// it). The result is a copy.
func (c *Clock) Rules() []Rule {
	out := make([]Rule, len(c.rules))
	for i, r := range c.rules {
		out[i] = r.Rule
		out[i].When = slices.Clone(r.When)
		out[i].MetBy = slices.Clone(r.MetBy)
		if r.EffectiveTo != nil {
			t := *r.EffectiveTo
			out[i].EffectiveTo = &t
		}
	}
	return out
}

// RulesVersion is the version of the loaded rule set.
func (c *Clock) RulesVersion() string { return c.version }

// Calendar is the working-day calendar loaded with the clock.
func (c *Clock) Calendar() *Calendar { return c.cal }

// Deadlines returns every clock running on inc at now, sorted by due time:
//
//   - SLA deadlines of inc.Severity (the current one), started at
//     DetectedAt: acknowledge met
//     by AcknowledgedAt, contain by ContainedAt, resolve by RecoveredAt or
//     ClosedAt (whichever is earlier);
//   - legal deadlines of the selected rules in force at inc.DetectedAt
//     whose condition holds and whose start has happened (a closing-report
//     clock appears once the incident is recovered); met by the earliest
//     filing for the rule's id or one of its met_by ids.
//
// A false-positive or duplicate incident has no clocks (nil): nothing is
// owed for a non-incident, and filings already sent stay in the filing
// records. Reopening it brings the clocks back, counted from DetectedAt. An
// incident with a zero DetectedAt has no clocks either. inc is only read.
func (c *Clock) Deadlines(inc *incident.Incident, filed []Filing, now time.Time) []Deadline {
	if inc == nil || inc.DetectedAt.IsZero() || inc.State == incident.FalsePositive || inc.State == incident.Duplicate {
		return nil
	}
	// The clocks are first collected as small candidates on the stack and
	// sorted there; the (large) Deadlines are then written once, in order.
	var buf [16]candidate
	cands := buf[:0]
	nMet := 0
	push := func(k candidate) {
		if !k.met.IsZero() {
			nMet++
		}
		cands = append(cands, k)
	}

	if inc.Severity >= alert.Informational && inc.Severity <= alert.Critical {
		met := [3]time.Time{deref(inc.AcknowledgedAt), deref(inc.ContainedAt), earliest(inc.RecoveredAt, inc.ClosedAt)}
		for i := range c.sla[inc.Severity] {
			s := &c.sla[inc.Severity][i]
			if s.d > 0 {
				push(candidate{id: s.id, sla: s, start: inc.DetectedAt, due: inc.DetectedAt.Add(s.d), met: met[i]})
			}
		}
	}
	facts := factsOf(inc)
	for i := range c.rules {
		r := &c.rules[i]
		if r.mask&facts == 0 || !r.InForce(inc.DetectedAt) {
			continue
		}
		start, ok := startOf(r.Start, inc)
		if !ok {
			continue
		}
		d := r.Duration
		if r.Immediate {
			d = c.cfg.ImmediateGrace
		}
		k := candidate{id: r.ID, rule: r, start: start, due: start.Add(d)}
		for j := range filed {
			f := &filed[j]
			if f.At.IsZero() || (!k.met.IsZero() && !f.At.Before(k.met)) || !slices.Contains(r.meetIDs, f.Obligation) {
				continue
			}
			k.met, k.ref = f.At, f.Reference
		}
		push(k)
	}
	if len(cands) == 0 {
		return nil
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})

	out := make([]Deadline, len(cands))
	// One backing array for every MetAt pointer.
	metAt := make([]time.Time, 0, nMet)
	for i := range cands {
		k := &cands[i]
		d := &out[i]
		if k.rule != nil {
			r := k.rule
			*d = Deadline{
				ID: r.ID, Kind: KindLegal, Name: r.Name, NameVI: r.NameVI, Report: r.Report,
				Recipient: r.Recipient, Basis: r.Basis, Confidence: r.Confidence,
			}
		} else {
			*d = Deadline{ID: k.sla.id, Kind: KindSLA, Name: k.sla.name, NameVI: k.sla.nameVI, Basis: k.sla.basis}
		}
		d.Start, d.Due, d.DueIn = k.start, k.due, k.due.Sub(now)
		if k.met.IsZero() {
			d.Overdue = now.After(k.due)
			continue
		}
		metAt = append(metAt, k.met)
		d.MetAt = &metAt[len(metAt)-1]
		d.Met, d.Late, d.Reference = true, k.met.After(k.due), k.ref
	}
	return out
}

// candidate is one clock before it becomes a Deadline: rule or sla is set.
type candidate struct {
	id              string
	rule            *selectedRule
	sla             *slaClock
	start, due, met time.Time
	ref             string
}

// Due returns the deadlines of inc that are not met and run out within
// `within` of now (overdue ones included), sorted by due time: what the
// notifier loop should remind about.
func (c *Clock) Due(inc *incident.Incident, filed []Filing, now time.Time, within time.Duration) []Deadline {
	all := c.Deadlines(inc, filed, now)
	limit := now.Add(within)
	out := all[:0]
	for _, d := range all {
		if !d.Met && !d.Due.After(limit) {
			out = append(out, d)
		}
	}
	return out
}

// factsOf returns the condition bits that hold for inc.
func factsOf(inc *incident.Incident) uint16 {
	f := bitAlways
	if inc.Serious {
		f |= bitSerious
	}
	if inc.NationalSecurity {
		f |= bitNationalSecurity
	}
	if inc.SeriousDisruption {
		f |= bitSeriousDisruption
	}
	for _, k := range inc.PersonalData {
		f |= bitPersonalData
		switch k {
		case "basic":
			f |= bitPersonalBasic
		case "sensitive":
			f |= bitPersonalSensitive
		case "location":
			f |= bitPersonalLocation
		case "biometric":
			f |= bitPersonalBiometric
		}
	}
	return f
}

// startOf returns the time a rule's clock starts for inc, false if that has
// not happened yet.
func startOf(s Start, inc *incident.Incident) (time.Time, bool) {
	var t time.Time
	switch s {
	case StartDetected:
		t = inc.DetectedAt
	case StartOccurred:
		t = inc.DetectedAt
		if !inc.FirstSeen.IsZero() && inc.FirstSeen.Before(t) {
			t = inc.FirstSeen
		}
	case StartContained:
		t = deref(inc.ContainedAt)
	case StartRecovered:
		t = deref(inc.RecoveredAt)
		if t.IsZero() {
			t = deref(inc.ClosedAt)
		}
	case StartClosed:
		t = deref(inc.ClosedAt)
	}
	return t, !t.IsZero()
}

func deref(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

// earliest returns the earlier of the set times, zero if neither is set.
func earliest(a, b *time.Time) time.Time {
	x, y := deref(a), deref(b)
	switch {
	case x.IsZero():
		return y
	case y.IsZero() || x.Before(y):
		return x
	default:
		return y
	}
}
