package clock

import (
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// BenchmarkDeadlines is the listing case: every clock of an incident that
// triggers most rules (serious, national-security signs, location data,
// high severity, acknowledged) with two filings. Target: < 5 µs.
func BenchmarkDeadlines(b *testing.B) {
	c := newClock(b, nil)
	ack := inD331.Add(20 * time.Minute)
	i := inc(inD331, serious, natSec, personal("basic", "location"), func(i *incident.Incident) {
		i.Severity, i.AcknowledgedAt = alert.High, &ack
	})
	filed := []Filing{
		{Obligation: "d331-immediate-notice", At: inD331.Add(30 * time.Minute), Reference: "CV-1"},
		{Obligation: "law91-pdp-agency-72h", At: inD331.Add(10 * time.Hour), Reference: "PDP-9"},
	}
	now := inD331.Add(2 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if len(c.Deadlines(i, filed, now)) != 8 {
			b.Fatal("unexpected deadline count")
		}
	}
}

// BenchmarkDeadlinesOrdinary is the common case: an ordinary incident with
// SLA clocks only.
func BenchmarkDeadlinesOrdinary(b *testing.B) {
	c := newClock(b, nil)
	i := inc(inD331)
	now := inD331.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if len(c.Deadlines(i, nil, now)) != 3 {
			b.Fatal("unexpected deadline count")
		}
	}
}
