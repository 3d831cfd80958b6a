package pcap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

func zeekTraces(t testing.TB) []string {
	t.Helper()
	dir := datasettest.Path(t, "pcap", "zeek-traces")
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := d.Name(); !d.IsDir() && (strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") || strings.HasSuffix(n, ".trace")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no traces under %s", dir)
	}
	return files
}

func decodeFile(t testing.TB, path string, opts Options) ([]*event.Event, Stats) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*event.Event
	st, err := ReadFile(context.Background(), f, opts, func(ev *event.Event) error { evs = append(evs, ev); return nil })
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return evs, st
}

// TestZeekTraces decodes every Zeek trace: no panic, no error, and every
// packet accounted for in exactly one outcome.
func TestZeekTraces(t *testing.T) {
	var total Stats
	for _, f := range zeekTraces(t) {
		evs, st := decodeFile(t, f, Options{})
		flows := 0
		for _, ev := range evs {
			if ev.Dataset == "flow" {
				flows++
				if ev.ID == "" || ev.GetString("network.community_id") == "" {
					t.Errorf("%s: flow without id or community id: %v", f, ev.Fields)
				}
			}
		}
		if uint64(flows) != st.Flows {
			t.Errorf("%s: %d flow events, stats say %d", f, flows, st.Flows)
		}
		total.Packets += st.Packets
		total.Malformed += st.Malformed
		total.Flows += st.Flows
		total.DNSMessages += st.DNSMessages
	}
	if total.Flows == 0 || total.DNSMessages == 0 {
		t.Errorf("nothing decoded: %+v", total)
	}
	t.Logf("totals: %+v", total)
}

// dnsExceptions are traces where tshark's DNS question names differ from
// ours for a known reason.
var dnsExceptions = map[string]string{
	"dns-edns-ecs.pcap":               "IP fragments: tshark reassembles them, we do not",
	"ipv6-fragmented-dns.pcap":        "IPv6 fragments: tshark reassembles them, we do not",
	"dns-edns-bad-length.pcap":        "gopacket rejects the malformed EDNS record; tshark shows the question of a malformed message (counted in DNSMalformed)",
	"dns-invalid-names.pcap":          "invalid/looping names: gopacket rejects the message (counted in DNSMalformed), tshark prints placeholders",
	"radiotap.pcap":                   "802.11 radiotap link type is not decoded",
	"geneve-vxlan-dns-truncated.pcap": "tunnels (Geneve, VXLAN) are not decapsulated",
	"gre-over-udp-4754.pcap":          "GRE tunnels are not decapsulated",
	"gre-pptp.pcap":                   "GRE tunnels are not decapsulated",
	"gre-sample.pcap":                 "GRE tunnels are not decapsulated",
}

// TestDNSMatchesTshark compares, per trace whose name mentions DNS (and the
// tunnel traces listed as exceptions are skipped), the question names of
// UDP port 53 messages with what tshark extracts. tshark is found on PATH.
func TestDNSMatchesTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not on PATH (Debian package tshark); install it to compare DNS names")
	}
	checked := 0
	for _, f := range zeekTraces(t) {
		base := filepath.Base(f)
		if !strings.Contains(f, "dns") || dnsExceptions[base] != "" {
			continue
		}
		out, err := exec.Command(tshark, "-r", f, "-Y", "udp.port==53 && dns && !icmp && !icmpv6", "-T", "fields", "-e", "dns.qry.name", "-E", "occurrence=f").Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", f, err)
		}
		var want []string
		for l := range strings.Lines(string(out)) {
			want = append(want, strings.TrimRight(l, "\n"))
		}
		evs, _ := decodeFile(t, f, Options{})
		var got []string
		for _, ev := range evs {
			if ev.Dataset == "dns" && ev.GetString("network.transport") == "udp" {
				got = append(got, ev.GetString("dns.question.name"))
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: question names\n got %q\nwant %q", base, got, want)
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("only %d DNS traces checked", checked)
	}
}

func TestDNSEvent(t *testing.T) {
	evs, st := decodeFile(t, datasettest.Path(t, "pcap", "zeek-traces", "dns-two-responses.pcap"), Options{})
	if st.DNSMessages != 3 || st.DNSMalformed != 0 {
		t.Fatalf("stats %+v", st)
	}
	var answer *event.Event
	for _, ev := range evs {
		if ev.Dataset == "dns" && ev.GetString("dns.type") == "answer" {
			answer = ev
			break
		}
	}
	if answer == nil {
		t.Fatal("no DNS answer event")
	}
	for k, want := range map[string]string{
		"dns.question.name": "www.cmu.edu", "dns.question.type": "A", "dns.response_code": "NOERROR",
		"source.port": "53", "destination.ip": "55.247.223.174", "dns.resolved_ip": "128.2.10.163",
	} {
		if got := answer.GetString(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	data, _ := answer.Get("dns.answers.data")
	types, _ := answer.Get("dns.answers.type")
	if len(data.List) != 4 || data.List[0].Str != "WWW-CMU.ANDREW.cmu.edu" || types.List[1].Str != "TYPE46" && types.List[1].Str != "RRSIG" {
		t.Errorf("answers: %v %v", data.List, types.List)
	}
}
