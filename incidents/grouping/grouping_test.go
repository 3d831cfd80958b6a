package grouping

import (
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
)

func TestGroup(t *testing.T) {
	scan := func(src, dst string) *alert.Alert {
		return &alert.Alert{Tenant: "so-a", RuleID: "net-scan", Techniques: []string{"T1046"},
			Event: []byte(`{"source":{"ip":"` + src + `"},"destination":{"ip":"` + dst + `"},"host":{"name":"FW-01"}}`)}
	}
	g := New(Config{Keys: []Part{Rule, SourceIP}, Rules: []RuleConfig{{Match: "win-*", Keys: []Part{Host, User}, Window: time.Hour}}})
	tests := []struct {
		name       string
		a, b       *alert.Alert
		same       bool
		wantWindow time.Duration
	}{
		{"same scanner, other targets", scan("10.0.0.9", "10.0.1.1"), scan("10.0.0.9", "10.0.1.2"), true, 24 * time.Hour},
		{"other scanner", scan("10.0.0.9", "10.0.1.1"), scan("10.0.0.8", "10.0.1.1"), false, 24 * time.Hour},
		{"other tenant", scan("10.0.0.9", "10.0.1.1"), func() *alert.Alert { a := scan("10.0.0.9", "10.0.1.1"); a.Tenant = "so-b"; return a }(), false, 24 * time.Hour},
		{"rule override by glob, host case-insensitive",
			&alert.Alert{Tenant: "t", RuleID: "win-1", GroupBy: []alert.KV{{Field: "host.name", Value: "WS-01"}, {Field: "user.name", Value: "bob"}}},
			&alert.Alert{Tenant: "t", RuleID: "win-2", Event: []byte(`{"host":{"name":"ws-01"},"user":{"name":"bob"}}`)}, true, time.Hour},
		{"group_by distinguishes", &alert.Alert{Tenant: "t", RuleID: "r", GroupBy: []alert.KV{{Field: "a", Value: "1"}}},
			&alert.Alert{Tenant: "t", RuleID: "r", GroupBy: []alert.KV{{Field: "a", Value: "2"}}}, false, 24 * time.Hour},
	}
	def := New(Config{})
	for _, tt := range tests {
		gg := g
		if strings.HasPrefix(tt.name, "group_by") {
			gg = def
		}
		ka, wa := gg.Group(tt.a)
		kb, _ := gg.Group(tt.b)
		if (ka == kb) != tt.same {
			t.Errorf("%s: keys %q and %q, want same=%v", tt.name, ka, kb, tt.same)
		}
		if wa != tt.wantWindow {
			t.Errorf("%s: window %v, want %v", tt.name, wa, tt.wantWindow)
		}
	}
}

func TestGroupBadEvent(t *testing.T) {
	g := New(Config{Keys: []Part{Host}})
	k, _ := g.Group(&alert.Alert{Tenant: "t", RuleID: "r", Event: []byte(`{"host":`)})
	if k != "t|host=" {
		t.Fatalf("key of an alert with a broken event = %q", k)
	}
}

func TestValidate(t *testing.T) {
	err := Config{Window: -1, Keys: []Part{"bogus"}, Rules: []RuleConfig{{Match: "["}, {Match: "x", Keys: []Part{"nope"}}}}.Validate()
	for _, want := range []string{"window: must not be negative", `keys[0]: "bogus"`, "rules[0].match:", `rules[1].keys[0]: "nope"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkGroupFromEvent(b *testing.B) {
	g := New(Config{Keys: []Part{Rule, SourceIP, Host}})
	a := &alert.Alert{Tenant: "so-a", RuleID: "net-scan",
		Event: []byte(`{"@timestamp":"2026-11-25T10:00:00Z","source":{"ip":"10.0.0.9","port":51514},"destination":{"ip":"10.0.1.1","port":22},"host":{"name":"FW-01"},"event":{"dataset":"network.flow"}}`)}
	for b.Loop() {
		g.Group(a)
	}
}
