package pcap

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

// readJA4Expected reads the TLS-over-TCP streams of one of FoxIO's
// *.expected.yaml snapshots (a flat list of maps; nested lists ignored),
// keyed "src:port->dst:port", as {sni, ja4}.
func readJA4Expected(t *testing.T, path string) map[string][2]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "- ") {
			items = append(items, map[string]string{})
			line = "  " + line[2:]
		}
		if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") || len(items) == 0 {
			continue
		}
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			items[len(items)-1][k] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	for _, m := range items {
		if m["transport"] == "tcp" && m["ja4"] != "" {
			out[fmt.Sprintf("%s:%s->%s:%s", m["src"], m["src_port"], m["dst"], m["dst_port"])] = [2]string{m["tls_server_name"], m["ja4"]}
		}
	}
	return out
}

// TestJA4Dataset decodes FoxIO's JA4 captures through the Processor: for
// every TLS-over-TCP stream of the snapshots, a "network.tls" event carries
// the same tls.client.server_name and tls.client.ja4, and no ClientHello is
// reported where the snapshots have none. QUIC streams (JA4 "q...") are not
// decoded.
func TestJA4Dataset(t *testing.T) {
	dir := datasettest.Path(t, "pcap", "ja4")
	snaps, err := filepath.Glob(filepath.Join(dir, "*.expected.yaml"))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("no snapshots in %s: %v", dir, err)
	}
	checked := 0
	for _, snap := range snaps {
		file := strings.TrimSuffix(snap, ".expected.yaml")
		name := filepath.Base(file)
		want := readJA4Expected(t, snap)
		evs, _ := decodeFile(t, file, Options{})
		got := map[string]bool{}
		for _, ev := range evs {
			if ev.Dataset != "network.tls" || ev.GetString("tls.client.ja4") == "" {
				continue
			}
			k := ev.GetString("source.ip") + ":" + ev.GetString("source.port") + "->" + ev.GetString("destination.ip") + ":" + ev.GetString("destination.port")
			w, ok := want[k]
			if !ok {
				t.Errorf("%s %s: ClientHello (ja4 %s) not in the snapshot", name, k, ev.GetString("tls.client.ja4"))
				continue
			}
			got[k] = true
			checked++
			if sni, ja4 := ev.GetString("tls.client.server_name"), ev.GetString("tls.client.ja4"); sni != w[0] || ja4 != w[1] {
				t.Errorf("%s %s: sni %q ja4 %s, want sni %q ja4 %s", name, k, sni, ja4, w[0], w[1])
			}
		}
		for k, w := range want {
			if !got[k] && !strings.HasPrefix(w[1], "q") {
				t.Errorf("%s %s: expected TLS stream (sni %q, ja4 %s) not reported", name, k, w[0], w[1])
			}
		}
	}
	t.Logf("%d TLS-over-TCP streams matched", checked)
	if checked == 0 {
		t.Fatal("no TLS streams checked")
	}
}
