package clock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func vnDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 30, 0, 0, vietnam) }

func defaultCalendar(t *testing.T) *Calendar {
	t.Helper()
	c, err := LoadCalendar("")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCalendarTet2026(t *testing.T) {
	c := defaultCalendar(t)
	for d := vnDay(2026, 2, 14); !d.After(vnDay(2026, 2, 22)); d = d.AddDate(0, 0, 1) {
		if c.IsWorkingDay(d) {
			t.Errorf("%s is a working day, want Tết", d.Format(time.DateOnly))
		}
		if name, ok := c.Holiday(d); !ok || !strings.Contains(name, "Tết Nguyên đán") {
			t.Errorf("Holiday(%s) = %q, %v", d.Format(time.DateOnly), name, ok)
		}
	}
	for _, d := range []time.Time{vnDay(2026, 2, 13), vnDay(2026, 2, 23)} {
		if !c.IsWorkingDay(d) {
			t.Errorf("%s should be a working day", d.Format(time.DateOnly))
		}
	}
}

func TestCalendarIsWorkingDay(t *testing.T) {
	c := defaultCalendar(t)
	tests := []struct {
		t    time.Time
		want bool
	}{
		{vnDay(2026, 11, 25), true},  // Wednesday
		{vnDay(2026, 11, 28), false}, // Saturday
		{vnDay(2026, 11, 29), false}, // Sunday
		{vnDay(2026, 1, 1), false},   // Tết Dương lịch
		{vnDay(2026, 4, 27), false},  // Giỗ Tổ (Sunday 26/4) day in lieu
		{vnDay(2026, 9, 2), false},   // Quốc khánh
		{vnDay(2025, 4, 26), true},   // Saturday worked for 2 May 2025
		{vnDay(2025, 5, 2), false},
		{vnDay(2027, 5, 3), false}, // 1 May 2027 is a Saturday
		{vnDay(2028, 1, 3), true},  // no data for 2028: weekdays only
		// 13 Feb 2026 18:00 UTC is 14 Feb 01:00 in Vietnam: Tết.
		{time.Date(2026, 2, 13, 18, 0, 0, 0, time.UTC), false},
		{time.Date(2026, 2, 13, 16, 59, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		if got := c.IsWorkingDay(tt.t); got != tt.want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", tt.t, got, tt.want)
		}
	}
	if y := c.Years(); len(y) != 3 || y[0] != 2025 || y[2] != 2027 {
		t.Errorf("Years() = %v", y)
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := defaultCalendar(t)
	tests := []struct {
		name string
		from time.Time
		n    int
		want time.Time
	}{
		{"zero keeps the time", vnDay(2026, 2, 15), 0, vnDay(2026, 2, 15)},
		{"plain week", vnDay(2026, 11, 23), 4, vnDay(2026, 11, 27)},
		{"across a weekend", vnDay(2026, 11, 27), 1, vnDay(2026, 11, 30)},
		{"across Tết", vnDay(2026, 2, 13), 5, vnDay(2026, 2, 27)},
		{"across a weekend and Giỗ Tổ day in lieu", vnDay(2026, 4, 24), 1, vnDay(2026, 4, 28)},
		{"across 30/4, 1/5 and a weekend", vnDay(2026, 4, 29), 1, vnDay(2026, 5, 4)},
		{"from a holiday", vnDay(2026, 2, 16), 1, vnDay(2026, 2, 23)},
		{"15 working days across Quốc khánh (D331 Art. 23(3))", vnDay(2026, 8, 24), 15, vnDay(2026, 9, 16)},
		{"includes a Saturday worked", vnDay(2025, 4, 25), 1, vnDay(2025, 4, 26)},
		{"backwards across Tết", vnDay(2026, 2, 23), -1, vnDay(2026, 2, 13)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.AddWorkingDays(tt.from, tt.n)
			if !got.Equal(tt.want) {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tt.from.Format(time.DateOnly), tt.n, got.Format(time.DateOnly), tt.want.Format(time.DateOnly))
			}
		})
	}
	// Huge n is capped, not looped forever.
	if got := c.AddWorkingDays(vnDay(2026, 1, 5), 1<<62); got.Year() < 2100 || got.Year() > 2250 {
		t.Errorf("capped AddWorkingDays went to %s", got)
	}
}

func TestHolidaysFile(t *testing.T) {
	write := func(t *testing.T, s string) string {
		p := filepath.Join(t.TempDir(), "holidays.yaml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("a listed year replaces the embedded one", func(t *testing.T) {
		c, err := LoadCalendar(write(t, `version: province-1
years:
  2026:
    - {name: Tết Dương lịch, date: 2026-01-01, confidence: P, source: provincial notice}
    - {name: Ngày Văn hóa, date: 2026-11-24, confidence: U}
  2028:
    - {name: Tết Dương lịch, date: 2028-01-03, confidence: U}
`))
		if err != nil {
			t.Fatal(err)
		}
		if !c.IsWorkingDay(vnDay(2026, 2, 16)) {
			t.Error("2026 Tết from the embedded set survived the replacement")
		}
		if c.IsWorkingDay(vnDay(2026, 11, 24)) || c.IsWorkingDay(vnDay(2028, 1, 3)) {
			t.Error("provincial days off missing")
		}
		if c.IsWorkingDay(vnDay(2025, 1, 1)) {
			t.Error("embedded 2025 lost")
		}
	})
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"errors with paths", `version: x
years:
  2026:
    - {name: a, date: 2026-01-05, working: true, confidence: U}
    - {name: b, from: 2026-02-10, to: 2026-02-01, confidence: U}
    - {name: c, date: 2027-01-01, confidence: U}
    - {name: d, from: 2026-01-01, to: 2026-03-01, confidence: U}
    - {name: e, date: 2026-01-01, from: 2026-01-01, to: 2026-01-02, confidence: U}
    - {name: "", date: 2026-13-01, confidence: X}
  1900:
    - {name: old, date: 1900-01-01, confidence: U}
`, []string{
			"years.2026[0].working: 2026-01-05 is not a Saturday or Sunday",
			"years.2026[1].to: 2026-02-01 is before from 2026-02-10",
			"years.2026[2]: 2027-01-01 – 2027-01-01 is not in 2026",
			"years.2026[3]: range of 60 days, at most 31",
			"years.2026[4]: give either date or from/to, not both",
			"years.2026[5].name: required",
			`years.2026[5].confidence: "X"`,
			`years.2026[5].date: "2026-13-01"`,
			"years.1900: year must be from 2000 to 2100",
		}},
		{"unknown field", "version: x\nyears:\n  2026:\n    - {name: a, day: 2026-01-01, confidence: U}\n", []string{"field day not found"}},
		{"missing dates", "version: x\nyears:\n  2026:\n    - {name: a, confidence: U}\n", []string{"years.2026[0].from: required", "years.2026[0].to: required"}},
		{"empty", "", []string{"empty holidays document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, tt.yaml)
			_, err := LoadCalendar(p)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tt.want, p) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	t.Run("via Config", func(t *testing.T) {
		p := write(t, "version: x\nyears:\n  2026:\n    - {name: a, date: 2026-12-01, confidence: U}\n")
		c := newClock(t, func(c *Config) { c.HolidaysFile = p })
		if c.Calendar().IsWorkingDay(vnDay(2026, 12, 1)) {
			t.Error("holidays_file not used")
		}
		if _, err := New(Config{HolidaysFile: p + ".absent"}); err == nil || !strings.Contains(err.Error(), "reading holidays") {
			t.Errorf("missing holidays file: %v", err)
		}
	})
}

func FuzzParseHolidays(f *testing.F) {
	f.Add(embeddedHolidays)
	f.Add([]byte("version: x\nyears:\n  2026:\n    - {name: a, from: 2026-01-01, to: 2026-01-31, confidence: U}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxHolidaysBytes+1 {
			return
		}
		set, err := ParseHolidays(data)
		if err != nil {
			return
		}
		c := NewCalendar(set)
		for year, hs := range set {
			for _, h := range hs {
				if h.To.Before(h.From) || h.From.Year() != year || daysBetween(h.From, h.To) >= maxHolidayRange {
					t.Fatalf("%d: bad holiday %+v", year, h)
				}
				// Every year keeps working days, so AddWorkingDays ends.
				_ = c.AddWorkingDays(h.From, 10)
			}
		}
	})
}
