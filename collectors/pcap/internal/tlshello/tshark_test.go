package tlshello

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/streamtest"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

// tsharkJA3 returns the first JA3 (client, followed by " sni=" and the
// server name) and JA3S (server) full strings tshark computes per TCP
// direction "src:port->dst:port".
func tsharkJA3(t *testing.T, tshark, pcap string) map[string]string {
	t.Helper()
	out, err := exec.Command(tshark, "-n", "-r", pcap, "-Y", "tcp && (tls.handshake.type == 1 || tls.handshake.type == 2)",
		"-T", "fields", "-E", "occurrence=f",
		"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
		"-e", "tls.handshake.ja3_full", "-e", "tls.handshake.ja3s_full", "-e", "tls.handshake.extensions_server_name").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", pcap, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			continue
		}
		k := fmt.Sprintf("%s%s:%s->%s%s:%s", f[0], f[1], f[2], f[3], f[4], f[5])
		v := f[6] + f[7]
		if f[6] != "" {
			v += " sni=" + f[8]
		}
		if _, seen := m[k]; !seen && v != "" {
			m[k] = v
		}
	}
	return m
}

// TestJA3AgainstTshark compares JA3, SNI and JA3S strings with tshark's for the
// TLS-over-TCP streams of the JA4 and Zeek TLS captures. tshark is found on
// PATH (Debian package tshark); the test skips without it.
func TestJA3AgainstTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark on ~80 captures; skipped with -short")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not on PATH (apt-get install tshark): JA3/JA3S oracle unavailable")
	}
	var files []string
	for _, pat := range [][]string{{"pcap", "ja4", "*.pcap*"}, {"pcap", "zeek-traces", "tls", "*.pcap*"}} {
		m, _ := filepath.Glob(filepath.Join(datasettest.Dir(t), filepath.Join(pat...)))
		for _, f := range m {
			if !strings.HasSuffix(f, ".yaml") {
				files = append(files, f)
			}
		}
	}
	var clients, servers, mismatched, starttls int
	for _, pcap := range files {
		want := tsharkJA3(t, tshark, pcap)
		if len(want) == 0 {
			continue
		}
		var c ClientHello
		var s ServerHello
		for _, d := range streamtest.Read(t, pcap) {
			w, ok := want[d.Key.String()]
			if !ok {
				continue
			}
			if strings.Contains(pcap, "starttls") {
				// STARTTLS: TLS begins after a plaintext SMTP/IMAP/POP3
				// exchange; finding that offset is the flow layer's job.
				starttls++
				continue
			}
			p := d.Payload
			if bytes.HasPrefix(p, []byte("CONNECT ")) || bytes.HasPrefix(p, []byte("HTTP/1.")) {
				if i := bytes.Index(p, []byte("\r\n\r\n")); i >= 0 {
					p = p[i+4:]
				}
			}
			var got string
			var err error
			if d.SYN || ParseClientStream(p, &c) == nil {
				if err = ParseClientStream(p, &c); err == nil {
					got, _ = c.JA3()
					got += " sni=" + c.ServerName
					clients++
				}
			} else if err = ParseServerStream(p, &s); err == nil {
				got, _ = s.JA3S()
				servers++
			}
			if err != nil || got != w {
				mismatched++
				t.Errorf("%s %s: got %q (err %v), tshark %q", filepath.Base(pcap), d.Key, got, err, w)
			}
		}
	}
	t.Logf("tshark JA3+SNI: %d client and %d server hellos equal, %d mismatched, %d STARTTLS directions not compared", clients, servers, mismatched, starttls)
	if clients == 0 || servers == 0 {
		t.Fatal("no hellos compared")
	}
}
