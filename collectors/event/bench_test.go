package event

import (
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
