// Command gen writes the scenario captures of the network detection lab:
// for each scenario under lab/, attack.pcap triggers its detections and
// benign.pcap, similar traffic below the thresholds, does not. Run it from
// the repository root with `go run ./lab/gen`; the output is deterministic
// and committed. Frames are built by hand (Ethernet, IPv4, TCP, UDP, DNS)
// so that gopacket stays inside collectors/pcap.
package main

import (
	"encoding/base32"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	dir := "lab"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := run(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

var t0 = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

const (
	attacker = "10.10.0.66"
	client   = "10.10.0.7"
	server   = "10.20.0.5"
	resolver = "10.20.0.53"
	remote   = "203.0.113.50"
)

type scenario struct {
	name           string
	attack, benign func(w *capture)
}

var scenarios = []scenario{
	{"portscan-horizontal", func(w *capture) {
		for i := range 30 {
			w.refused(attacker, 50000+i, fmt.Sprintf("10.20.1.%d", i+1), 445)
			w.wait(50 * time.Millisecond)
		}
	}, func(w *capture) {
		for i := range 5 {
			w.session(client, 50000+i, fmt.Sprintf("10.20.1.%d", i+1), 445, "\x00\x00\x00\x2fSMB", "\x00\x00\x00\x2fSMB")
			w.wait(2 * time.Second)
		}
	}},
	{"portscan-vertical", func(w *capture) {
		for i := range 40 {
			w.refused(attacker, 51000, server, 1+i*7)
			w.wait(20 * time.Millisecond)
		}
	}, func(w *capture) {
		for i, port := range []int{80, 443, 8080} {
			w.session(client, 51000+i, server, port, "GET / HTTP/1.1\r\nHost: intranet\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			w.wait(time.Second)
		}
	}},
	{"bruteforce-ssh", func(w *capture) {
		for i := range 20 {
			w.session(attacker, 52000+i, server, 22, "SSH-2.0-libssh2_1.10.0\r\n", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n")
			w.wait(3 * time.Second)
		}
	}, func(w *capture) {
		for i := range 3 {
			w.session(client, 52000+i, server, 22, "SSH-2.0-OpenSSH_9.6\r\n", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n")
			w.wait(40 * time.Second)
		}
	}},
	{"bruteforce-rdp", func(w *capture) {
		for i := range 20 {
			w.session(attacker, 53000+i, server, 3389, "\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00", "\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x00\x08\x00\x02\x00\x00\x00")
			w.wait(2 * time.Second)
		}
	}, func(w *capture) {
		for i := range 2 {
			w.session(client, 53000+i, server, 3389, "\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00", "\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x00\x08\x00\x02\x00\x00\x00")
			w.wait(5 * time.Minute)
		}
	}},
	{"dns-tunnel", func(w *capture) {
		r := rand.New(rand.NewPCG(1, 2))
		enc := base32.StdEncoding.WithPadding(base32.NoPadding)
		for i := range 60 {
			b := make([]byte, 20)
			for j := range b {
				b[j] = byte(r.IntN(256))
			}
			w.dnsQuery(client, 40000+i, strings.ToLower(enc.EncodeToString(b))+fmt.Sprintf(".%d.t.exfil-example.com", i))
			w.wait(500 * time.Millisecond)
		}
	}, benignDNS},
	{"dns-long-label", func(w *capture) {
		for i := range 3 {
			w.dnsQuery(client, 41000+i, strings.Repeat(string(rune('a'+i)), 55)+".long-example.net")
			w.wait(10 * time.Second)
		}
	}, benignDNS},
	{"beaconing", func(w *capture) {
		r := rand.New(rand.NewPCG(3, 4))
		for i := range 15 {
			w.session(client, 54000+i, remote, 443, "\x16\x03\x01\x00\x05hello", "\x16\x03\x03\x00\x05hello")
			w.wait(60*time.Second + time.Duration(r.IntN(1000))*time.Millisecond)
		}
	}, func(w *capture) {
		for i, gap := range []int{5, 200, 13, 90, 41, 300, 7, 66, 150, 22, 480, 9, 35, 120, 15} {
			w.session(client, 54000+i, remote, 443, "\x16\x03\x01\x00\x05hello", "\x16\x03\x03\x00\x05hello")
			w.wait(time.Duration(gap) * time.Second)
		}
	}},
	{"cleartext-credentials", func(w *capture) {
		w.session(client, 55000, server, 80, "GET /admin HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic YWRtaW46cGFzc3dvcmQ=\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		w.wait(time.Second)
		w.dialogue(client, 55001, server, 21, []msg{
			{false, "220 FTP ready\r\n"}, {true, "USER backup\r\n"}, {false, "331 Password required\r\n"},
			{true, "PASS Backup2026\r\n"}, {false, "230 Logged in\r\n"}, {true, "QUIT\r\n"}, {false, "221 Bye\r\n"},
		})
		w.wait(time.Second)
		w.dialogue(client, 55002, server, 23, []msg{
			{false, "\xff\xfd\x18\xff\xfd\x20"}, {true, "\xff\xfb\x18\xff\xfc\x20"}, {false, "router login: "},
			{true, "a"}, {true, "d"}, {true, "m"}, {true, "i"}, {true, "n"}, {true, "\r\x00"},
			{false, "Password: "}, {true, "cisco\r\n"}, {false, "\r\nLast login: Thu Nov 19\r\nrouter> "},
		})
	}, func(w *capture) {
		w.session(client, 55000, server, 80, "GET /index.html HTTP/1.1\r\nHost: intranet\r\nAuthorization: Bearer eyJhbGciOi\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		w.wait(time.Second)
		w.session(client, 55001, server, 22, "SSH-2.0-OpenSSH_9.6\r\n", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n")
		w.wait(time.Second)
		w.dialogue(client, 55002, server, 21, []msg{{false, "220 FTP ready\r\n"}, {true, "AUTH TLS\r\n"}, {false, "234 Proceed\r\n"}})
	}},
	{"ioc-network", func(w *capture) {
		// Each reaches one indicator of lab/ioc-network/lab-indicators.csv.
		w.dnsQuery(client, 43000, "update.evil-c2.example")
		w.wait(time.Second)
		w.session(client, 43001, "198.51.100.23", 8443, "hello\r\n", "ok\r\n")
		w.wait(time.Second)
		w.session(client, 43002, "192.0.2.80", 443, clientHello("cdn.tls-bad.example"), serverHello())
		w.wait(time.Second)
		w.session(client, 43003, "192.0.2.81", 80, "GET /payload/stage2.bin HTTP/1.1\r\nHost: files.http-bad.example\r\nUser-Agent: curl/8.5.0\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	}, func(w *capture) {
		// Near misses: a longer label, a parent-domain look-alike, the
		// neighbouring address, another path on the listed URL's host.
		w.dnsQuery(client, 43000, "update.notevil-c2.example")
		w.wait(time.Second)
		w.dnsQuery(client, 43010, "evil-c2.example.org")
		w.wait(time.Second)
		w.session(client, 43001, "198.51.100.24", 8443, "hello\r\n", "ok\r\n")
		w.wait(time.Second)
		w.session(client, 43002, "192.0.2.80", 443, clientHello("tls-bad.example.net"), serverHello())
		w.wait(time.Second)
		w.session(client, 43003, "192.0.2.81", 80, "GET /payload/stage3.bin HTTP/1.1\r\nHost: files.http-bad.example\r\nUser-Agent: curl/8.5.0\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	}},
}

// benignDNS queries ordinary names, many of them repeatedly.
func benignDNS(w *capture) {
	names := []string{"www.google.com", "mail.google.com", "api.github.com", "github.com", "www.gov.vn", "dichvucong.gov.vn",
		"outlook.office365.com", "login.microsoftonline.com", "update.microsoft.com", "cdn.jsdelivr.net", "vnexpress.net", "www.vietcombank.com.vn"}
	for i := range 60 {
		w.dnsQuery(client, 42000+i, names[i%len(names)])
		w.wait(700 * time.Millisecond)
	}
}

func run(dir string) error {
	for _, s := range scenarios {
		d := filepath.Join(dir, s.name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for file, fill := range map[string]func(*capture){"attack.pcap": s.attack, "benign.pcap": s.benign} {
			w := &capture{now: t0}
			w.header()
			fill(w)
			if err := os.WriteFile(filepath.Join(d, file), w.buf, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
