package clock

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var embeddedRules []byte

// Regimes. A regime is one legal text's set of rules; the incident regimes
// and the personal-data regimes are selected separately (Config).
const (
	RegimeD331   = "d331_2026"        // Decree 331/2026/NĐ-CP, in force 19 Aug 2026
	RegimeTT20   = "legacy_tt20_2017" // Decision 05/2017 + Circular 20/2017, legacy
	RegimeLaw91  = "law91_2025"       // Law 91/2025/QH15 + Decree 356/2025, in force 1 Jan 2026
	RegimeD13    = "d13_2023"         // Decree 13/2023/NĐ-CP, 1 Jul 2023 – 31 Dec 2025
	RegimeAuto   = "auto"             // Config only: every regime of the family, chosen by effective dates
	RegimeNone   = "none"             // Config only: no rule of the family applies
	familyIncid  = "incident"
	familyPDP    = "personal_data"
	maxRules     = 500
	maxTextRunes = 2000
	// MaxRulesBytes bounds a rules file.
	MaxRulesBytes = 256 << 10
	// maxRuleDuration bounds a rule's duration.
	maxRuleDuration = 366 * 24 * time.Hour
)

// regimeFamily maps every known regime to its family.
var regimeFamily = map[string]string{
	RegimeD331:  familyIncid,
	RegimeTT20:  familyIncid,
	RegimeLaw91: familyPDP,
	RegimeD13:   familyPDP,
}

// Report types a rule asks for. Report generators branch on them.
const (
	ReportNotice                   = "notice"
	ReportInitial                  = "initial"
	ReportCauseScopeRemediation72h = "cause_scope_remediation_72h"
	ReportClosing                  = "closing"
	ReportPDPAgencyNotice          = "pdp_agency_notice"  // Decree 356 Form 08 (legacy: Decree 13 Form 03)
	ReportPDPSubjectNotice         = "pdp_subject_notice" // to the data subjects
)

var reportTypes = []string{ReportNotice, ReportInitial, ReportCauseScopeRemediation72h, ReportClosing, ReportPDPAgencyNotice, ReportPDPSubjectNotice}

// Start is the incident time a rule's clock runs from.
type Start string

// Starts.
const (
	// StartDetected is Incident.DetectedAt (discovery, phát hiện).
	StartDetected Start = "detected"
	// StartOccurred is the best known occurrence time: Incident.FirstSeen
	// (the first event seen) when set and not after DetectedAt, otherwise
	// DetectedAt. The real occurrence may be earlier.
	StartOccurred Start = "occurred"
	// StartContained is Incident.ContainedAt.
	StartContained Start = "contained"
	// StartRecovered is the end of the response: Incident.RecoveredAt, or
	// ClosedAt for an incident closed without being recovered.
	StartRecovered Start = "recovered"
	// StartClosed is Incident.ClosedAt.
	StartClosed Start = "closed"
)

var starts = []Start{StartDetected, StartOccurred, StartContained, StartRecovered, StartClosed}

// Condition is a fact about an incident that makes a rule apply.
type Condition string

// Conditions. PersonalData kinds are those of Incident.PersonalData.
const (
	CondAlways             Condition = "always"
	CondSerious            Condition = "serious"
	CondNationalSecurity   Condition = "national_security"
	CondSeriousDisruption  Condition = "serious_disruption"
	CondPersonalData       Condition = "personal_data" // any kind
	CondPersonalBasic      Condition = "personal_data:basic"
	CondPersonalSensitive  Condition = "personal_data:sensitive"
	CondPersonalLocation   Condition = "personal_data:location"
	CondPersonalBiometric  Condition = "personal_data:biometric"
	personalDataKindPrefix           = "personal_data:"
)

// Condition bits of an incident's fact mask.
const (
	bitAlways uint16 = 1 << iota
	bitSerious
	bitNationalSecurity
	bitSeriousDisruption
	bitPersonalData
	bitPersonalBasic
	bitPersonalSensitive
	bitPersonalLocation
	bitPersonalBiometric
)

