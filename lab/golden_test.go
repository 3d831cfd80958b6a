package lab

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGoldenEvents pins the events decoded from the captures whose
// application-layer fields matter most (HTTP, FTP, Telnet, SSH, DNS) in
// <scenario>/attack.golden, NDJSON in decoding order; -update rewrites them.
func TestGoldenEvents(t *testing.T) {
	for _, name := range []string{"cleartext-credentials", "bruteforce-ssh", "dns-long-label"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(name, "attack.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var got []byte
			n := 0
			if _, err := pcap.ReadFile(t.Context(), f, pcap.Options{Source: "lab"}, func(ev *event.Event) error {
				if n < 12 { // the first few: enough to pin every field
					got = append(event.AppendJSON(got, ev), '\n')
				}
				n++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(name, "attack.golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./lab/ -run Golden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("events differ from %s (review, then -update):\n%s", golden, got)
			}
		})
	}
}
