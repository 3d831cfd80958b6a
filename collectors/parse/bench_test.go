package parse

import (
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// BenchmarkOpenSSH measures parse + normalize of one sshd line, reusing the
// event's field slice as a collector does between batches.
func BenchmarkOpenSSH(b *testing.B) {
	const line = "Nov 25 10:00:01 web1 sshd[1234]: Failed password for invalid user admin from 203.0.113.9 port 40312 ssh2"
	bench(b, "openssh", line)
}

func BenchmarkOpenSSHAuto(b *testing.B) {
	const line = "Nov 25 10:00:01 web1 sshd[1234]: Accepted publickey for deploy from 10.0.0.5 port 41000 ssh2: ED25519 SHA256:3q2+7w0Zk8mR4n1vYp0x0b9E3sQ"
	bench(b, Auto, line)
}

func BenchmarkIptables(b *testing.B) {
	bench(b, "iptables", "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=10.0.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT=50022 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0")
}

func BenchmarkAccess(b *testing.B) {
	bench(b, "access", `203.0.113.9 - - [25/Nov/2026:10:00:00 +0700] "GET /wp-login.php HTTP/1.1" 404 153 "-" "Mozilla/5.0 (compatible; Nmap Scripting Engine)"`)
}

func bench(b *testing.B, name, line string) {
	ev := event.Event{Fields: make([]event.Field, 0, 32)}
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		ev.Fields = append(ev.Fields[:0], event.Field{Name: "message", Value: event.StringValue(line)})
		if err := Parse(name, &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
