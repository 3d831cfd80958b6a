package report

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests load Asia/Ho_Chi_Minh on any machine

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// metricIncidents is a hand-checked set for Q4 2026 (Vietnam time).
func metricIncidents() []incident.Incident {
	hcm, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		panic(err)
	}
	d := func(month time.Month, day, hour, minute, sec int) time.Time {
		return time.Date(2026, month, day, hour, minute, sec, 0, hcm)
	}
	after := func(t time.Time, dur time.Duration) *time.Time { u := t.Add(dur); return &u }
	mk := func(tenant string, cat incident.Category, sev alert.Severity, st incident.State, src string, det time.Time) incident.Incident {
		return incident.Incident{ID: tenant + det.String(), Tenant: tenant, Category: cat, Severity: sev, State: st, Source: src, DetectedAt: det}
	}
	var out []incident.Incident
	// 1: the first instant of the quarter belongs to it.
	i1 := mk("portal", incident.Defacement, alert.High, incident.Closed, "detection", d(time.October, 1, 0, 0, 0))
	i1.AcknowledgedAt, i1.ContainedAt, i1.RecoveredAt, i1.ClosedAt = after(i1.DetectedAt, 10*time.Minute), after(i1.DetectedAt, time.Hour), after(i1.DetectedAt, 4*time.Hour), after(i1.DetectedAt, 30*time.Hour)
	// 2: never "recovered": MTTR falls back to ClosedAt.
	i2 := mk("portal", incident.Malware, alert.Critical, incident.Closed, "detection", d(time.November, 10, 10, 0, 0))
	i2.AcknowledgedAt, i2.ContainedAt, i2.ClosedAt = after(i2.DetectedAt, 20*time.Minute), after(i2.DetectedAt, 2*time.Hour), after(i2.DetectedAt, 10*time.Hour)
	// 3: still being worked: only acknowledged.
	i3 := mk("portal", incident.Phishing, alert.Medium, incident.Investigating, "manual", d(time.December, 1, 9, 0, 0))
	i3.AcknowledgedAt = after(i3.DetectedAt, 30*time.Minute)
	// 4: the last minute of the quarter.
	i4 := mk("hospital", incident.DDoS, alert.High, incident.Recovered, "detection", d(time.December, 31, 23, 59, 0))
	i4.AcknowledgedAt, i4.ContainedAt, i4.RecoveredAt = after(i4.DetectedAt, 40*time.Minute), after(i4.DetectedAt, 3*time.Hour), after(i4.DetectedAt, 5*time.Hour)
	// 5, 6: dismissed: counted, but not in the response times.
	i5 := mk("hospital", incident.Scanning, alert.Low, incident.FalsePositive, "detection", d(time.November, 5, 8, 0, 0))
	i5.AcknowledgedAt, i5.ClosedAt = after(i5.DetectedAt, time.Minute), after(i5.DetectedAt, time.Minute)
	i6 := mk("hospital", incident.Intrusion, alert.Medium, incident.Duplicate, "manual", d(time.November, 6, 8, 0, 0))
	i6.AcknowledgedAt = after(i6.DetectedAt, 2*time.Hour)
	// 8: bad data: acknowledged before detection is left out.
	i8 := mk("portal", incident.Uncategorized, 0, incident.Contained, "detection", d(time.November, 20, 14, 0, 0))
	i8.AcknowledgedAt, i8.ContainedAt = after(i8.DetectedAt, -5*time.Minute), after(i8.DetectedAt, 50*time.Minute)
	// Outside the quarter on both sides.
	before := mk("portal", incident.Malware, alert.High, incident.Closed, "detection", d(time.September, 30, 23, 59, 59))
	before.AcknowledgedAt = after(before.DetectedAt, 100*time.Hour)
	afterQ := mk("portal", incident.Malware, alert.High, incident.Closed, "detection", time.Date(2027, time.January, 1, 0, 0, 0, 0, hcm))
	// 9: no DetectedAt: Created places it in the period.
	i9 := incident.Incident{ID: "no-detected", Tenant: "portal", Category: incident.Malware, Severity: alert.Low, State: incident.New, Source: "manual", Created: d(time.October, 15, 12, 0, 0)}
	return append(out, i1, i2, i3, i4, i5, i6, i8, before, afterQ, i9)
}