// conditionBits gives each condition its bit.
var conditionBits = map[Condition]uint16{
	CondAlways:            bitAlways,
	CondSerious:           bitSerious,
	CondNationalSecurity:  bitNationalSecurity,
	CondSeriousDisruption: bitSeriousDisruption,
	CondPersonalData:      bitPersonalData,
	CondPersonalBasic:     bitPersonalBasic,
	CondPersonalSensitive: bitPersonalSensitive,
	CondPersonalLocation:  bitPersonalLocation,
	CondPersonalBiometric: bitPersonalBiometric,
}

// Confidence tags of docs/domain-vn.md.
var confidenceTags = []string{"P", "S", "N", "U"}

// Rule is one legal deadline: when it applies, what it asks for, by when,
// and why (basis and confidence). Rules are read-only once loaded.
type Rule struct {
	ID     string      `json:"id"`
	Regime string      `json:"regime"`
	Name   string      `json:"name"`
	NameVI string      `json:"name_vi"`
	When   []Condition `json:"when"`
	Start  Start       `json:"start"`
	// DurationText is the duration as written ("24h", "5d", "immediately").
	DurationText string `json:"duration"`
	// Duration is the parsed duration; 0 when Immediate.
	Duration time.Duration `json:"-"`
	// Immediate rules are due after Config.ImmediateGrace.
	Immediate     bool       `json:"immediate,omitempty"`
	Report        string     `json:"report"`
	Recipient     string     `json:"recipient"`
	Basis         string     `json:"basis"`
	Confidence    string     `json:"confidence"`
	Note          string     `json:"note,omitempty"`
	MetBy         []string   `json:"met_by,omitempty"`
	EffectiveFrom time.Time  `json:"effective_from"`
	EffectiveTo   *time.Time `json:"effective_to,omitempty"`

	mask uint16 // conditionBits of When, OR-ed
}

// InForce reports whether the rule is in force at t: EffectiveFrom ≤ t <
// EffectiveTo.
func (r *Rule) InForce(t time.Time) bool {
	return !t.Before(r.EffectiveFrom) && (r.EffectiveTo == nil || t.Before(*r.EffectiveTo))
}

// RuleSet is a versioned list of rules.
type RuleSet struct {
	Version string `json:"version"`
	Rules   []Rule `json:"rules"`
}

// ruleFile and ruleYAML are the file schema.
type ruleFile struct {
	Version string     `yaml:"version"`
	Rules   []ruleYAML `yaml:"rules"`
}

type ruleYAML struct {
	ID            string     `yaml:"id"`
	Regime        string     `yaml:"regime"`
	Name          string     `yaml:"name"`
	NameVI        string     `yaml:"name_vi"`
	When          stringList `yaml:"when"`
	Start         string     `yaml:"start"`
	Duration      string     `yaml:"duration"`
	Report        string     `yaml:"report"`
	Recipient     string     `yaml:"recipient"`
	Basis         string     `yaml:"basis"`
	Confidence    string     `yaml:"confidence"`
	Note          string     `yaml:"note"`
	MetBy         []string   `yaml:"met_by"`
	EffectiveFrom string     `yaml:"effective_from"`
	EffectiveTo   string     `yaml:"effective_to"`
}

// stringList decodes either one scalar or a sequence of scalars.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = stringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(stringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a condition name, got a %s", c.Line, kindName(c.Kind))
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	default:
		return fmt.Errorf("line %d: want a condition or a list of conditions, got a %s", n.Line, kindName(n.Kind))
	}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	default:
		return "value"
	}
}

// vietnam is Vietnam's time zone (UTC+7, no daylight saving since 1975).
// Legal dates (effective dates, holidays) are Vietnamese calendar days.
var vietnam = time.FixedZone("ICT", 7*60*60)

