package event

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// sample is a realistic ~350-byte Sysmon process-creation event in ECS shape.
var sample = []byte(`{"@timestamp":"2026-11-25T10:00:00.123Z","event.dataset":"windows.sysmon","event":{"code":"1","action":"process-created"},"host":{"name":"ws-ubnd-017"},"user":{"name":"nguyenvana","domain":"SOTTTT"},"process":{"pid":4242,"executable":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","command_line":"powershell.exe -nop -w hidden -enc SQBFAFgA","parent":{"executable":"C:\\Windows\\explorer.exe"}},"message":"Process Create"}`)

func BenchmarkDecode(b *testing.B) {
	var d Decoder
	var ev Event
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(sample, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeWindows decodes a Sysmon process creation as the OTRF
// datasets hold it (2.5 KB, with its rendered Message, Windows paths full
// of escaped backslashes).
func BenchmarkDecodeWindows(b *testing.B) {
	data, err := os.ReadFile("testdata/otrf-sysmon-process-creation.json")
	if err != nil {
		b.Fatal(err)
	}
	data = bytes.TrimSpace(data)
	var d Decoder
	var ev Event
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(data, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	var d Decoder
	ev := Event{ID: NewID("t", sample), Tenant: "so-tttt", Source: "http"}
	if err := d.Decode(sample, &ev); err != nil {
		b.Fatal(err)
	}
	ev.Time = time.Now()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], &ev)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewID("so-tttt", sample[:160])
	}
}

// BenchmarkEncodeSyslog encodes an sshd syslog event as the syslog collector
// and the OpenSSH parser produce it (25 fields, no escapes): the bus's
// encoding cost per syslog line.
func BenchmarkEncodeSyslog(b *testing.B) {
	num := func(s string) Value { v := NumberValue(0); v.Str = s; return v }
	ev := Event{ID: NewID("camau", []byte("x")), Tenant: "camau", Source: "syslog-flag-1", Dataset: "syslog",
		Time: time.Date(2026, 11, 25, 3, 0, 0, 123456000, time.UTC)}
	for _, f := range []Field{
		{"event.action", StringValue("ssh_login")}, {"event.category", Value{Kind: List, List: []Value{StringValue("authentication")}}},
		{"event.kind", StringValue("event")}, {"event.outcome", StringValue("failure")},
		{"host.hostname", StringValue("web01.camau.gov.vn")}, {"log.syslog.facility.code", num("16")},
		{"log.syslog.facility.name", StringValue("local0")}, {"log.syslog.priority", num("134")},
		{"log.syslog.severity.code", num("6")}, {"log.syslog.severity.name", StringValue("informational")},
		{"log.syslog.version", num("1")}, {"message", StringValue("Failed password for invalid user admin from 203.0.113.9 port 22022 ssh2")},
		{"openssh.invalid_user", BoolValue(true)}, {"openssh.method", StringValue("password")},
		{"process.name", StringValue("sshd")}, {"process.pid", num("4242")},
		{"source.ip", StringValue("203.0.113.9")}, {"source.port", num("22022")}, {"user.name", StringValue("admin")},
	} {
		ev.Set(f.Name, f.Value)
	}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], &ev)
	}
	b.SetBytes(int64(len(buf)))
}
