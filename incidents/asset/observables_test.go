package asset

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/detections/alert"
)

func TestObservables(t *testing.T) {
	tests := []struct {
		name      string
		groupBy   []alert.KV
		event     string
		wantIPs   string
		wantHosts string
	}{
		{"nothing", nil, "", "", ""},
		{"group-by values", []alert.KV{{Field: "source.ip", Value: "10.1.2.3"}, {Field: "host.name", Value: "WS-01."},
			{Field: "user.name", Value: "10.9.9.9"}, {Field: "custom.ip", Value: "192.0.2.1"}}, "", "10.1.2.3,192.0.2.1", "ws-01"},
		{"nested ECS", nil, `{"source":{"ip":"10.1.2.3","port":443},"destination":{"ip":"203.0.113.10","domain":"portal.so-a.gov.vn"},
			"host":{"ip":["10.1.20.5","fe80::1%eth0","::ffff:10.1.20.6"],"name":"web-01","hostname":"web-01.so-a.local"},
			"url":{"domain":"Portal.SO-A.gov.vn"},"dns":{"question":{"name":"evil.example."}}}`,
			"10.1.2.3,203.0.113.10,10.1.20.5,fe80::1,10.1.20.6", "web-01,web-01.so-a.local,portal.so-a.gov.vn,evil.example"},
		{"dotted keys", nil, `{"source.ip":"10.1.2.3","host":{"name":"a"},"dns.question.name":"b.example","client.ip":"10.0.0.1","server.ip":"10.0.0.2"}`,
			"10.1.2.3,10.0.0.1,10.0.0.2", "a,b.example"},
		{"half dotted", nil, `{"dns":{"question.name":"c.example"}}`, "", "c.example"},
		{"winlogbeat", nil, `{"winlog":{"computer_name":"DC-01.so-a.local","event_id":4625},"source":{"ip":"-"}}`, "", "dc-01.so-a.local"},
		{"windows XML as JSON", nil, `{"Event":{"System":{"Computer":"FS-02","EventID":4688}}}`, "", "fs-02"},
		{"IP literal in a host field", nil, `{"url":{"domain":"198.51.100.7"}}`, "198.51.100.7", ""},
		{"duplicates once", []alert.KV{{Field: "source.ip", Value: "10.1.2.3"}}, `{"source":{"ip":"10.1.2.3"},"host":{"name":"x","hostname":"X"}}`,
			"10.1.2.3", "x"},
		{"wrong types ignored", nil, `{"source":{"ip":42},"host":{"ip":[1,null,"10.0.0.9"],"name":{"x":1}}}`, "10.0.0.9", ""},
		{"not an object", nil, `["10.0.0.1"]`, "", ""},
		{"broken JSON", []alert.KV{{Field: "host.hostname", Value: "h"}}, `{"source":`, "", "h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &alert.Alert{GroupBy: tt.groupBy, Event: json.RawMessage(tt.event)}
			ips, hosts := Observables(a)
			var gotIPs []string
			for _, ip := range ips {
				gotIPs = append(gotIPs, ip.String())
			}
			if g := strings.Join(gotIPs, ","); g != tt.wantIPs {
				t.Errorf("ips = %q, want %q", g, tt.wantIPs)
			}
			if g := strings.Join(hosts, ","); g != tt.wantHosts {
				t.Errorf("hosts = %q, want %q", g, tt.wantHosts)
			}
		})
	}
}

func TestObservablesBounded(t *testing.T) {
	// An event over the limit is not decoded.
	big := `{"source":{"ip":"10.0.0.1"},"pad":"` + strings.Repeat("x", MaxEventBytes) + `"}`
	if ips, _ := Observables(&alert.Alert{Event: json.RawMessage(big)}); len(ips) != 0 {
		t.Fatalf("decoded an oversized event: %v", ips)
	}
	// At most MaxObservables of each kind.
	var list []string
	for i := range 300 {
		list = append(list, fmt.Sprintf(`"10.0.%d.%d"`, i/256, i%256))
	}
	ev := `{"related":{"ip":[` + strings.Join(list, ",") + `]}}`
	ips, _ := Observables(&alert.Alert{Event: json.RawMessage(ev)})
	if len(ips) != MaxObservables || !slices.Contains(ips, netip.MustParseAddr("10.0.0.0")) {
		t.Fatalf("got %d addresses", len(ips))
	}
}

// TestObservablesMatch is the engine's path: an alert's observables against
// the test inventory.
func TestObservablesMatch(t *testing.T) {
	inv := loadTestInventory(t)
	a := &alert.Alert{Tenant: "so-a", GroupBy: []alert.KV{{Field: "host.name", Value: "DB-01"}},
		Event: json.RawMessage(`{"source":{"ip":"8.8.8.8"},"destination":{"ip":"10.1.20.9"}}`)}
	ips, hosts := Observables(a)
	if got := ids(inv.Match(a.Tenant, ips, hosts)); got != "so-a-db,so-a-portal" {
		t.Fatalf("systems = %q", got)
	}
}

func BenchmarkObservables(b *testing.B) {
	a := &alert.Alert{GroupBy: []alert.KV{{Field: "host.name", Value: "WS-01"}},
		Event: json.RawMessage(`{"@timestamp":"2026-11-25T10:00:00Z","source":{"ip":"10.1.2.3","port":51234},"destination":{"ip":"203.0.113.10","port":443},"host":{"name":"ws-01","ip":["10.1.2.3"]},"event":{"category":["network"]}}`)}
	b.ReportAllocs()
	for b.Loop() {
		Observables(a)
	}
}