func TestSummarize(t *testing.T) {
	from, to, err := Quarter(2026, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(metricIncidents(), from, to)
	m := time.Minute
	h := time.Hour

	o := s.Overall
	if o.Total != 8 || o.Dismissed != 2 {
		t.Errorf("total %d dismissed %d, want 8 and 2", o.Total, o.Dismissed)
	}
	counts := []struct {
		name      string
		got, want int
	}{
		{"malware", o.ByCategory[incident.Malware], 2},
		{"defacement", o.ByCategory[incident.Defacement], 1},
		{"uncategorized", o.ByCategory[incident.Uncategorized], 1},
		{"high", o.BySeverity[alert.High], 2},
		{"critical", o.BySeverity[alert.Critical], 1},
		{"medium", o.BySeverity[alert.Medium], 2},
		{"low", o.BySeverity[alert.Low], 2},
		{"unrated", o.BySeverity[0], 1},
		{"closed", o.ByState[incident.Closed], 2},
		{"false positive", o.ByState[incident.FalsePositive], 1},
		{"duplicate", o.ByState[incident.Duplicate], 1},
		{"new", o.ByState[incident.New], 1},
		{"detection", o.BySource["detection"], 5},
		{"manual", o.BySource["manual"], 3},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("count %s = %d, want %d", c.name, c.got, c.want)
		}
	}

	durations := []struct {
		name      string
		got, want Durations
	}{
		// acks 10m, 20m, 30m, 40m (i8's is before detection, i5/i6 dismissed)
		{"overall MTTA", o.MTTA, Durations{N: 4, Median: 25 * m, Mean: 25 * m, P90: 40 * m}},
		// contained 50m, 1h, 2h, 3h: median (1h+2h)/2, mean 410m/4
		{"overall MTTC", o.MTTC, Durations{N: 4, Median: 90 * m, Mean: 102*m + 30*time.Second, P90: 3 * h}},
		// recovered 4h, 5h and i2 closed 10h: mean 19h/3
		{"overall MTTR", o.MTTR, Durations{N: 3, Median: 5 * h, Mean: 6*h + 20*m, P90: 10 * h}},
		{"portal MTTA", s.Tenants[1].MTTA, Durations{N: 3, Median: 20 * m, Mean: 20 * m, P90: 30 * m}},
		// 50m, 1h, 2h: mean 230m/3
		{"portal MTTC", s.Tenants[1].MTTC, Durations{N: 3, Median: h, Mean: 76*m + 40*time.Second, P90: 2 * h}},
		{"portal MTTR", s.Tenants[1].MTTR, Durations{N: 2, Median: 7 * h, Mean: 7 * h, P90: 10 * h}},
		{"hospital MTTA", s.Tenants[0].MTTA, Durations{N: 1, Median: 40 * m, Mean: 40 * m, P90: 40 * m}},
		{"hospital MTTR", s.Tenants[0].MTTR, Durations{N: 1, Median: 5 * h, Mean: 5 * h, P90: 5 * h}},
	}
	if len(s.Tenants) != 2 || s.Tenants[0].Tenant != "hospital" || s.Tenants[1].Tenant != "portal" {
		t.Fatalf("tenants %+v, want hospital then portal", s.Tenants)
	}
	for _, c := range durations {
		if c.got != c.want {
			t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
		}
	}
	if got := s.Tenants[0]; got.Total != 3 || got.Dismissed != 2 {
		t.Errorf("hospital total %d dismissed %d, want 3 and 2", got.Total, got.Dismissed)
	}
	if got := s.Tenants[1]; got.Total != 5 || got.Dismissed != 0 {
		t.Errorf("portal total %d dismissed %d, want 5 and 0", got.Total, got.Dismissed)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	from, to := Year(2026, nil)
	s := Summarize(nil, from, to)
	if s.Overall.Total != 0 || s.Overall.MTTR != (Durations{}) || len(s.Tenants) != 0 {
		t.Errorf("empty summary = %+v", s)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want Durations
	}{
		{nil, Durations{}},
		{[]time.Duration{7}, Durations{N: 1, Median: 7, Mean: 7, P90: 7}},
		{[]time.Duration{3, 1, 2}, Durations{N: 3, Median: 2, Mean: 2, P90: 3}},
		// ten values 1..10: median 5.5 → 5 (integer nanoseconds), p90 rank 9
		{[]time.Duration{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, Durations{N: 10, Median: 5, Mean: 5, P90: 9}},
		// eleven values 1..11: p90 rank ceil(9.9) = 10
		{[]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, Durations{N: 11, Median: 6, Mean: 6, P90: 10}},
	}
	for _, tt := range tests {
		if got := describe(tt.in); got != tt.want {
			t.Errorf("describe(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestQuarterAndYear(t *testing.T) {
	hcm, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		u, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		year, q  int
		loc      *time.Location
		from, to string
	}{
		{2026, 4, hcm, "2026-09-30T17:00:00Z", "2026-12-31T17:00:00Z"},
		{2026, 4, nil, "2026-09-30T17:00:00Z", "2026-12-31T17:00:00Z"},
		{2026, 1, hcm, "2025-12-31T17:00:00Z", "2026-03-31T17:00:00Z"},
		{2027, 2, time.UTC, "2027-04-01T00:00:00Z", "2027-07-01T00:00:00Z"},
	}
	for _, tt := range tests {
		from, to, err := Quarter(tt.year, tt.q, tt.loc)
		if err != nil {
			t.Fatalf("Quarter(%d, %d): %v", tt.year, tt.q, err)
		}
		if !from.Equal(utc(tt.from)) || !to.Equal(utc(tt.to)) {
			t.Errorf("Quarter(%d, %d, %v) = [%v, %v), want [%s, %s)", tt.year, tt.q, tt.loc, from, to, tt.from, tt.to)
		}
	}
	for _, q := range []int{0, 5, -1} {
		if _, _, err := Quarter(2026, q, hcm); !errors.Is(err, ErrBadPeriod) {
			t.Errorf("Quarter(2026, %d) err = %v, want ErrBadPeriod", q, err)
		}
	}
	from, to := Year(2026, hcm)
	if !from.Equal(utc("2025-12-31T17:00:00Z")) || !to.Equal(utc("2026-12-31T17:00:00Z")) {
		t.Errorf("Year(2026) = [%v, %v)", from, to)
	}
	if got := periodLabel(Quarterly, from.AddDate(0, 9, 0)); got != "quý IV năm 2026" {
		t.Errorf("periodLabel = %q", got)
	}
	if got := periodLabel(Annual, from); got != "năm 2026" {
		t.Errorf("periodLabel = %q", got)
	}
}

func TestSummaryContent(t *testing.T) {
	got := string(render(t, Quarterly, HTML))
	for _, want := range []string{
		"BÁO CÁO TỔNG HỢP TÌNH HÌNH SỰ CỐ AN TOÀN THÔNG TIN QUÝ IV NĂM 2026",
		"(Số liệu từ ngày 01/10/2026 đến hết ngày 31/12/2026)",
		"Cổng thông tin điện tử tỉnh", // tenant name
		"hospital",                    // tenant without a name
		"25 phút",                     // MTTA median
		"1 giờ 30 phút",               // MTTC median
		"6 giờ 20 phút",               // MTTR mean
		"25,0%",                       // 2 of 8 malware
		"Tổng cộng",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("quarterly summary lacks %q", want)
		}
	}
	if got := string(render(t, Annual, HTML)); !strings.Contains(got, "NĂM 2026") || !strings.Contains(got, "đến hết ngày 31/12/2026") {
		t.Error("annual summary lacks its period")
	}
}