// EmbeddedRules parses the rule set built into the binary. It fails only
// if the embedded file is broken, which TestEmbeddedRules prevents.
func EmbeddedRules() (*RuleSet, error) {
	rs, err := ParseRules(embeddedRules)
	if err != nil {
		return nil, fmt.Errorf("embedded rules.yaml: %w", err)
	}
	return rs, nil
}

// LoadRules reads and parses a rules file (at most MaxRulesBytes).
func LoadRules(path string) (*RuleSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxRulesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading rules %s: %w", path, err)
	}
	rs, err := ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	return rs, nil
}

// ParseRules decodes and validates a rules document (the schema of the
// embedded rules.yaml). Unknown keys, duplicate ids, bad durations, dates,
// conditions, regimes and references are refused; every problem is
// reported at once with its path (rules[3].duration: ...). Input larger
// than MaxRulesBytes is refused before decoding.
func ParseRules(data []byte) (*RuleSet, error) {
	if len(data) > MaxRulesBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxRulesBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f ruleFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty rules document")
		}
		return nil, fmt.Errorf("decoding rules: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding rules: more than one YAML document")
	}
	return f.build()
}

func (f *ruleFile) build() (*RuleSet, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(f.Version) == "" {
		bad("version: required")
	} else if len(f.Version) > 64 {
		bad("version: longer than 64 bytes")
	}
	if len(f.Rules) == 0 {
		bad("rules: at least one rule is required")
	}
	if len(f.Rules) > maxRules {
		return nil, fmt.Errorf("rules: %d rules, at most %d", len(f.Rules), maxRules)
	}
	rs := &RuleSet{Version: f.Version, Rules: make([]Rule, 0, len(f.Rules))}
	seen := make(map[string]int, len(f.Rules))
	for i := range f.Rules {
		y := &f.Rules[i]
		p := fmt.Sprintf("rules[%d]", i)
		r := Rule{
			ID: y.ID, Regime: y.Regime, Name: y.Name, NameVI: y.NameVI,
			Start: Start(y.Start), DurationText: y.Duration, Report: y.Report,
			Recipient: y.Recipient, Basis: y.Basis, Confidence: y.Confidence,
			Note: y.Note, MetBy: slices.Clone(y.MetBy),
		}
		if !validID(y.ID) {
			bad("%s.id: %q must be 1–64 of a-z, 0-9 and '-', starting with a letter or digit", p, y.ID)
		} else if j, dup := seen[y.ID]; dup {
			bad("%s.id: %q already used by rules[%d]", p, y.ID, j)
		} else {
			seen[y.ID] = i
		}
		if _, ok := regimeFamily[y.Regime]; !ok {
			bad("%s.regime: %q is not one of %s", p, y.Regime, strings.Join(knownRegimes(), ", "))
		}
		for _, t := range []struct{ key, val string }{
			{"name", y.Name}, {"name_vi", y.NameVI}, {"recipient", y.Recipient}, {"basis", y.Basis},
		} {
			if strings.TrimSpace(t.val) == "" {
				bad("%s.%s: required", p, t.key)
			}
		}
		for _, t := range []struct{ key, val string }{
			{"name", y.Name}, {"name_vi", y.NameVI}, {"recipient", y.Recipient}, {"basis", y.Basis}, {"note", y.Note},
		} {
			if utf8.RuneCountInString(t.val) > maxTextRunes {
				bad("%s.%s: longer than %d characters", p, t.key, maxTextRunes)
			}
		}
		if len(y.When) == 0 {
			bad("%s.when: required (use %q for every incident)", p, CondAlways)
		}
		for j, c := range y.When {
			bit, ok := conditionBits[Condition(c)]
			if !ok {
				bad("%s.when[%d]: unknown condition %q (want one of %s)", p, j, c, strings.Join(knownConditions(), ", "))
				continue
			}
			r.When = append(r.When, Condition(c))
			r.mask |= bit
		}
		if !slices.Contains(starts, r.Start) {
			bad("%s.start: %q is not one of %s", p, y.Start, joinStarts())
		}
		d, imm, err := parseRuleDuration(y.Duration)
		if err != nil {
			bad("%s.duration: %v", p, err)
		}
		r.Duration, r.Immediate = d, imm
		if !slices.Contains(reportTypes, y.Report) {
			bad("%s.report: %q is not one of %s", p, y.Report, strings.Join(reportTypes, ", "))
		}
		if err := checkConfidence(y.Confidence); err != nil {
			bad("%s.confidence: %v", p, err)
		}
		from, err := parseDate(y.EffectiveFrom)
		if err != nil {
			bad("%s.effective_from: %v", p, err)
		}
		r.EffectiveFrom = from
		if y.EffectiveTo != "" {
			to, err := parseDate(y.EffectiveTo)
			switch {
			case err != nil:
				bad("%s.effective_to: %v", p, err)
			case !to.After(from):
				bad("%s.effective_to: %s is not after effective_from %s", p, y.EffectiveTo, y.EffectiveFrom)
			default:
				r.EffectiveTo = &to
			}
		}
		rs.Rules = append(rs.Rules, r)
	}
	// References are checked once every id is known.
	for i := range rs.Rules {
		r := &rs.Rules[i]
		for j, ref := range r.MetBy {
			k, ok := seen[ref]
			switch {
			case !ok:
				bad("rules[%d].met_by[%d]: no rule has id %q", i, j, ref)
			case ref == r.ID:
				bad("rules[%d].met_by[%d]: a rule cannot list itself", i, j)
			case regimeFamily[rs.Rules[k].Regime] != regimeFamily[r.Regime]:
				bad("rules[%d].met_by[%d]: %q is a rule of another family (%s)", i, j, ref, rs.Rules[k].Regime)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rs, nil
}

// parseRuleDuration reads "immediately", a Go duration ("24h", "90m") or
// whole days ("5d"), positive and at most maxRuleDuration.
func parseRuleDuration(s string) (time.Duration, bool, error) {
	if s == "immediately" {
		return 0, true, nil
	}
	if s == "" {
		return 0, false, errors.New(`required ("24h", "5d" or "immediately")`)
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > int(maxRuleDuration/(24*time.Hour)) {
			return 0, false, fmt.Errorf("%q: want a whole number of days from 1 to %d", s, maxRuleDuration/(24*time.Hour))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, false, fmt.Errorf("%q: want a Go duration (24h), days (5d) or \"immediately\"", s)
		}
	}
	if d <= 0 || d > maxRuleDuration {
		return 0, false, fmt.Errorf("%q: must be > 0 and at most %s (use \"immediately\" for no delay)", s, maxRuleDuration)
	}
	return d, false, nil
}

// parseDate reads YYYY-MM-DD as the start of that day in Vietnam.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("required (YYYY-MM-DD)")
	}
	t, err := time.ParseInLocation(time.DateOnly, s, vietnam)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a date YYYY-MM-DD", s)
	}
	return t, nil
}

func checkConfidence(s string) error {
	if s == "" {
		return errors.New("required (P, S, N or U)")
	}
	for tag := range strings.SplitSeq(s, "/") {
		if !slices.Contains(confidenceTags, tag) {
			return fmt.Errorf("%q: want P, S, N or U, several joined by '/'", s)
		}
	}
	return nil
}

func validID(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func knownRegimes() []string {
	return []string{RegimeD331, RegimeTT20, RegimeLaw91, RegimeD13}
}

func knownConditions() []string {
	out := make([]string, 0, len(conditionBits))
	for c := range conditionBits {
		out = append(out, string(c))
	}
	slices.Sort(out)
	return out
}

func joinStarts() string {
	s := make([]string, len(starts))
	for i, v := range starts {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
