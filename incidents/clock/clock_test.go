package clock

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"gopkg.in/yaml.v3"
)

// Reference times, Vietnam time.
var (
	inD331   = time.Date(2026, 9, 10, 8, 0, 0, 0, vietnam) // Decree 331 + Law 91
	inLegacy = time.Date(2025, 3, 10, 8, 0, 0, 0, vietnam) // TT20 + Decree 13
	inGap    = time.Date(2026, 7, 1, 8, 0, 0, 0, vietnam)  // Law 116 in force, D331 not yet: TT20 + Law 91
	d331Day  = time.Date(2026, 8, 19, 0, 0, 0, 0, vietnam) // Decree 331 effective
	law91Day = time.Date(2026, 1, 1, 0, 0, 0, 0, vietnam)  // Law 91 effective
)

func newClock(t testing.TB, edit func(*Config)) *Clock {
	t.Helper()
	cfg := DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// inc builds a medium incident detected at t; opts change it.
func inc(t time.Time, opts ...func(*incident.Incident)) *incident.Incident {
	i := &incident.Incident{ID: "INC-1", State: incident.Investigating, Severity: alert.Medium, DetectedAt: t, FirstSeen: t, Created: t}
	for _, o := range opts {
		o(i)
	}
	return i
}

func serious(i *incident.Incident)    { i.Serious = true }
func natSec(i *incident.Incident)     { i.NationalSecurity = true }
func disruption(i *incident.Incident) { i.SeriousDisruption = true }
func personal(kinds ...string) func(*incident.Incident) {
	return func(i *incident.Incident) { i.PersonalData = kinds }
}
func recoveredAt(t time.Time) func(*incident.Incident) {
	return func(i *incident.Incident) { i.RecoveredAt = &t; i.ContainedAt = &t; i.State = incident.Recovered }
}
func state(s incident.State) func(*incident.Incident) {
	return func(i *incident.Incident) { i.State = s }
}

// want is an expected legal deadline: id, due relative to detection, flags.
type want struct {
	id      string
	due     time.Duration
	met     bool
	late    bool
	overdue bool
	ref     string
}

func legal(ds []Deadline, detected time.Time) []want {
	var out []want
	for _, d := range ds {
		if d.Kind != KindLegal {
			continue
		}
		out = append(out, want{d.ID, d.Due.Sub(detected), d.Met, d.Late, d.Overdue, d.Reference})
	}
	return out
}

func TestDeadlinesLegal(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name  string
		edit  func(*Config)
		inc   *incident.Incident
		filed []Filing
		now   time.Duration // after detection
		want  []want
	}{
		{name: "ordinary incident under D331 has no legal clock", inc: inc(inD331), now: h},
		{name: "serious: 24h initial notice and 72h report", inc: inc(inD331, serious), now: h, want: []want{
			{id: "d331-serious-initial-24h", due: 24 * h},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h},
		}},
		{name: "national-security signs: immediate notice with grace, 72h report", inc: inc(inD331, natSec), now: 30 * time.Minute, want: []want{
			{id: "d331-immediate-notice", due: h},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h},
		}},
		{name: "serious disruption: immediate notice overdue after the grace", inc: inc(inD331, disruption), now: 2 * h, want: []want{
			{id: "d331-immediate-notice", due: h, overdue: true},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h},
		}},
		{name: "configured immediate grace", edit: func(c *Config) { c.ImmediateGrace = 30 * time.Minute }, inc: inc(inD331, natSec, serious), now: 0, want: []want{
			{id: "d331-immediate-notice", due: 30 * time.Minute},
			{id: "d331-serious-initial-24h", due: 24 * h},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h},
		}},
		{name: "basic personal data: agency notice 72h", inc: inc(inD331, personal("basic")), now: h, want: []want{
			{id: "law91-pdp-agency-72h", due: 72 * h},
		}},
		{name: "location data: agency and data subjects 72h", inc: inc(inD331, personal("basic", "location")), now: h, want: []want{
			{id: "d356-pdp-subjects-72h", due: 72 * h},
			{id: "law91-pdp-agency-72h", due: 72 * h},
		}},
		{name: "biometric data: agency and data subjects 72h", inc: inc(inD331, personal("biometric")), now: h, want: []want{
			{id: "d356-pdp-subjects-72h", due: 72 * h},
			{id: "law91-pdp-agency-72h", due: 72 * h},
		}},
		{name: "legacy: 5-day notice for every incident, no closing report before recovery", inc: inc(inLegacy), now: h, want: []want{
			{id: "tt20-notice-5d", due: 120 * h},
		}},
		{name: "legacy: closing report 5 days after recovery", inc: inc(inLegacy, recoveredAt(inLegacy.Add(48*h))), now: 50 * h, want: []want{
			{id: "tt20-notice-5d", due: 120 * h},
			{id: "tt20-closing-5d", due: 168 * h},
		}},
		{name: "legacy: closed without recovery starts the closing report at closure", inc: inc(inLegacy, func(i *incident.Incident) {
			c := inLegacy.Add(10 * h)
			i.ClosedAt, i.State = &c, incident.Closed
		}), now: 11 * h, want: []want{
			{id: "tt20-notice-5d", due: 120 * h},
			{id: "tt20-closing-5d", due: 130 * h},
		}},
		{name: "legacy serious: immediate initial report meets the 5-day notice", inc: inc(inLegacy, serious), filed: []Filing{
			{Obligation: "tt20-initial-report-immediate", At: inLegacy.Add(30 * time.Minute), Reference: "CV-1"},
		}, now: 2 * h, want: []want{
			{id: "tt20-initial-report-immediate", due: h, met: true, ref: "CV-1"},
			{id: "tt20-notice-5d", due: 120 * h, met: true, ref: "CV-1"},
		}},
		{name: "legacy personal data: Decree 13 from first event seen", inc: inc(inLegacy, personal("sensitive"), func(i *incident.Incident) {
			i.FirstSeen = inLegacy.Add(-10 * h)
		}), now: h, want: []want{
			{id: "d13-pdp-agency-72h", due: 62 * h},
			{id: "tt20-notice-5d", due: 120 * h},
		}},
		{name: "legacy personal data without first seen: from detection", inc: inc(inLegacy, personal("basic"), func(i *incident.Incident) {
			i.FirstSeen = time.Time{}
		}), now: h, want: []want{
			{id: "d13-pdp-agency-72h", due: 72 * h},
			{id: "tt20-notice-5d", due: 120 * h},
		}},
		{name: "filings mark met, the earliest wins; unfiled report overdue", inc: inc(inD331, serious), filed: []Filing{
			{Obligation: "d331-serious-initial-24h", At: inD331.Add(5 * h), Reference: "late-copy"},
			{Obligation: "d331-serious-initial-24h", At: inD331.Add(2 * h), Reference: "CV-12/A05"},
			{Obligation: "other-rule", At: inD331.Add(h)},
			{Obligation: "d331-cause-scope-remediation-72h"}, // zero time: ignored
		}, now: 80 * h, want: []want{
			{id: "d331-serious-initial-24h", due: 24 * h, met: true, ref: "CV-12/A05"},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h, overdue: true},
		}},
		{name: "immediate notice also meets the 24h initial notice", inc: inc(inD331, serious, natSec), filed: []Filing{
			{Obligation: "d331-immediate-notice", At: inD331.Add(20 * time.Minute)},
		}, now: 30 * h, want: []want{
			{id: "d331-immediate-notice", due: h, met: true},
			{id: "d331-serious-initial-24h", due: 24 * h, met: true},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h},
		}},
		{name: "filing after the due time is met but late", inc: inc(inD331, serious), filed: []Filing{
			{Obligation: "d331-serious-initial-24h", At: inD331.Add(30 * h)},
		}, now: 31 * h, want: []want{
			{id: "d331-serious-initial-24h", due: 24 * h, met: true, late: true},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h},
		}},
		{name: "auto: between Law 116 and Decree 331 the legacy notice applies, with Law 91", inc: inc(inGap, serious, personal("basic")), now: h, want: []want{
			{id: "tt20-initial-report-immediate", due: h},
			{id: "law91-pdp-agency-72h", due: 72 * h},
			{id: "tt20-notice-5d", due: 120 * h},
		}},
		{name: "auto: detected at the first instant of Decree 331", inc: inc(d331Day, serious), now: h, want: []want{
			{id: "d331-serious-initial-24h", due: 24 * h},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h},
		}},
		{name: "auto: detected the instant before Decree 331", inc: inc(d331Day.Add(-time.Nanosecond)), now: h, want: []want{
			{id: "tt20-notice-5d", due: 120 * h},
		}},
		{name: "auto: Law 91 from 1 Jan 2026, Decree 13 before", inc: inc(law91Day.Add(-time.Minute), personal("basic")), now: h, want: []want{
			{id: "d13-pdp-agency-72h", due: 72 * h},
			{id: "tt20-notice-5d", due: 120 * h},
		}},
		{name: "pinned d331: a 2025 incident gets no incident rule", edit: func(c *Config) { c.IncidentRegime = RegimeD331 }, inc: inc(inLegacy, serious), now: h},
		{name: "pinned legacy: a Decree 331-era incident gets no incident rule", edit: func(c *Config) { c.IncidentRegime = RegimeTT20 }, inc: inc(inD331, serious), now: h},
		{name: "pinned legacy: a 2025 incident keeps its rules", edit: func(c *Config) { c.IncidentRegime = RegimeTT20 }, inc: inc(inLegacy), now: h, want: []want{
			{id: "tt20-notice-5d", due: 120 * h},
		}},
		{name: "pdp regime none", edit: func(c *Config) { c.PDPRegime = RegimeNone }, inc: inc(inD331, serious, personal("location")), now: h, want: []want{
			{id: "d331-serious-initial-24h", due: 24 * h},
			{id: "d331-cause-scope-remediation-72h", due: 72 * h},
		}},
		{name: "false positive has no clocks", inc: inc(inD331, serious, personal("location"), state(incident.FalsePositive)), now: 100 * h},
		{name: "duplicate has no clocks", inc: inc(inD331, serious, state(incident.Duplicate)), now: 100 * h},
		{name: "no detection time: no clocks", inc: inc(time.Time{}, serious), now: h},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock(t, tt.edit)
			got := legal(c.Deadlines(tt.inc, tt.filed, tt.inc.DetectedAt.Add(tt.now)), tt.inc.DetectedAt)
			if !slices.Equal(got, tt.want) {
				t.Errorf("legal deadlines:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDeadlineFields(t *testing.T) {
	c := newClock(t, nil)
	filedAt := inD331.Add(2 * time.Hour)
	now := inD331.Add(3 * time.Hour)
	ds := c.Deadlines(inc(inD331, serious), []Filing{{Obligation: "d331-serious-initial-24h", At: filedAt, Reference: "CV-7"}}, now)
	i := slices.IndexFunc(ds, func(d Deadline) bool { return d.ID == "d331-serious-initial-24h" })
	if i < 0 {
		t.Fatalf("no initial notice in %+v", ds)
	}
	d := ds[i]
	if d.Kind != KindLegal || d.Report != ReportInitial || d.Recipient != "MPS specialized agency (A05)" ||
		d.Basis != "Nghị định 331/2026/NĐ-CP, Điều 31 khoản 2 điểm d" || d.Confidence != "P" || d.NameVI == "" || d.Name == "" {
		t.Errorf("descriptive fields: %+v", d)
	}
	if !d.Start.Equal(inD331) || !d.Due.Equal(inD331.Add(24*time.Hour)) || d.DueIn != 21*time.Hour {
		t.Errorf("start %s due %s due_in %s", d.Start, d.Due, d.DueIn)
	}
	if d.MetAt == nil || !d.MetAt.Equal(filedAt) || !d.Met || d.Overdue || d.Late || d.Reference != "CV-7" {
		t.Errorf("met fields: %+v", d)
	}
	if !slices.IsSortedFunc(ds, func(a, b Deadline) int { return a.Due.Compare(b.Due) }) {
		t.Errorf("not sorted by due: %+v", ds)
	}
}

func TestDeadlinesSLA(t *testing.T) {
	type sla struct {
		id      string
		due     time.Duration
		met     bool
		late    bool
		overdue bool
	}
	at := func(d time.Duration) *time.Time { x := inD331.Add(d); return &x }
	tests := []struct {
		name string
		edit func(*Config)
		inc  *incident.Incident
		now  time.Duration
		want []sla
	}{
		{name: "critical, nothing done, acknowledge overdue", inc: inc(inD331, func(i *incident.Incident) { i.Severity, i.State = alert.Critical, incident.New }), now: 20 * time.Minute, want: []sla{
			{id: SLAAcknowledge, due: 15 * time.Minute, overdue: true},
			{id: SLAContain, due: 4 * time.Hour},
			{id: SLAResolve, due: 24 * time.Hour},
		}},
		{name: "high, acknowledged late, contained in time", inc: inc(inD331, func(i *incident.Incident) {
			i.Severity, i.AcknowledgedAt, i.ContainedAt = alert.High, at(2*time.Hour), at(3*time.Hour)
		}), now: 80 * time.Hour, want: []sla{
			{id: SLAAcknowledge, due: time.Hour, met: true, late: true},
			{id: SLAContain, due: 8 * time.Hour, met: true},
			{id: SLAResolve, due: 72 * time.Hour, overdue: true},
		}},
		{name: "medium, resolved by recovery", inc: inc(inD331, func(i *incident.Incident) {
			i.AcknowledgedAt = at(time.Hour)
			recoveredAt(inD331.Add(20 * time.Hour))(i)
		}), now: 30 * time.Hour, want: []sla{
			{id: SLAAcknowledge, due: 4 * time.Hour, met: true},
			{id: SLAContain, due: 24 * time.Hour, met: true},
			{id: SLAResolve, due: 7 * 24 * time.Hour, met: true},
		}},
		{name: "low, resolved by closing", inc: inc(inD331, func(i *incident.Incident) {
			i.Severity, i.AcknowledgedAt, i.ContainedAt, i.ClosedAt, i.State = alert.Low, at(time.Hour), at(2*time.Hour), at(40*24*time.Hour), incident.Closed
		}), now: 41 * 24 * time.Hour, want: []sla{
			{id: SLAAcknowledge, due: 24 * time.Hour, met: true},
			{id: SLAContain, due: 72 * time.Hour, met: true},
			{id: SLAResolve, due: 30 * 24 * time.Hour, met: true, late: true},
		}},
		{name: "informational has no SLA", inc: inc(inD331, func(i *incident.Incident) { i.Severity = alert.Informational }), now: time.Hour},
		{name: "unknown severity has no SLA", inc: inc(inD331, func(i *incident.Incident) { i.Severity = 0 }), now: time.Hour},
		{name: "configured: no contain clock", edit: func(c *Config) { c.SLA.Medium = SLA{Acknowledge: time.Hour, Resolve: 48 * time.Hour} }, inc: inc(inD331), now: 0, want: []sla{
			{id: SLAAcknowledge, due: time.Hour},
			{id: SLAResolve, due: 48 * time.Hour},
		}},
		{name: "false positive keeps no SLA history", inc: inc(inD331, func(i *incident.Incident) {
			i.AcknowledgedAt, i.State = at(time.Minute), incident.FalsePositive
		}), now: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock(t, tt.edit)
			var got []sla
			for _, d := range c.Deadlines(tt.inc, nil, inD331.Add(tt.now)) {
				if d.Kind == KindSLA {
					got = append(got, sla{d.ID, d.Due.Sub(inD331), d.Met, d.Late, d.Overdue})
					if d.Met != (d.MetAt != nil) || d.Basis == "" || d.NameVI == "" {
						t.Errorf("%s: inconsistent fields %+v", d.ID, d)
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("SLA deadlines:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDue(t *testing.T) {
	c := newClock(t, nil)
	i := inc(inD331, serious, natSec, personal("basic"), func(i *incident.Incident) { i.Severity = alert.High })
	filed := []Filing{{Obligation: "d331-immediate-notice", At: inD331.Add(10 * time.Minute)}}
	now := inD331.Add(90 * time.Minute)
	var ids []string
	for _, d := range c.Due(i, filed, now, 2*time.Hour) {
		ids = append(ids, d.ID)
	}
	// Acknowledge (due +1h) is overdue; immediate notice and the 24h
	// initial are met by the filing; contain (+8h) and the 72h reports are
	// beyond the window.
	if want := []string{SLAAcknowledge}; !slices.Equal(ids, want) {
		t.Errorf("due within 2h: %v, want %v", ids, want)
	}
	ids = ids[:0]
	for _, d := range c.Due(i, filed, now, 7*time.Hour) {
		ids = append(ids, d.ID)
	}
	if want := []string{SLAAcknowledge, SLAContain}; !slices.Equal(ids, want) {
		t.Errorf("due within 7h: %v, want %v", ids, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string // substrings, each must appear; none means valid
		// newOK: New accepts it anyway (ApplyDefaults repairs it).
		newOK bool
	}{
		{name: "defaults", edit: func(*Config) {}},
		{name: "pinned regimes", edit: func(c *Config) { c.IncidentRegime, c.PDPRegime = RegimeTT20, RegimeD13 }},
		{name: "everything wrong at once", edit: func(c *Config) {
			c.IncidentRegime = "law91_2025"
			c.PDPRegime = "gdpr"
			c.ImmediateGrace = 48 * time.Hour
			c.SLA.High.Acknowledge = -time.Minute
			c.SLA.Critical.Resolve = time.Hour // shorter than contain 4h
			c.SLA.Low.Resolve = 400 * 24 * time.Hour
		}, want: []string{
			`incident_regime: "law91_2025" is not one of auto, d331_2026, legacy_tt20_2017, none`,
			`pdp_regime: "gdpr" is not one of auto, law91_2025, d13_2023, none`,
			"immediate_grace: 48h0m0s must be > 0 and at most 24h0m0s",
			"sla.high.acknowledge: -1m0s must not be negative",
			"sla.critical.resolve: 1h0m0s is shorter than contain (4h0m0s)",
			"sla.low.resolve: 9600h0m0s is longer than",
		}},
		{name: "zero grace is refused by Validate (ApplyDefaults sets it)", edit: func(c *Config) { c.ImmediateGrace = 0 }, want: []string{"immediate_grace:"}, newOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: nil error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, nerr := New(cfg); (nerr == nil) != tt.newOK {
				t.Errorf("New: err = %v, want accepted = %v", nerr, tt.newOK)
			}
		})
	}
}

func TestNewZeroConfig(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatalf("New(Config{}): %v", err)
	}
	ds := c.Deadlines(inc(inD331, natSec), nil, inD331)
	if len(ds) != 2 || ds[0].ID != "d331-immediate-notice" || ds[0].Due.Sub(inD331) != DefaultImmediateGrace {
		t.Errorf("zero config: want only legal clocks with the default grace, got %+v", ds)
	}
}

func TestRulesFile(t *testing.T) {
	const good = `version: "test-1"
rules:
  - id: province-notice-2h
    regime: d331_2026
    name: Provincial notice
    name_vi: Thông báo Công an tỉnh
    when: always
    start: detected
    duration: 2h
    report: notice
    recipient: Provincial police
    basis: Quy chế tỉnh, Điều 5
    confidence: U
    effective_from: 2020-01-01
`
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{name: "unknown field", yaml: strings.Replace(good, "report: notice", "report: notice\n    severity: high", 1), want: []string{"field severity not found"}},
		{name: "duplicate id and bad values, all reported", yaml: good + `  - id: province-notice-2h
    regime: d331
    name: ""
    name_vi: x
    when: [serious, personal_data:health]
    start: opened
    duration: 3 days
    report: email
    recipient: r
    basis: b
    confidence: maybe
    met_by: [nope]
    effective_from: 19/08/2026
    effective_to: 2020-01-01
`, want: []string{
			`rules[1].id: "province-notice-2h" already used by rules[0]`,
			`rules[1].regime: "d331" is not one of`,
			"rules[1].name: required",
			`rules[1].when[1]: unknown condition "personal_data:health"`,
			`rules[1].start: "opened" is not one of detected, occurred, contained, recovered, closed`,
			`rules[1].duration: "3 days": want a Go duration`,
			`rules[1].report: "email" is not one of`,
			`rules[1].confidence: "maybe"`,
			`rules[1].effective_from: "19/08/2026": want a date YYYY-MM-DD`,
			`rules[1].met_by[0]: no rule has id "nope"`,
		}},
		{name: "bad durations", yaml: strings.Replace(good, "duration: 2h", "duration: -2h", 1), want: []string{"rules[0].duration: \"-2h\": must be > 0"}},
		{name: "zero days", yaml: strings.Replace(good, "duration: 2h", "duration: 0d", 1), want: []string{"whole number of days"}},
		{name: "effective_to before from", yaml: strings.Replace(good, "effective_from: 2020-01-01", "effective_from: 2020-01-01\n    effective_to: 2019-01-01", 1), want: []string{"rules[0].effective_to: 2019-01-01 is not after effective_from 2020-01-01"}},
		{name: "met_by across families", yaml: good + strings.NewReplacer("province-notice-2h", "pdp-x", "d331_2026", "law91_2025", "report: notice", "report: pdp_agency_notice\n    met_by: [province-notice-2h]").Replace(good[strings.Index(good, "  - id"):]), want: []string{`rules[1].met_by[0]: "province-notice-2h" is a rule of another family`}},
		{name: "no version, no rules", yaml: "rules: []\n", want: []string{"version: required", "rules: at least one rule"}},
		{name: "empty", yaml: "", want: []string{"empty rules document"}},
		{name: "two documents", yaml: good + "---\nversion: x\n", want: []string{"more than one YAML document"}},
		{name: "not a mapping", yaml: "- 1\n- 2\n", want: []string{"decoding rules"}},
		{name: "when is a mapping", yaml: strings.Replace(good, "when: always", "when: {a: b}", 1), want: []string{"want a condition or a list of conditions, got a mapping"}},
		{name: "too large", yaml: "version: x\n#" + strings.Repeat("a", MaxRulesBytes), want: []string{"larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.RulesFile = path
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New accepted a bad rules file")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}

	t.Run("good file replaces the embedded set", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "rules.yaml")
		if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
			t.Fatal(err)
		}
		c := newClock(t, func(c *Config) { c.RulesFile = path })
		if c.RulesVersion() != "test-1" || len(c.Rules()) != 1 {
			t.Fatalf("version %q, rules %+v", c.RulesVersion(), c.Rules())
		}
		got := legal(c.Deadlines(inc(inD331), nil, inD331), inD331)
		if want := []want{{id: "province-notice-2h", due: 2 * time.Hour}}; !slices.Equal(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := New(Config{RulesFile: filepath.Join(t.TempDir(), "absent.yaml")})
		if err == nil || !strings.Contains(err.Error(), "reading rules") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRulesSelection(t *testing.T) {
	ids := func(c *Clock) []string {
		var out []string
		for _, r := range c.Rules() {
			out = append(out, r.ID)
		}
		return out
	}
	all := ids(newClock(t, nil))
	if len(all) != 9 {
		t.Errorf("auto selects %d rules, want all 9: %v", len(all), all)
	}
	got := ids(newClock(t, func(c *Config) { c.IncidentRegime, c.PDPRegime = RegimeD331, RegimeNone }))
	want := []string{"d331-immediate-notice", "d331-serious-initial-24h", "d331-cause-scope-remediation-72h"}
	if !slices.Equal(got, want) {
		t.Errorf("d331 + no PDP: %v, want %v", got, want)
	}
	// Rules returns a copy.
	c := newClock(t, nil)
	r := c.Rules()
	r[0].When[0] = "mutated"
	if c.Rules()[0].When[0] == "mutated" {
		t.Error("Rules exposes the clock's own slices")
	}
}

// TestConfigYAML decodes a configuration the way cmd does (strict, over
// the defaults): keys left out keep their defaults.
func TestConfigYAML(t *testing.T) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(`
incident_regime: d331_2026
immediate_grace: 30m
sla:
  critical: {acknowledge: 10m}
  informational: {resolve: 720h}
`))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.IncidentRegime, want.ImmediateGrace = RegimeD331, 30*time.Minute
	want.SLA.Critical.Acknowledge = 10 * time.Minute
	want.SLA.Informational.Resolve = 720 * time.Hour
	if cfg != want {
		t.Errorf("decoded %+v\nwant %+v", cfg, want)
	}

	dec = yaml.NewDecoder(strings.NewReader("sla:\n  urgent: {acknowledge: 1m}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err == nil || !strings.Contains(err.Error(), "field urgent not found") {
		t.Errorf("unknown severity accepted: %v", err)
	}
}
