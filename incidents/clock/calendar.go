package clock

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

//go:embed holidays.yaml
var embeddedHolidays []byte

// Limits of a holidays file.
const (
	// MaxHolidaysBytes bounds a holidays file.
	MaxHolidaysBytes = 64 << 10
	maxHolidayRange  = 31 // days in one range
	maxHolidayYears  = 50
	minHolidayYear   = 2000
	maxHolidayYear   = 2100
	// maxWorkingDays bounds AddWorkingDays' n.
	maxWorkingDays = 36600
)

// Holiday is a day or an inclusive range of Vietnamese calendar days off
// (or, with Working, a weekend day that is a working day: ngày làm bù).
type Holiday struct {
	Name       string    `json:"name"`
	From       time.Time `json:"from"` // start of the first day, Vietnam time
	To         time.Time `json:"to"`   // start of the last day, Vietnam time
	Working    bool      `json:"working,omitempty"`
	Confidence string    `json:"confidence"`
	Source     string    `json:"source,omitempty"`
}

// HolidaySet is the holidays of each year.
type HolidaySet map[int][]Holiday

type holidayFile struct {
	Version string                `yaml:"version"`
	Years   map[int][]holidayYAML `yaml:"years"`
}

type holidayYAML struct {
	Name       string `yaml:"name"`
	Date       string `yaml:"date"`
	From       string `yaml:"from"`
	To         string `yaml:"to"`
	Working    bool   `yaml:"working"`
	Confidence string `yaml:"confidence"`
	Source     string `yaml:"source"`
}

// ParseHolidays decodes and validates a holidays document (the schema of
// the embedded holidays.yaml): every entry inside its year, ranges of at
// most 31 days, working days only on weekends. Every problem is reported
// at once with its path (years.2026[1].to: ...).
func ParseHolidays(data []byte) (HolidaySet, error) {
	if len(data) > MaxHolidaysBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxHolidaysBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f holidayFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty holidays document")
		}
		return nil, fmt.Errorf("decoding holidays: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding holidays: more than one YAML document")
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(f.Version) == "" {
		bad("version: required")
	}
	if len(f.Years) > maxHolidayYears {
		return nil, fmt.Errorf("years: %d years, at most %d", len(f.Years), maxHolidayYears)
	}
	set := make(HolidaySet, len(f.Years))
	for _, year := range slices.Sorted(maps.Keys(f.Years)) {
		if year < minHolidayYear || year > maxHolidayYear {
			bad("years.%d: year must be from %d to %d", year, minHolidayYear, maxHolidayYear)
			continue
		}
		entries := f.Years[year]
		if len(entries) > 100 {
			bad("years.%d: %d entries, at most 100", year, len(entries))
			continue
		}
		days := make([]Holiday, 0, len(entries))
		for i, e := range entries {
			p := fmt.Sprintf("years.%d[%d]", year, i)
			h := Holiday{Name: e.Name, Working: e.Working, Confidence: e.Confidence, Source: e.Source}
			if strings.TrimSpace(e.Name) == "" {
				bad("%s.name: required", p)
			}
			if utf8.RuneCountInString(e.Name) > 200 || utf8.RuneCountInString(e.Source) > maxTextRunes {
				bad("%s: name longer than 200 or source longer than %d characters", p, maxTextRunes)
			}
			if err := checkConfidence(e.Confidence); err != nil {
				bad("%s.confidence: %v", p, err)
			}
			var err error
			switch {
			case e.Date != "" && (e.From != "" || e.To != ""):
				bad("%s: give either date or from/to, not both", p)
				continue
			case e.Date != "":
				if h.From, err = parseDate(e.Date); err != nil {
					bad("%s.date: %v", p, err)
					continue
				}
				h.To = h.From
			default:
				var errFrom, errTo error
				h.From, errFrom = parseDate(e.From)
				h.To, errTo = parseDate(e.To)
				if errFrom != nil {
					bad("%s.from: %v", p, errFrom)
				}
				if errTo != nil {
					bad("%s.to: %v", p, errTo)
				}
				if errFrom != nil || errTo != nil {
					continue
				}
			}
			n := daysBetween(h.From, h.To)
			switch {
			case n < 0:
				bad("%s.to: %s is before from %s", p, h.To.Format(time.DateOnly), h.From.Format(time.DateOnly))
				continue
			case n >= maxHolidayRange:
				bad("%s: range of %d days, at most %d", p, n+1, maxHolidayRange)
				continue
			}
			if h.From.Year() != year || h.To.Year() != year {
				bad("%s: %s – %s is not in %d", p, h.From.Format(time.DateOnly), h.To.Format(time.DateOnly), year)
			}
			if h.Working {
				for d := h.From; !d.After(h.To); d = d.AddDate(0, 0, 1) {
					if !weekend(d) {
						bad("%s.working: %s is not a Saturday or Sunday", p, d.Format(time.DateOnly))
						break
					}
				}
			}
			days = append(days, h)
		}
		set[year] = days
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}

