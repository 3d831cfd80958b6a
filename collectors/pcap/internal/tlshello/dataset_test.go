package tlshello

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/streamtest"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

// expected is one stream of FoxIO's *.expected.yaml snapshots.
type expected struct {
	fields map[string]string
}

func (e expected) key() string {
	return fmt.Sprintf("%s:%s->%s:%s", e.fields["src"], e.fields["src_port"], e.fields["dst"], e.fields["dst_port"])
}

// readExpected parses the flat list-of-maps YAML the snapshots use.
func readExpected(t *testing.T, path string) []expected {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expected
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "- ") {
			out = append(out, expected{fields: map[string]string{}})
			line = "  " + line[2:]
		}
		if !strings.HasPrefix(line, "  ") || len(out) == 0 {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		v = strings.Trim(v, `"'`)
		out[len(out)-1].fields[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestJA4Dataset checks SNI and JA4 against every TLS-over-TCP stream of
// FoxIO's pcaps, and that no ClientHello is found where none is expected.
func TestJA4Dataset(t *testing.T) {
	dir := datasettest.Path(t, "pcap", "ja4")
	snaps, err := filepath.Glob(filepath.Join(dir, "*.expected.yaml"))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("no snapshots in %s: %v", dir, err)
	}
	var matched, checked, tunnelled int
	for _, snap := range snaps {
		pcap := strings.TrimSuffix(snap, ".expected.yaml")
		name := filepath.Base(pcap)
		want := map[string]expected{}
		for _, e := range readExpected(t, snap) {
			if e.fields["transport"] == "tcp" && (e.fields["ja4"] != "" || e.fields["tls_server_name"] != "") {
				want[e.key()] = e
			}
		}
		dirs := streamtest.Read(t, pcap)
		var c ClientHello
		got := map[string]bool{}
		for _, d := range dirs {
			payload := d.Payload
			// An HTTP proxy tunnel: TLS starts after the CONNECT request
			// head (FoxIO fingerprints the tunnelled hello).
			if bytes.HasPrefix(payload, []byte("CONNECT ")) {
				if i := bytes.Index(payload, []byte("\r\n\r\n")); i >= 0 {
					payload = payload[i+4:]
					tunnelled++
				}
			}
			err := ParseClientStream(payload, &c)
			if errors.Is(err, ErrNotTLS) || errors.Is(err, ErrIncomplete) && len(d.Payload) == 0 {
				continue
			}
			k := d.Key.String()
			e, ok := want[k]
			if err != nil {
				if ok {
					t.Errorf("%s %s: %v", name, k, err)
				}
				continue
			}
			if !ok {
				t.Errorf("%s %s: ClientHello (sni %q, ja4 %s) not in the snapshot", name, k, c.ServerName, c.JA4(ProtoTCP))
				continue
			}
			got[k] = true
			checked++
			ja4 := c.JA4(ProtoTCP)
			if ja4 != e.fields["ja4"] || c.ServerName != e.fields["tls_server_name"] {
				t.Errorf("%s %s: got sni %q ja4 %s, want sni %q ja4 %s", name, k, c.ServerName, ja4, e.fields["tls_server_name"], e.fields["ja4"])
				continue
			}
			matched++
		}
		for k := range want {
			if !got[k] {
				t.Errorf("%s %s: expected TLS stream (ja4 %s) not found", name, k, want[k].fields["ja4"])
			}
		}
	}
	t.Logf("ja4 dataset: %d TLS-over-TCP client streams checked, %d matched (SNI and JA4), %d behind HTTP CONNECT", checked, matched, tunnelled)
	if checked == 0 {
		t.Fatal("no TLS streams found")
	}
}
