package kql

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

func mkEvent(id string, t time.Time, fields ...any) event.Event {
	ev := event.Event{ID: id, Time: t, Tenant: "t1", Dataset: "windows.security"}
	for i := 0; i < len(fields); i += 2 {
		ev.Set(fields[i].(string), fields[i+1].(event.Value))
	}
	return ev
}

func str(s string) event.Value { return event.StringValue(s) }
func num(f float64) event.Value {
	return event.NumberValue(f)
}
func list(vs ...event.Value) event.Value { return event.Value{Kind: event.List, List: vs} }

func sampleEvents() []event.Event {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return []event.Event{
		mkEvent("a", t0,
			"source.ip", str("10.0.0.5"),
			"event.action", str("logon-failed"),
			"event.code", num(4625),
			"process.name", str("PowerShell.exe"),
			"message", str("An account failed to log on. Logon-Failed for user ADMIN"),
			"bytes", num(150),
			"tags", list(str("mordor"), str("lab")),
			"user.name", event.Value{Kind: event.Null},
		),
		mkEvent("b", t0.Add(time.Hour),
			"source.ip", str("10.0.0.6"),
			"event.action", str("logon"),
			"event.code", str("4624"),
			"process.name", str("cmd.exe"),
			"message", str("An account was successfully logged on"),
			"bytes", num(50),
			"ok", event.BoolValue(true),
			"user.name", str("alice"),
			"when", str("2026-11-25T11:00:00Z"),
		),
		mkEvent("c", t0.Add(2*time.Hour),
			"event.code", list(num(1), num(4625.0), str("x")),
			"message", list(str("first part"), str("second Part")),
			"bytes", str("200"),
			"file.path", str(`C:\Windows\System32\cmd.exe`),
			"when", str("2026-11-25T09:00:00Z"),
		),
		{ID: "d", Tenant: "t2", Dataset: "dns"},
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		q    string
		want string // matching IDs
	}{
		{"", "abcd"},
		{"*", "abcd"},
		{"source.ip:10.0.0.5", "a"},
		{`source.ip:10.0.0.5 AND event.action:"logon-failed"`, "a"},
		{`event.action:LOGON-FAILED`, ""},
		{`event.action:logon*`, "ab"},
		{`event.action:LOGON*`, "ab"},
		{`event.action:logon?failed`, "a"},
		{`event.action:logon\*`, ""},
		{`process.name:power*`, "a"},
		{`process.name:*.EXE`, "ab"},
		{`event.code:4625`, "ac"},
		{`event.code:4624`, "b"},
		{`event.code:"4625"`, "ac"},
		{`event.code:4625.0`, "ac"},
		{`event.code:x`, "c"},
		{`event.code:(4624 or 1)`, "bc"},
		{`event.code:(4625 and x)`, "c"},
		{`tags:lab`, "a"},
		{`tags:*`, "a"},
		{`user.name:*`, "b"},
		{`NOT user.name:*`, "acd"},
		{`ok:true`, "b"},
		{`ok:false`, ""},
		{`bytes > 100`, "a"},
		{`bytes >= 50`, "ab"},
		{`bytes < 150`, "b"},
		{`bytes <= 150`, "ab"},
		{`bytes:[50 TO 150}`, "b"},
		{`bytes > "100"`, "a"},
		{`when > 2026-11-25T10:00:00Z`, "b"},
		{`@timestamp >= 2026-11-25T11:00:00Z`, "bc"},
		{`@timestamp <= 2026-11-25T11:00:00+01:00`, "a"},
		{`@timestamp < 2026-11-25T11:00:00+01:00`, ""},
		{`@timestamp > 2026-11-24`, "abc"},
		{`event.dataset:dns`, "d"},
		{`mangrove.tenant:t2`, "d"},
		{`mangrove.id:(a or b)`, "ab"},
		{`failed`, "a"},
		{`FAILED`, "a"},
		{`fail`, ""},
		{`fail*`, "a"},
		{`"logon failed"`, "a"},
		{`logon-failed`, "a"},
		{`"failed logon"`, ""},
		{`"log on"`, "a"},
		{`message:"failed to log"`, "a"},
		{`"part second"`, "c"},
		{`"second part"`, "c"},
		{`p?rt`, "c"},
		{`""`, ""},
		{`"..."`, ""},
		{`account -failed`, "b"},
		{`account AND NOT failed`, "b"},
		{`account OR part`, "abc"},
		{`(failed OR logged) AND bytes < 100`, "b"},
		{`file.path:"C:\Windows\System32\cmd.exe"`, "c"},
		{`file.path:C\:\\windows*`, "c"},
		{`missing:x`, ""},
		{`NOT missing:x`, "abcd"},
	}
	evs := sampleEvents()
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			n, err := Parse(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for i := range evs {
				if n.Match(&evs[i]) {
					got.WriteString(evs[i].ID)
				}
			}
			if got.String() != tt.want {
				t.Errorf("Parse(%q).Match: got %q, want %q (AST %s)", tt.q, got.String(), tt.want, n)
			}
		})
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Logon-Failed for ADMIN_1", []string{"logon", "failed", "for", "admin", "1"}},
		{"café Ärger", []string{"café", "Ärger"}},
		{"  ...  ", nil},
	}
	for _, tt := range tests {
		if got := Words(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"*", "", true},
		{"?", "", false},
		{"?", "é", true},
		{"a*b", "aXXb", true},
		{"a*b", "aXXbc", false},
		{"*b*b", "abab", true},
		{"a\\*", "a*", true},
		{"a\\*", "ab", false},
		{"A?C", "abc", true},
		{"é*", "É", false},
		{"**a**", "xxa", true},
		{"a*a*a*b", strings.Repeat("a", 1000), false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.p, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	n, err := Parse(`(source.ip:10.0.0.5 OR process.name:power*) AND event.code:4625 AND "logon failed" AND bytes > 100`)
	if err != nil {
		b.Fatal(err)
	}
	evs := sampleEvents()
	b.ReportAllocs()
	for b.Loop() {
		for i := range evs {
			n.Match(&evs[i])
		}
	}
}

func BenchmarkParse(b *testing.B) {
	q := `source.ip:10.0.0.5 AND event.action:"logon-failed" AND process.name:(power* or cmd.exe) AND NOT user.name:svc_* AND bytes >= 100`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}
