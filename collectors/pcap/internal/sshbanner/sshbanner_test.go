package sshbanner

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/streamtest"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		server  bool
		want    Banner
		rest    string
		wantErr error
	}{
		{name: "openssh", in: "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n\x00\x00\x05", want: Banner{ProtoVersion: "2.0", Software: "OpenSSH_8.9p1", Comments: "Ubuntu-3ubuntu0.1"}, rest: "\x00\x00\x05"},
		{name: "lf only", in: "SSH-2.0-PuTTY_Release_0.74\n", want: Banner{ProtoVersion: "2.0", Software: "PuTTY_Release_0.74"}},
		{name: "1.99", in: "SSH-1.99-OpenSSH_3.9p1\n", want: Banner{ProtoVersion: "1.99", Software: "OpenSSH_3.9p1"}},
		{name: "software with dashes", in: "SSH-1.5-1.2.26\r\n", want: Banner{ProtoVersion: "1.5", Software: "1.2.26"}},
		{name: "server preamble", server: true, in: "Welcome\r\nauthorised use only\r\nSSH-2.0-dropbear_2022.83\r\n", want: Banner{ProtoVersion: "2.0", Software: "dropbear_2022.83", PreambleLines: 2}},
		{name: "client preamble refused", in: "Welcome\r\nSSH-2.0-x\r\n", wantErr: ErrNotSSH},
		{name: "partial magic", in: "SS", wantErr: ErrIncomplete},
		{name: "partial line", in: "SSH-2.0-Open", wantErr: ErrIncomplete},
		{name: "http", in: "GET / HTTP/1.1\r\n", wantErr: ErrNotSSH},
		{name: "tls", server: true, in: "\x16\x03\x01\x02\x00\x01", wantErr: ErrNotSSH},
		{name: "no dash", in: "SSH-2.0\r\n", wantErr: ErrNotSSH},
		{name: "binary in banner", in: "SSH-2.0-a\x01b\r\n", wantErr: ErrNotSSH},
		{name: "line too long", in: "SSH-2.0-" + strings.Repeat("a", MaxLineLen), wantErr: ErrTooLong},
		{name: "preamble too long", server: true, in: strings.Repeat("x\r\n", MaxPreambleLines+1) + "SSH-2.0-a\r\n", wantErr: ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Banner
			parse := ParseClient
			if tt.server {
				parse = ParseServer
			}
			n, err := parse([]byte(tt.in), &b)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if b != tt.want || tt.in[n:] != tt.rest {
				t.Fatalf("got %+v rest %q, want %+v rest %q", b, tt.in[n:], tt.want, tt.rest)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, s := range []string{"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3", "SSH-2.0-x"} {
		var b Banner
		if _, err := ParseClient([]byte(s+"\r\n"), &b); err != nil || b.String() != s {
			t.Errorf("%q: %q %v", s, b.String(), err)
		}
	}
}

// TestAgainstTshark compares banners with tshark's ssh.protocol for the SSH
// captures of the JA4 and Zeek datasets. tshark is found on PATH (Debian
// package tshark); the test skips without it.
func TestAgainstTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not on PATH (apt-get install tshark): SSH banner oracle unavailable")
	}
	dir := datasettest.Dir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "pcap", "ja4", "ssh*.pcap*"))
	more, _ := filepath.Glob(filepath.Join(dir, "pcap", "zeek-traces", "ssh", "*.pcap"))
	files = append(files, more...)
	var matched int
	for _, f := range files {
		if strings.HasSuffix(f, ".yaml") {
			continue
		}
		out, err := exec.Command(tshark, "-n", "-r", f, "-Y", "tcp && ssh.protocol", "-T", "fields",
			"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "ssh.protocol").Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", f, err)
		}
		want := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			c := strings.Split(line, "\t")
			if len(c) != 7 {
				continue
			}
			k := fmt.Sprintf("%s%s:%s->%s%s:%s", c[0], c[1], c[2], c[3], c[4], c[5])
			if _, ok := want[k]; !ok {
				want[k] = c[6]
			}
		}
		for _, d := range streamtest.Read(t, f) {
			w, ok := want[d.Key.String()]
			if !ok {
				continue
			}
			var b Banner
			parse := ParseServer
			if d.SYN {
				parse = ParseClient
			}
			if _, err := parse(d.Payload, &b); err != nil || b.String() != w {
				t.Errorf("%s %s: got %q (%v), tshark %q", filepath.Base(f), d.Key, b.String(), err, w)
				continue
			}
			matched++
		}
	}
	t.Logf("ssh banners equal to tshark: %d", matched)
	if matched == 0 {
		t.Fatal("no banners compared")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n"))
	f.Add([]byte("hello\r\nSSH-1.99-x\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var b Banner
		for _, parse := range []func([]byte, *Banner) (int, error){ParseClient, ParseServer} {
			n, err := parse(in, &b)
			if n > len(in) || (err == nil && (n == 0 || len(b.Software)+len(b.Comments) > MaxLineLen)) {
				t.Fatalf("n=%d len=%d err=%v %+v", n, len(in), err, b)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	in := []byte("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n\x00\x00\x05\xdc\x06\x14")
	var bn Banner
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseServer(in, &bn); err != nil {
			b.Fatal(err)
		}
	}
}