// EmbeddedHolidays parses the holiday set built into the binary (2025–2027).
func EmbeddedHolidays() (HolidaySet, error) {
	s, err := ParseHolidays(embeddedHolidays)
	if err != nil {
		return nil, fmt.Errorf("embedded holidays.yaml: %w", err)
	}
	return s, nil
}

// LoadCalendar returns the embedded holidays with the years listed in the
// file at path replacing the embedded ones ("" for the embedded set only).
func LoadCalendar(path string) (*Calendar, error) {
	base, err := EmbeddedHolidays()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return NewCalendar(base), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading holidays: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxHolidaysBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading holidays %s: %w", path, err)
	}
	own, err := ParseHolidays(data)
	if err != nil {
		return nil, fmt.Errorf("holidays %s: %w", path, err)
	}
	return NewCalendar(base, own), nil
}

// dayKey is a Vietnamese calendar day as yyyymmdd.
type dayKey int32

func keyOf(t time.Time) dayKey {
	y, m, d := t.In(vietnam).Date()
	return dayKey(y*10000 + int(m)*100 + d)
}

type dayInfo struct {
	name    string
	working bool // a weekend day worked (làm bù); otherwise a day off
}

// Calendar tells Vietnamese working days (ngày làm việc): Monday to Friday
// except public holidays, plus the weekend days worked in exchange for a
// bridged day. Days are Vietnam calendar days (UTC+7) whatever the time
// zone of the times passed in. A Calendar is immutable and safe for
// concurrent use. Years without holiday data count weekends only; check
// Years before relying on a far date.
type Calendar struct {
	days  map[dayKey]dayInfo
	years []int
}

// NewCalendar builds a calendar from holiday sets; a year present in a
// later set replaces that year of the earlier ones.
func NewCalendar(sets ...HolidaySet) *Calendar {
	merged := HolidaySet{}
	for _, s := range sets {
		maps.Copy(merged, s)
	}
	c := &Calendar{days: map[dayKey]dayInfo{}, years: slices.Sorted(maps.Keys(merged))}
	for _, year := range c.years {
		for _, h := range merged[year] {
			for d := h.From; !d.After(h.To); d = d.AddDate(0, 0, 1) {
				c.days[keyOf(d)] = dayInfo{name: h.Name, working: h.Working}
			}
		}
	}
	return c
}

// Years lists the years the calendar has holiday data for.
func (c *Calendar) Years() []int { return slices.Clone(c.years) }

// Holiday returns the name of the public holiday on t's day, if it is one.
func (c *Calendar) Holiday(t time.Time) (string, bool) {
	d, ok := c.days[keyOf(t)]
	if !ok || d.working {
		return "", false
	}
	return d.name, true
}

// IsWorkingDay reports whether t's day (in Vietnam) is a working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	if d, ok := c.days[keyOf(t)]; ok {
		return d.working
	}
	return !weekend(t)
}

// AddWorkingDays returns the same Vietnam wall-clock time on the n-th
// working day after t's day (before it for negative n); t itself for n ==
// 0, whether or not t's day is a working day. So a 5-working-day term
// received on Friday 13 Feb 2026 (before the Tết break, 14–22 Feb) ends on
// Friday 27 Feb 2026. |n| is capped at 36,600. The result is in Vietnam
// time.
func (c *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	n = max(min(n, maxWorkingDays), -maxWorkingDays)
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	d := t.In(vietnam)
	for n > 0 {
		d = d.AddDate(0, 0, step)
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d
}

func weekend(t time.Time) bool {
	wd := t.In(vietnam).Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// daysBetween counts calendar days from a to b (both day starts).
func daysBetween(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	ua := time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)
	ub := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
	return int(ub.Sub(ua) / (24 * time.Hour))
}
