package ioc

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func loadFile(t *testing.T, name string) ([]detections.Rule, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Load(name, data)
	for _, r := range rules {
		r.(*Rule).Now = func() time.Time { return testNow }
	}
	return rules, err
}

// withNumber sets a number field on ev.
func withNumber(ev *event.Event, name string, n float64) *event.Event {
	ev.Set(name, event.NumberValue(n))
	return ev
}

func mkEvent(kv ...string) *event.Event {
	ev := &event.Event{ID: "e1"}
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Set(kv[i], event.StringValue(kv[i+1]))
	}
	return ev
}

// matches returns "rule-id type value field" for every indicator any rule
// matches in ev.
func matches(rules []detections.Rule, ev *event.Event) []string {
	var out []string
	for _, r := range rules {
		_ = r.Eval(context.Background(), ev, func(f detections.Finding) {
			for i := 0; i+4 < len(f.GroupBy); i += 5 {
				g := f.GroupBy[i : i+5]
				out = append(out, strings.Join([]string{r.Meta().ID, g[0].Value, g[1].Value, g[2].Value}, " "))
			}
		})
	}
	slices.Sort(out)
	return out
}

func TestMatch(t *testing.T) {
	csvRules, err := loadFile(t, "feed.csv")
	if err != nil {
		t.Fatalf("feed.csv: %v", err)
	}
	mispRules, mispErr := loadFile(t, "event.misp")
	stixRules, _ := loadFile(t, "bundle.stix")
	all := slices.Concat(csvRules, mispRules, stixRules)
	tests := []struct {
		name string
		ev   *event.Event
		want []string
	}{
		{"exact ipv4", mkEvent("destination.ip", "203.0.113.7"), []string{"ioc:feed:critical ip 203.0.113.7 destination.ip"}},
		{"cidr v4", mkEvent("source.ip", "198.51.100.200"), []string{"ioc:feed:high ip 198.51.100.0/24 source.ip"}},
		{"cidr v6", mkEvent("client.ip", "2001:db8:1::5"), []string{"ioc:feed:high ip 2001:db8::/32 client.ip"}},
		{"v4-mapped v6", mkEvent("server.ip", "::ffff:203.0.113.7"), []string{"ioc:feed:critical ip 203.0.113.7 server.ip"}},
		{"cidr miss", mkEvent("source.ip", "198.51.101.1"), nil},
		{"windows DestinationIp", mkEvent("DestinationIp", "203.0.113.7"), []string{"ioc:feed:critical ip 203.0.113.7 DestinationIp"}},
		{"winlogbeat", mkEvent("winlog.event_data.SourceIp", "203.0.113.7"), []string{"ioc:feed:critical ip 203.0.113.7 winlog.event_data.SourceIp"}},
		{"domain exact", mkEvent("dns.question.name", "evil.example"), []string{"ioc:feed:medium domain evil.example dns.question.name"}},
		{"subdomain", mkEvent("QueryName", "a.b.EVIL.example."), []string{"ioc:feed:medium domain evil.example QueryName"}},
		{"suffix is not subdomain", mkEvent("dns.question.name", "notevil.example"), nil},
		{"sni", mkEvent("tls.client.server_name", "x.evil.example"), []string{"ioc:feed:medium domain evil.example tls.client.server_name"}},
		{"url", mkEvent("url.full", "HTTP://BAD.example.net/payload.exe"), []string{"ioc:feed:high url bad.example.net/payload.exe url.full"}},
		{"url other path", mkEvent("url.full", "http://bad.example.net/other"), nil},
		{"url host is listed domain", mkEvent("url.original", "https://www.evil.example/x"), []string{"ioc:feed:medium domain evil.example url.original"}},
		{"hash ecs", mkEvent("file.hash.sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
			[]string{"ioc:feed:critical sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 file.hash.sha256"}},
		{"sysmon Hashes", mkEvent("Hashes", "SHA1=0000000000000000000000000000000000000000,MD5=D41D8CD98F00B204E9800998ECF8427E,IMPHASH=D41D8CD98F00B204E9800998ECF8427E"),
			[]string{"ioc:feed:critical md5 d41d8cd98f00b204e9800998ecf8427e Hashes"}},
		{"email", mkEvent("email.from.address", "phisher@bad.example.org"), []string{"ioc:feed:medium email phisher@bad.example.org email.from.address"}},
		{"inferred type", mkEvent("destination.ip", "192.0.2.1"), []string{"ioc:feed:medium ip 192.0.2.1 destination.ip"}},
		{"expired", mkEvent("destination.ip", "192.0.2.99"), nil},
		{"misp ip|port", mkEvent("destination.ip", "203.0.113.51"), []string{"ioc:event:critical ip 203.0.113.51 destination.ip"}},
		{"misp domain|ip", mkEvent("dns.question.name", "c2.example.com", "destination.ip", "203.0.113.52"),
			[]string{"ioc:event:critical domain c2.example.com dns.question.name", "ioc:event:critical ip 203.0.113.52 destination.ip"}},
		{"misp to_ids false", mkEvent("dns.question.name", "beacon.example.org"), nil},
		{"misp filename|sha1", mkEvent("process.hash.sha1", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"),
			[]string{"ioc:event:critical sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 process.hash.sha1"}},
		{"misp tag confidence", mkEvent("url.full", "https://c2.example.com/gate.php"),
			[]string{"ioc:event:critical domain c2.example.com url.full", "ioc:event:medium url c2.example.com/gate.php url.full"}},
		{"misp object", mkEvent("email.sender.address", "boss@c2.example.com"), []string{"ioc:event:critical email boss@c2.example.com email.sender.address"}},
		{"stix cidr", mkEvent("source.ip", "10.66.3.4"), []string{"ioc:bundle:high ip 10.66.0.0/16 source.ip"}},
		{"stix v6", mkEvent("source.ip", "2001:db8:66::1"), []string{"ioc:bundle:high ip 2001:db8:66::1 source.ip", "ioc:feed:high ip 2001:db8::/32 source.ip"}},
		{"stix domain", mkEvent("url.domain", "www.stix.example"), []string{"ioc:bundle:high domain stix.example url.domain"}},
		{"stix escaped url", mkEvent("url.original", "http://x.example/a'b"), []string{"ioc:bundle:high url x.example/a'b url.original"}},
		{"stix expired", mkEvent("file.hash.sha256", strings.Repeat("a", 64)), nil},
		{"stix md5", mkEvent("dll.hash.md5", "0123456789abcdef0123456789abcdef"), []string{"ioc:bundle:high md5 0123456789abcdef0123456789abcdef dll.hash.md5"}},
		{"stix revoked", mkEvent("destination.ip", "9.9.9.9"), nil},
		{"list value", &event.Event{Fields: []event.Field{{Name: "related.ip", Value: event.Value{Kind: event.List, List: []event.Value{event.StringValue("1.1.1.1"), event.StringValue("203.0.113.7")}}}}},
			[]string{"ioc:feed:critical ip 203.0.113.7 related.ip"}},
		{"unrelated field", mkEvent("message", "203.0.113.7 evil.example"), nil},
		// network.http events of collectors/pcap: origin-form target, host apart.
		{"http origin form", mkEvent("url.domain", "BAD.example.net", "url.original", "/payload.exe", "url.path", "/payload.exe"),
			[]string{"ioc:feed:high url bad.example.net/payload.exe url.original"}},
		{"http origin form other path", mkEvent("url.domain", "bad.example.net", "url.original", "/other"), nil},
		{"http origin form other port", withNumber(mkEvent("url.domain", "bad.example.net", "url.original", "/payload.exe"), "url.port", 8080), nil},
		{"http origin form port 80", withNumber(mkEvent("url.domain", "bad.example.net", "url.original", "/payload.exe"), "url.port", 80),
			[]string{"ioc:feed:high url bad.example.net/payload.exe url.original"}},
		{"http origin form without host", mkEvent("url.original", "/payload.exe"), nil},
		{"host is an address", mkEvent("url.domain", "203.0.113.7"), []string{"ioc:feed:critical ip 203.0.113.7 url.domain"}},
		{"host is a v6 address", mkEvent("http.request.host", "[2001:db8:1::5]"), []string{"ioc:feed:high ip 2001:db8::/32 http.request.host"}},
		{"dns reverse name is no address", mkEvent("dns.question.name", "7.113.0.203.in-addr.arpa"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := matches(all, tc.ev); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	if mispErr == nil || !strings.Contains(mispErr.Error(), "event.misp: event 0 attribute 7") {
		t.Errorf("misp error = %v, want the bad ip-src reported with its path", mispErr)
	}
}

func TestLoadMeta(t *testing.T) {
	rules, err := loadFile(t, "feed.csv")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rules {
		m := r.Meta()
		ids = append(ids, m.ID)
		if m.Kind != "ioc" || m.Path != "feed.csv" || m.Version == "" || !strings.HasPrefix(m.Title, "Indicator match: feed") {
			t.Errorf("meta %+v", m)
		}
		if want := strings.TrimPrefix(m.ID, "ioc:feed:"); m.Severity.String() != want {
			t.Errorf("%s severity %s", m.ID, m.Severity)
		}
	}
	slices.Sort(ids)
	if want := []string{"ioc:feed:critical", "ioc:feed:high", "ioc:feed:medium"}; !slices.Equal(ids, want) {
		t.Errorf("ids %q, want %q", ids, want)
	}
}

func TestSTIXProblems(t *testing.T) {
	_, err := loadFile(t, "bundle.stix")
	if err == nil {
		t.Fatal("no error for unsupported patterns")
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("%v: not ErrUnsupported", err)
	}
	for _, want := range []string{"indicator--5", "AND", "pattern_type \"snort\"", "process:name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, ext, data, want string
	}{
		{"csv no value column", ".csv", "type,source\nip,x\n", "no value column"},
		{"csv bad type", ".csv", "value,type\n1.2.3.4,planet\n", "line 2: unknown indicator type"},
		{"csv bad confidence", ".csv", "value,confidence\n1.2.3.4,200\n", "line 2: confidence"},
		{"csv bad expiry", ".csv", "value,expires\n1.2.3.4,soon\n", "line 2: expires"},
		{"csv bad hash", ".csv", "value,type\nabc,sha256\n", "want 64 hex digits"},
		{"csv bad ip", ".csv", "value,type\n1.2.3.400,ip\n", "invalid indicator"},
		{"misp not json", ".misp", "nope", "misp:"},
		{"misp empty", ".misp", "{}", "no Event or Attribute"},
		{"stix not json", ".stix", "[", "stix:"},
		{"stix unterminated", ".stix", `{"type":"indicator","pattern":"[url:value = 'x"}`, "unterminated"},
		{"stix LIKE", ".stix", `{"type":"indicator","pattern":"[url:value LIKE 'x']"}`, "operator \"LIKE\""},
		{"stix qualifier", ".stix", `{"type":"indicator","pattern":"[url:value = 'x'] WITHIN 5 SECONDS"}`, "\"WITHIN\""},
		{"wrong ext", ".json", "{}", "not an indicator set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("f"+tc.ext, []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	big := "value\n" + strings.Repeat("1.2.3.4\n", 10)
	if _, err := ParseCSV(strings.NewReader(big), "s", Limits{MaxBytes: 20}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxBytes: %v", err)
	}
	in := "value\n10.0.0.1\n10.0.0.2\n10.0.0.3\n"
	set, err := ParseCSV(strings.NewReader(in), "s", Limits{MaxIndicators: 2})
	if !errors.Is(err, ErrTooLarge) || set.Len() != 2 {
		t.Errorf("MaxIndicators: len %d, %v", set.Len(), err)
	}
	var many strings.Builder
	many.WriteString("value,type\n")
	for range 30 {
		many.WriteString("bad,ip\n")
	}
	_, err = ParseCSV(strings.NewReader(many.String()), "s", Limits{})
	if err == nil || !strings.Contains(err.Error(), "10 more problems not shown") {
		t.Errorf("problem cap: %v", err)
	}
}

func TestNormalizeAndLookup(t *testing.T) {
	s := NewSet(0)
	for _, in := range []Indicator{
		{Type: IP, Value: "10.0.0.0/8"}, {Type: IP, Value: "10.1.0.0/16", Confidence: 99},
		{Type: IP, Value: "10.1.2.3/32", Confidence: 1}, {Type: IP, Value: "fe80::1%eth0"},
	} {
		if err := s.Add(in); err != nil {
			t.Fatal(err)
		}
	}
	if in := s.LookupAddr(netip.MustParseAddr("10.1.9.9")); in == nil || in.Value != "10.1.0.0/16" {
		t.Errorf("longest prefix: %+v", in)
	}
	if in := s.LookupAddr(netip.MustParseAddr("10.1.2.3")); in == nil || in.Value != "10.1.2.3" {
		t.Errorf("host prefix: %+v", in)
	}
	if in := s.LookupAddr(netip.MustParseAddr("fe80::1")); in == nil {
		t.Error("zone not dropped")
	}
	if err := s.Add(Indicator{Type: IP, Value: "10.0.0.0/8", Confidence: 77}); err != nil || s.Len() != 4 || s.LookupAddr(netip.MustParseAddr("10.200.0.1")).Confidence != 77 {
		t.Errorf("re-add: len %d err %v", s.Len(), err)
	}
	for v, want := range map[string]Type{
		"1.2.3.4": IP, "::1": IP, "10.0.0.0/8": IP, strings.Repeat("a", 32): MD5, strings.Repeat("B", 40): SHA1,
		strings.Repeat("c", 64): SHA256, "a@b.c": Email, "http://x/y": URL, "x.com/path": URL, "evil.com": Domain,
	} {
		if got := Infer(v); got != want {
			t.Errorf("Infer(%q) = %s, want %s", v, got, want)
		}
	}
	if SeverityFor(0) != alert.Informational || SeverityFor(95) != alert.Critical || SeverityFor(50) != alert.Medium {
		t.Error("SeverityFor")
	}
}

func TestKindRegistered(t *testing.T) {
	var reg detections.Registry
	reg.Register(Kind)
	for _, f := range []string{"a.csv", "b.MISP", "c.stix"} {
		if k, ok := reg.ForFile(f); !ok || k.Name != "ioc" {
			t.Errorf("%s: not read by the ioc kind", f)
		}
	}
	if _, ok := reg.ForFile("x.json"); ok {
		t.Error("plain .json must not be read as an indicator set")
	}
}

// TestEvalConcurrent runs one rule from several goroutines, as the engine
// does; run with -race.
func TestEvalConcurrent(t *testing.T) {
	rules, err := loadFile(t, "feed.csv")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var hits atomic.Int64
	for range 4 {
		wg.Go(func() {
			for range 200 {
				for _, r := range rules {
					_ = r.Eval(context.Background(), mkEvent("destination.ip", "203.0.113.7", "QueryName", "x.evil.example"),
						func(detections.Finding) { hits.Add(1) })
				}
			}
		})
	}
	wg.Wait()
	if hits.Load() != 4*200*2 {
		t.Errorf("%d findings, want %d", hits.Load(), 4*200*2)
	}
}
