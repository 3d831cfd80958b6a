package pcap

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// appExceptions are traces whose HTTP requests or TLS server names differ
// from tshark's for a known reason.
var appExceptions = map[string]string{
	"tcp.pcap": "frames cut by the capture's snap length: the request head never completes; tshark shows the partial request line",
	"variant-10-multi_value_te.pcap": "request with Transfer-Encoding \"chunked, identity\" (chunked not last): its body length is undefined " +
		"(RFC 9112 §6.3, a server rejects it), so we stop reading the direction; tshark reads a chunked body and the request after it",
	"dns-inverse-query.pcap":                 "FDDI link type (10) is not decoded",
	"http-09-content-length-confusion.pcap":  "HTTP/0.9 request line without a version: not an HTTP/1.x head",
	"no-uri.pcap":                            "request line without a URI (tshark takes \"HTTP/1.1\" as the URI): not a valid HTTP/1.x head",
	"http-single-conn-22.pcap":               "HTTP on port 22: tshark decodes by port, we recognize HTTP by content",
	"http-to-ssh.pcap":                       "HTTP sent to port 22: tshark decodes by port, we recognize HTTP by content",
	"http-on-port-5432.pcap":                 "HTTP on port 5432: tshark decodes by port, we recognize HTTP by content",
	"ssl-to-http-server.pcap":                "TLS sent to port 80: tshark decodes the port as HTTP, we recognize the ClientHello by content",
	"putty-upload.pcap":                      "the body of POST /upload is not complete in the capture: tshark reports a request once its body is reassembled, we report the head",
	"zero-length-bodies-with-drops.pcap":     "packets missing from the capture: inspection of a direction stops at a gap it cannot fill, tshark resumes at the next request",
	"mixed-vlan-mpls.pcap":                   "MPLS is not decoded: the request inside it is not seen",
	"mpls-in-vlan.pcap":                      "MPLS is not decoded: the request inside it is not seen",
	"nflog-http.pcap":                        "NFLOG link type (239) is not decoded",
	"pppoe-over-qinq.pcap":                   "PPPoE is not decoded",
	"snap-tcp.pcap":                          "802.2 LLC/SNAP encapsulation is not decoded",
	"ayiya3.pcap":                            "AYIYA tunnel is not decapsulated",
	"gre-over-udp-4754.pcap":                 "GRE tunnel is not decapsulated",
	"gtp1_gn_normal_incl_fragmentation.pcap": "GTP tunnel is not decapsulated",
	"gtp2_different_udp_port.pcap":           "GTP tunnel is not decapsulated",
	"vxlan-encapsulated-http.pcap":           "VXLAN tunnel is not decapsulated",
	"socks.pcap":                             "HTTP inside a SOCKS tunnel: SOCKS is not parsed, the tunnelled stream is not inspected",
	"socks-with-ssl.pcap":                    "TLS inside a SOCKS tunnel: SOCKS is not parsed, the tunnelled stream is not inspected",
}

// TestAppLayerMatchesTshark compares, per Zeek trace, every HTTP request
// ("host uri"), every TLS ClientHello server name and every DNS-over-TCP
// question name the Processor reports with what tshark extracts from the
// same file. tshark is found on PATH
// (Debian package tshark); the test skips without it.
func TestAppLayerMatchesTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark on every Zeek trace; skipped with -short")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not on PATH (apt-get install tshark): HTTP/TLS oracle unavailable")
	}
	var reqs, snis, tcpDNS int
	used := map[string]bool{}
	files := zeekTraces(t)
	// tshark starts slowly: run two at once, results in file order.
	outs := make([][]byte, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			for i := range next {
				outs[i], errs[i] = exec.Command(tshark, "-n", "-r", files[i], "-Y", "tcp && (http.request || tls.handshake.type == 1 || dns)", "-T", "fields",
					"-E", "occurrence=a", "-E", "aggregator=\x1f", "-e", "http.request.method", "-e", "http.host", "-e", "http.request.uri",
					"-e", "tls.handshake.extensions_server_name", "-e", "dns.qry.name").Output()
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, f := range files {
		name := filepath.Base(f)
		out, err := outs[i], errs[i]
		if err != nil {
			t.Fatalf("tshark %s: %v", name, err)
		}
		var wantHTTP, wantSNI, wantDNS []string
		for line := range strings.Lines(string(out)) {
			c := strings.Split(strings.TrimRight(line, "\n"), "\t")
			if len(c) != 5 {
				continue
			}
			switch {
			case c[0] != "":
				// Pipelined requests in one frame are aggregated.
				m, h, u := strings.Split(c[0], "\x1f"), strings.Split(c[1], "\x1f"), strings.Split(c[2], "\x1f")
				for i := range m {
					if i < len(u) {
						hi := ""
						if i < len(h) {
							hi = h[i]
						}
						wantHTTP = append(wantHTTP, hi+" "+u[i])
					}
				}
			case c[3] != "":
				wantSNI = append(wantSNI, c[3])
			case c[4] != "":
				wantDNS = append(wantDNS, strings.Split(c[4], "\x1f")...)
			}
		}
		evs, _ := decodeFile(t, f, Options{})
		var gotHTTP, gotSNI, gotDNS []string
		for _, ev := range evs {
			switch ev.Dataset {
			case "dns":
				if ev.GetString("network.transport") == "tcp" {
					gotDNS = append(gotDNS, ev.GetString("dns.question.name"))
				}
			case "network.http":
				if m := ev.GetString("http.request.method"); m != "" {
					host := ev.GetString("url.domain")
					if p := ev.GetString("url.port"); p != "" {
						host += ":" + p
					}
					if strings.Contains(host, ":") && strings.Count(host, ":") > 1 && !strings.HasPrefix(host, "[") {
						host = "[" + strings.Replace(host, ":"+ev.GetString("url.port"), "]:"+ev.GetString("url.port"), 1)
					}
					gotHTTP = append(gotHTTP, host+" "+ev.GetString("url.original"))
				}
			case "network.tls":
				if s := ev.GetString("tls.client.server_name"); s != "" {
					gotSNI = append(gotSNI, s)
				}
			}
		}
		slices.Sort(wantHTTP)
		slices.Sort(gotHTTP)
		slices.Sort(wantSNI)
		slices.Sort(gotSNI)
		slices.Sort(wantDNS)
		slices.Sort(gotDNS)
		if !slices.Equal(gotHTTP, wantHTTP) || !slices.Equal(gotSNI, wantSNI) || !slices.Equal(gotDNS, wantDNS) {
			if reason, ok := appExceptions[name]; ok {
				used[name] = true
				t.Logf("%s: exception (%s)", name, reason)
				continue
			}
			t.Errorf("%s:\n http got  %q\n http want %q\n sni got  %q\n sni want %q\n dns/tcp got  %q\n dns/tcp want %q",
				name, gotHTTP, wantHTTP, gotSNI, wantSNI, gotDNS, wantDNS)
			continue
		}
		reqs += len(gotHTTP)
		snis += len(gotSNI)
		tcpDNS += len(gotDNS)
	}
	for name := range appExceptions {
		if !used[name] {
			t.Errorf("exception for %s not needed any more: remove it", name)
		}
	}
	t.Logf("equal to tshark: %d HTTP requests, %d TLS server names, %d DNS-over-TCP question names", reqs, snis, tcpDNS)
	if reqs == 0 || snis == 0 {
		t.Errorf("nothing compared: %d requests, %d server names", reqs, snis)
	}
}
