package netrules

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

var t0 = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

func load(t *testing.T, src string) detections.Rule {
	t.Helper()
	rules, err := Load("x.netrule", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rules[0]
}

func dnsEvent(ts time.Time, src, name string) *event.Event {
	ev := &event.Event{Dataset: "dns", Time: ts}
	ev.Set("dns.type", event.StringValue("query"))
	ev.Set("source.ip", event.StringValue(src))
	ev.Set("dns.question.name", event.StringValue(name))
	return ev
}

func flowEvent(ts time.Time, src, dst string, port int) *event.Event {
	ev := &event.Event{Dataset: "flow", Time: ts}
	ev.Set("source.ip", event.StringValue(src))
	ev.Set("destination.ip", event.StringValue(dst))
	ev.Set("destination.port", event.NumberValue(float64(port)))
	ev.Set("network.transport", event.StringValue("tcp"))
	return ev
}

func count(t *testing.T, r detections.Rule, evs []*event.Event) int {
	t.Helper()
	n := 0
	for _, ev := range evs {
		if err := r.Eval(context.Background(), ev, func(detections.Finding) { n++ }); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"unknown key", "id: a\ntitle: b\ndetection: beaconing\nbogus: 1\n", "bogus"},
		{"missing", "detection: beaconing\n", "id: required"},
		{"detection", "id: a\ntitle: b\ndetection: nope\n", `unknown "nope"`},
		{"negative", "id: a\ntitle: b\ndetection: beaconing\nmax_jitter: -1\n", "max_jitter: must not be negative"},
		{"port", "id: a\ntitle: b\ndetection: beaconing\nexclude_ports: [70000]\n", "exclude_ports[0]: 70000 is not a port"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("x.netrule", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	r := load(t, "id: a\ntitle: b\nlevel: high\ntags: [attack.t1071.004]\ndetection: beaconing\n")
	if m := r.Meta(); m.Severity.String() != "high" || len(m.Techniques) != 1 || m.Techniques[0] != "T1071.004" || m.Kind != "netrule" {
		t.Errorf("meta %+v", m)
	}
}

func TestDNSTunnelling(t *testing.T) {
	const rule = "id: d\ntitle: d\ndetection: dns_tunnelling\nunique_subdomains: 20\nhigh_entropy_queries: 5\n"
	tests := []struct {
		name string
		evs  func() []*event.Event
		want int
	}{
		{"high entropy", func() (evs []*event.Event) {
			for i := range 5 {
				evs = append(evs, dnsEvent(t0.Add(time.Duration(i)*time.Second), "10.0.0.1", fmt.Sprintf("x%dq8zk3mv0pl2w7nb5rj1yt4hc6.%d.evil.com", i, i)))
			}
			return
		}, 1},
		{"unique subdomains, one finding", func() (evs []*event.Event) {
			for i := range 40 {
				evs = append(evs, dnsEvent(t0.Add(time.Duration(i)*time.Second), "10.0.0.1", fmt.Sprintf("host%d.example.com.vn", i)))
			}
			return
		}, 1},
		{"spread over windows", func() (evs []*event.Event) {
			for i := range 40 {
				evs = append(evs, dnsEvent(t0.Add(time.Duration(i)*time.Minute), "10.0.0.1", fmt.Sprintf("host%d.example.com", i)))
			}
			return
		}, 0},
		{"repeated names", func() (evs []*event.Event) {
			for i := range 100 {
				evs = append(evs, dnsEvent(t0.Add(time.Duration(i)*time.Second), "10.0.0.1", "www.example.com"))
			}
			return
		}, 0},
		{"other sources", func() (evs []*event.Event) {
			for i := range 40 {
				evs = append(evs, dnsEvent(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("10.0.0.%d", i), fmt.Sprintf("host%d.example.com", i)))
			}
			return
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(t, load(t, rule), tt.evs()); got != tt.want {
				t.Errorf("%d findings, want %d", got, tt.want)
			}
		})
	}
}

func TestSplitDomainAndEntropy(t *testing.T) {
	for _, tt := range []struct{ name, domain, sub string }{
		{"a.b.example.com", "example.com", "a.b"},
		{"example.com", "example.com", ""},
		{"www.dichvucong.gov.vn", "dichvucong.gov.vn", "www"},
		{"x.example.co.uk", "example.co.uk", "x"},
		{"localhost", "localhost", ""},
	} {
		if d, s := SplitDomain(tt.name); d != tt.domain || s != tt.sub {
			t.Errorf("SplitDomain(%q) = %q, %q", tt.name, d, s)
		}
	}
	if e := Entropy("aaaa"); e != 0 {
		t.Errorf("entropy %v", e)
	}
	if e := Entropy("abcd.efgh"); math.Abs(e-3) > 1e-9 {
		t.Errorf("entropy %v", e)
	}
}

func TestBeaconing(t *testing.T) {
	const rule = "id: b\ntitle: b\ndetection: beaconing\n"
	series := func(gaps func(i int) time.Duration, n int) []*event.Event {
		var evs []*event.Event
		ts := t0
		for i := range n {
			evs = append(evs, flowEvent(ts, "10.0.0.1", "203.0.113.5", 443))
			ts = ts.Add(gaps(i))
		}
		return evs
	}
	tests := []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"regular", series(func(i int) time.Duration { return time.Minute + time.Duration(i%3)*time.Second }, 12), 1},
		{"too few", series(func(int) time.Duration { return time.Minute }, 9), 0},
		{"too fast", series(func(int) time.Duration { return time.Second }, 30), 0},
		{"irregular", series(func(i int) time.Duration { return time.Duration(5+(i*i*37)%300) * time.Second }, 30), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(t, load(t, rule), tt.evs); got != tt.want {
				t.Errorf("%d findings, want %d", got, tt.want)
			}
		})
	}
	// NTP is regular by design: excluded by default, unless the file says otherwise.
	ntp := func(r detections.Rule) int {
		var evs []*event.Event
		for i := range 12 {
			evs = append(evs, flowEvent(t0.Add(time.Duration(i)*64*time.Second), "10.0.0.1", "10.0.0.123", 123))
		}
		return count(t, r, evs)
	}
	if got := ntp(load(t, rule)); got != 0 {
		t.Errorf("ntp: %d findings", got)
	}
	if got := ntp(load(t, rule+"exclude_ports: [0]\n")); got != 1 {
		t.Errorf("ntp without exclusions: %d findings", got)
	}
	// Flow events arrive when flows end, out of start order.
	evs := series(func(int) time.Duration { return time.Minute }, 12)
	evs[3], evs[7] = evs[7], evs[3]
	if got := count(t, load(t, rule), evs); got != 1 {
		t.Errorf("out of order: %d findings", got)
	}
}

func BenchmarkDNSTunnel(b *testing.B) {
	rules, _ := Load("x.netrule", []byte("id: d\ntitle: d\ndetection: dns_tunnelling\n"))
	ev := dnsEvent(t0, "10.0.0.1", "q8zk3mv0pl2w7nb5rj1yt4hc6.evil.com")
	b.ReportAllocs()
	for b.Loop() {
		rules[0].Eval(context.Background(), ev, func(detections.Finding) {})
	}
}

// FuzzLoad checks that any file either loads or fails with an error.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("id: a\ntitle: b\ndetection: beaconing\nwindow: 1h\n"))
	f.Add([]byte("id: a\ntitle: b\ndetection: dns_tunnelling\nmin_entropy: 3.2\n"))
	f.Add([]byte("[1, 2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := Load("f.netrule", data)
		if err == nil && len(rules) != 1 {
			t.Fatalf("%d rules without error", len(rules))
		}
	})
}
