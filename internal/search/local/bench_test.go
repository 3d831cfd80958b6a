package local

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/search"
)

// benchEvents returns n Windows-security-like events of about 300 bytes of
// JSON each (metadata included), one per 400 ms going back from end.
func benchEvents(n, seq int, end time.Time) []event.Event {
	users := []string{"alice", "bob", "carol", "svc_backup", "administrator"}
	hosts := []string{"WS-0142", "WS-0077", "DC01", "SRV-FILE02"}
	actions := []string{"logon-failed", "logon", "process-start", "network-connection"}
	evs := make([]event.Event, n)
	for i := range evs {
		k := seq + i
		tenant := []string{"acme", "globex", "initech"}[k%3]
		ev := &evs[i]
		ev.ID = event.NewID(tenant, []byte(strconv.Itoa(k)))
		ev.Time = end.Add(-time.Duration(k) * 400 * time.Millisecond)
		ev.Tenant, ev.Dataset, ev.Source = tenant, "windows.security", "winlog"
		action := actions[k%len(actions)]
		user := users[k%len(users)]
		ev.Set("event.action", event.StringValue(action))
		ev.Set("event.code", event.NumberValue(float64(4624+k%3)))
		ev.Set("host.name", event.StringValue(hosts[k%len(hosts)]))
		ev.Set("user.name", event.StringValue(user))
		ev.Set("source.ip", event.StringValue(fmt.Sprintf("10.%d.%d.%d", k%7, k%200, k%250)))
		ev.Set("message", event.StringValue(strings.ReplaceAll(action, "-", " ")+" for "+user))
	}
	return evs
}

func BenchmarkIndex(b *testing.B) {
	st := open(b, Config{Dir: b.TempDir()})
	defer st.Close()
	end := time.Now()
	const batch = 1000
	seq := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		evs := benchEvents(batch, seq, end)
		seq += batch
		b.StartTimer()
		if err := st.Index(b.Context(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(event.AppendJSON(nil, &benchEvents(1, 0, end)[0]))), "bytes/event")
}

// BenchmarkSearch searches 300,000 events (three tenants, about 35 hours).
func BenchmarkSearch(b *testing.B) {
	st := open(b, Config{Dir: b.TempDir()})
	defer st.Close()
	end := time.Now()
	const total, batch = 300_000, 5000
	for seq := 0; seq < total; seq += batch {
		if err := st.Index(b.Context(), benchEvents(batch, seq, end)); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		q    search.Query
	}{
		{"Newest", search.Query{Tenant: "acme"}},
		{"NewestAllTenants", search.Query{}},
		{"LastHour", search.Query{Tenant: "acme", From: end.Add(-time.Hour)}},
		{"Term", search.Query{Tenant: "acme", Text: "user.name:svc_backup AND event.code:4624"}},
		{"Wildcard", search.Query{Text: `user.name:ADMIN*`, From: end.Add(-time.Hour)}},
		{"FreeText", search.Query{Tenant: "globex", Text: `"logon failed" AND carol`}},
		{"Rare", search.Query{Text: "source.ip:10.3.17.17"}},
		{"Range", search.Query{Tenant: "initech", Text: "event.code >= 4625 AND NOT host.name:DC01*", From: end.Add(-4 * time.Hour)}},
		{"FreeWildcard", search.Query{Tenant: "acme", Text: "*strator", From: end.Add(-time.Hour)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var res search.Result
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if res, err = st.Search(b.Context(), bc.q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Total), "matches")
		})
	}
}
