package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/grouping"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// The listing benchmark's store: 100,000 incidents of 20 tenants holding
// 1,000,000 alerts (10 each, all within the grouping window), some incidents moved along the lifecycle. It is built
// once per process (about half a minute) in a directory kept until exit.
var (
	bigOnce  sync.Once
	bigStore *Store
	bigErr   error
)

const (
	bigIncidents = 100_000
	bigAlerts    = 1_000_000
)

func bigFixture(b *testing.B) *Store {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mangrove-bench-")
		if err != nil {
			bigErr = err
			return
		}
		s, err := Open(b.Context(), filepath.Join(dir, "m.db"))
		if err != nil {
			bigErr = err
			return
		}
		s.Configure(grouping.New(grouping.Config{Keys: []grouping.Part{grouping.Rule, grouping.GroupBy}}), nil)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		day := 0
		s.now = func() time.Time { return t0.Add(time.Duration(day) * time.Hour) }
		batch := make([]alert.Alert, 0, 5000)
		for i := range bigAlerts {
			inc := i % bigIncidents
			tenant := fmt.Sprintf("agency-%02d", inc%20)
			ev := fmt.Sprintf("ev-%d", i)
			batch = append(batch, alert.Alert{ID: alert.NewID(tenant, "r", ev), Tenant: tenant, RuleID: fmt.Sprintf("rule-%d", inc%300),
				RuleTitle: fmt.Sprintf("Rule %d", inc%300), Severity: alert.Severity(1 + inc%5), EventIDs: []string{ev},
				GroupBy: []alert.KV{{Field: "host.name", Value: fmt.Sprintf("host-%d", inc)}}, Time: t0.Add(time.Duration(i) * 50 * time.Millisecond)})
			if len(batch) == cap(batch) {
				day = i / 5000
				if _, err := s.IngestAlerts(b.Context(), batch); err != nil {
					bigErr = err
					return
				}
				batch = batch[:0]
			}
		}
		// Move a tenth along the lifecycle.
		page, err := s.Incidents(b.Context(), store.IncidentFilter{Limit: 1000, Sort: "+created"})
		for _, inc := range page.Items {
			if _, err := s.TransitionIncident(b.Context(), "", inc.ID, incident.Triaged, "admin", 0, "", "", "user:bench"); err != nil {
				bigErr = err
				return
			}
		}
		bigStore, bigErr = s, err
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigStore
}

// BenchmarkIncidentListing measures listing and filtering with 100,000
// incidents and 1,000,000 alerts stored; it reports the p50 and p99 latency
// of one page of 100. The target is p99 ≤ 50 ms.
func BenchmarkIncidentListing(b *testing.B) {
	s := bigFixture(b)
	filters := map[string]store.IncidentFilter{
		"all-recent":          {},
		"tenant-recent":       {Tenant: "agency-07"},
		"tenant-open-high":    {Tenant: "agency-03", Open: true, MinSeverity: alert.High},
		"state-triaged":       {States: []incident.State{incident.Triaged}},
		"tenant-by-priority":  {Tenant: "agency-03", Sort: "priority"},
		"title-search":        {Tenant: "agency-03", Text: "Rule 183"},
		"title-search-all":    {Text: "host-4242"},
		"tenant-rule-page-50": {Tenant: "agency-11", RuleID: "rule-11"},
	}
	names := make([]string, 0, len(filters))
	for n := range filters {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		f := filters[name]
		b.Run(name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				p, err := s.Incidents(b.Context(), f)
				if err != nil {
					b.Fatal(err)
				}
				if p.Next != "" { // and the second page through the cursor
					g := f
					g.Cursor = p.Next
					if _, err := s.Incidents(b.Context(), g); err != nil {
						b.Fatal(err)
					}
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkGroupingFlood measures alerts/s into incidents when a scan floods
// one key (grouping from the event's source IP); the target is ≥ 10,000/s.
func BenchmarkGroupingFlood(b *testing.B) {
	s := openTest(b)
	s.Configure(grouping.New(grouping.Config{Keys: []grouping.Part{grouping.Rule, grouping.SourceIP}}), nil)
	t0 := time.Now()
	i := 0
	for b.Loop() {
		batch := make([]alert.Alert, 1000)
		for j := range batch {
			batch[j] = scanAlert("so-a", fmt.Sprintf("203.0.113.%d", i%3), i, t0.Add(time.Duration(i)*time.Millisecond))
			i++
		}
		if _, err := s.IngestAlerts(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkGroupingSpread measures alerts/s when every alert of a batch
// joins a different incident (10,000 incidents, batches of 1,000): the
// worst case for grouping, one incident write per alert.
func BenchmarkGroupingSpread(b *testing.B) {
	s := openTest(b)
	t0 := time.Now()
	i := 0
	for b.Loop() {
		batch := make([]alert.Alert, 1000)
		for j := range batch {
			inc := i % 10_000
			ev := fmt.Sprintf("ev-%d", i)
			batch[j] = alert.Alert{ID: alert.NewID("so-a", "r", ev), Tenant: "so-a", RuleID: "r", RuleTitle: "R", Severity: alert.Medium,
				EventIDs: []string{ev}, GroupBy: []alert.KV{{Field: "host.name", Value: fmt.Sprintf("h-%d", inc)}}, Time: t0.Add(time.Duration(i) * time.Millisecond)}
			i++
		}
		if _, err := s.IngestAlerts(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "alerts/s")
}
