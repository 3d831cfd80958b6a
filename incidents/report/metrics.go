package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// Summary is the incident statistics of a period, overall and per tenant.
type Summary struct {
	// From and To bound the period [From, To).
	From, To time.Time
	// Overall counts every incident of the period.
	Overall Stats
	// Tenants holds one entry per tenant with incidents in the period,
	// ordered by tenant.
	Tenants []TenantStats
}

// TenantStats is one tenant's statistics.
type TenantStats struct {
	Tenant string
	Stats
}

// Stats counts incidents and measures how fast they were handled.
type Stats struct {
	// Total counts every incident, dismissed ones included.
	Total int
	// Dismissed counts false positives and duplicates; they are in Total
	// and the counts below but not in the response times.
	Dismissed int
	// Counts by category, severity, state and source ("detection",
	// "manual"). A key that never occurs is absent.
	ByCategory map[incident.Category]int
	BySeverity map[alert.Severity]int
	ByState    map[incident.State]int
	BySource   map[string]int
	// MTTA is DetectedAt → AcknowledgedAt, MTTC DetectedAt → ContainedAt,
	// MTTR DetectedAt → RecoveredAt (ClosedAt when never recovered).
	MTTA, MTTC, MTTR Durations
}

// Durations describes a set of durations. N says how many incidents the
// figures are based on; with N == 0 the figures are zero and mean nothing.
type Durations struct {
	N int
	// Median is the middle value (the mean of the two middle values for an
	// even N); P90 is the nearest-rank 90th percentile: the smallest value
	// at least 90% of the values are not above.
	Median, Mean, P90 time.Duration
}

// Summarize computes the statistics of the incidents detected in [from, to)
// (by DetectedAt, or Created when DetectedAt is unset). Incidents outside the
// period are ignored. Response times leave out dismissed incidents
// (false positives, duplicates), incidents that have not reached the
// milestone, and milestones recorded before detection (bad data).
func Summarize(incs []incident.Incident, from, to time.Time) Summary {
	s := Summary{From: from, To: to, Overall: newStats()}
	overall := &s.Overall
	acc := struct{ a, c, r []time.Duration }{}
	type tenantAcc struct {
		stats   Stats
		a, c, r []time.Duration
	}
	tenants := map[string]*tenantAcc{}
	for i := range incs {
		inc := &incs[i]
		at := inc.DetectedAt
		if at.IsZero() {
			at = inc.Created
		}
		if at.Before(from) || !at.Before(to) {
			continue
		}
		ta := tenants[inc.Tenant]
		if ta == nil {
			ta = &tenantAcc{stats: newStats()}
			tenants[inc.Tenant] = ta
		}
		tally(overall, inc)
		tally(&ta.stats, inc)
		if inc.State == incident.FalsePositive || inc.State == incident.Duplicate {
			continue
		}
		if d, ok := since(at, inc.AcknowledgedAt); ok {
			acc.a, ta.a = append(acc.a, d), append(ta.a, d)
		}
		if d, ok := since(at, inc.ContainedAt); ok {
			acc.c, ta.c = append(acc.c, d), append(ta.c, d)
		}
		end := inc.RecoveredAt
		if end == nil {
			end = inc.ClosedAt
		}
		if d, ok := since(at, end); ok {
			acc.r, ta.r = append(acc.r, d), append(ta.r, d)
		}
	}
	overall.MTTA, overall.MTTC, overall.MTTR = describe(acc.a), describe(acc.c), describe(acc.r)
	names := make([]string, 0, len(tenants))
	for t := range tenants {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		ta := tenants[t]
		ta.stats.MTTA, ta.stats.MTTC, ta.stats.MTTR = describe(ta.a), describe(ta.c), describe(ta.r)
		s.Tenants = append(s.Tenants, TenantStats{Tenant: t, Stats: ta.stats})
	}
	return s
}

func newStats() Stats {
	return Stats{
		ByCategory: map[incident.Category]int{},
		BySeverity: map[alert.Severity]int{},
		ByState:    map[incident.State]int{},
		BySource:   map[string]int{},
	}
}

// tally adds inc to the counts of s.
func tally(s *Stats, inc *incident.Incident) {
	s.Total++
	if inc.State == incident.FalsePositive || inc.State == incident.Duplicate {
		s.Dismissed++
	}
	s.ByCategory[inc.Category]++
	s.BySeverity[inc.Severity]++
	s.ByState[inc.State]++
	s.BySource[inc.Source]++
}

// since returns end - start when end is set and not before start.
func since(start time.Time, end *time.Time) (time.Duration, bool) {
	if end == nil || end.Before(start) {
		return 0, false
	}
	return end.Sub(start), true
}

// describe computes median, mean and nearest-rank p90 of ds (which it sorts).
func describe(ds []time.Duration) Durations {
	n := len(ds)
	if n == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	var sum float64 // float: a sum of many long durations overflows int64
	for _, d := range ds {
		sum += float64(d)
	}
	median := ds[n/2]
	if n%2 == 0 {
		median = ds[n/2-1] + (ds[n/2]-ds[n/2-1])/2
	}
	rank := int(math.Ceil(0.9 * float64(n)))
	return Durations{
		N:      n,
		Median: median,
		Mean:   time.Duration(sum / float64(n)),
		P90:    ds[rank-1],
	}
}

// ErrBadPeriod is returned for a quarter outside 1–4.
var ErrBadPeriod = errors.New("bad reporting period")

// Quarter returns the quarter q (1–4) of year as [from, to) in loc; a nil loc
// means Vietnam time (Asia/Ho_Chi_Minh). A q outside 1–4 wraps ErrBadPeriod.
func Quarter(year, q int, loc *time.Location) (from, to time.Time, err error) {
	if q < 1 || q > 4 {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: quarter %d (want 1–4)", ErrBadPeriod, q)
	}
	if loc == nil {
		loc = vietnam
	}
	from = time.Date(year, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 3, 0), nil
}

// Year returns year as [from, to) in loc; a nil loc means Vietnam time.
func Year(year int, loc *time.Location) (from, to time.Time) {
	if loc == nil {
		loc = vietnam
	}
	from = time.Date(year, time.January, 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(1, 0, 0)
}
