package pcap

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tupleExceptions are traces whose flow byte counts differ from tshark's
// for a known reason.
var tupleExceptions = map[string]string{
	"dns-inverse-query.pcap": "FDDI link type (10) is not decoded; its packets count as unsupported_link",
	"nflog-http.pcap":        "NFLOG link type (239) is not decoded; its packets count as unsupported_link",
}

type tupleTotals struct{ packets, bytes uint64 }

// canonTuple is an unordered TCP/UDP 5-tuple as text.
func canonTuple(proto, a, ap, b, bp string) string {
	x, y := a+"|"+ap, b+"|"+bp
	if y < x {
		x, y = y, x
	}
	return proto + " " + x + " " + y
}

// TestFlowTuplesMatchTshark compares, per TCP/UDP 5-tuple, the packets
// and frame bytes of our flows (summed over flows split by timeouts) with
// tshark's per-packet fields, on the DNS, HTTP, SSL/TLS and SSH traces.
// Tunnels and IP fragments are left out of both sides' scope by filter.
func TestFlowTuplesMatchTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not on PATH (Debian package tshark); install it to compare flow tuples")
	}
	checked := 0
	for _, f := range zeekTraces(t) {
		base := filepath.Base(f)
		if strings.Contains(f, "tunnel") || tupleExceptions[base] != "" || dnsExceptions[base] != "" {
			continue
		}
		if !strings.Contains(f, "dns") && !strings.Contains(f, "http") && !strings.Contains(f, "ssl") && !strings.Contains(f, "tls") && !strings.Contains(f, "ssh") {
			continue
		}
		out, err := exec.Command(tshark, "-r", f,
			"-Y", "(tcp || udp) && !icmp && !icmpv6 && !ipv6.fragment && !(ip.flags.mf == 1) && !(ip.frag_offset > 0) && !gre && !vxlan && !geneve && !teredo && !ayiya && !gtp",
			"-T", "fields", "-E", "occurrence=f", "-E", "separator=,",
			"-e", "frame.len", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
			"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport").Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", f, err)
		}
		want := map[string]tupleTotals{}
		for l := range strings.Lines(string(out)) {
			c := strings.Split(strings.TrimRight(l, "\n"), ",")
			if len(c) != 9 {
				continue
			}
			n, _ := strconv.ParseUint(c[0], 10, 64)
			src, dst, proto, sp, dp := c[1]+c[2], c[3]+c[4], "tcp", c[5], c[6]
			if sp == "" {
				proto, sp, dp = "udp", c[7], c[8]
			}
			k := canonTuple(proto, src, sp, dst, dp)
			w := want[k]
			w.packets++
			w.bytes += n
			want[k] = w
		}
		evs, _ := decodeFile(t, f, Options{})
		got := map[string]tupleTotals{}
		for _, ev := range evs {
			proto := ev.GetString("network.transport")
			if ev.Dataset != "flow" || (proto != "tcp" && proto != "udp") {
				continue
			}
			k := canonTuple(proto, ev.GetString("source.ip"), ev.GetString("source.port"), ev.GetString("destination.ip"), ev.GetString("destination.port"))
			p, _ := strconv.ParseUint(ev.GetString("network.packets"), 10, 64)
			b, _ := strconv.ParseUint(ev.GetString("network.bytes"), 10, 64)
			g := got[k]
			g.packets += p
			g.bytes += b
			got[k] = g
		}
		for k, w := range want {
			if g := got[k]; g != w {
				t.Errorf("%s: %s: got %d packets %d bytes, tshark %d packets %d bytes", base, k, g.packets, g.bytes, w.packets, w.bytes)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: %s: flow tshark does not see", base, k)
			}
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("only %d traces checked", checked)
	}
	t.Logf("%d traces checked", checked)
}
