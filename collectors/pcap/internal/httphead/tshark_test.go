package httphead

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

// tsharkExceptions are captures where tshark's first request of a
// direction differs from ours for a known reason.
var tsharkExceptions = map[string]string{
	"no-uri.pcap":                           "request line without a URI (tshark takes \"HTTP/1.1\" as the URI): not a valid HTTP/1.x head",
	"http-09-content-length-confusion.pcap": "HTTP/0.9 request line without a version: not an HTTP/1.x head",
}

// TestAgainstTshark compares, per client direction, the host and URI of the
// first request with tshark's for the Zeek HTTP traces. tshark is found on
// PATH (Debian package tshark); the test skips without it.
func TestAgainstTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark on ~50 captures; skipped with -short")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not on PATH (apt-get install tshark): HTTP oracle unavailable")
	}
	files, _ := filepath.Glob(filepath.Join(datasettest.Dir(t), "pcap", "zeek-traces", "http", "*.pcap*"))
	var matched, excepted int
	used := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		out, err := exec.Command(tshark, "-n", "-r", f, "-Y", "tcp && http.request", "-T", "fields", "-E", "occurrence=f",
			"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
			"-e", "http.host", "-e", "http.request.uri").Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", name, err)
		}
		want := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			c := strings.Split(line, "\t")
			if len(c) != 8 {
				continue
			}
			k := fmt.Sprintf("%s%s:%s->%s%s:%s", c[0], c[1], c[2], c[3], c[4], c[5])
			if _, ok := want[k]; !ok {
				want[k] = c[6] + " " + c[7]
			}
		}
		for _, d := range streamtest.Read(t, f) {
			w, ok := want[d.Key.String()]
			if !ok {
				continue
			}
			var r Request
			_, err := ParseRequest(d.Payload, &r)
			if errors.Is(err, ErrMalformed) {
				err = nil // other fields stay valid
			}
			if got := r.Host + " " + r.URI; err != nil || got != w {
				if reason, ok := tsharkExceptions[name]; ok {
					excepted++
					used[name] = true
					t.Logf("%s %s: exception (%s): got %q (%v), tshark %q", name, d.Key, reason, got, err, w)
					continue
				}
				t.Errorf("%s %s: got %q (%v), tshark %q", name, d.Key, got, err, w)
				continue
			}
			matched++
		}
	}
	for name := range tsharkExceptions {
		if !used[name] {
			t.Errorf("exception for %s not needed any more: remove it", name)
		}
	}
	t.Logf("first requests equal to tshark: %d, listed exceptions: %d", matched, excepted)
	if matched == 0 {
		t.Fatal("no requests compared")
	}
}
