package pcap

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// conv builds one TCP connection packet by packet, with sequence numbers.
type conv struct {
	t          testing.TB
	p          *Processor
	cport      uint16
	sport      uint16
	cseq, sseq uint32
	ts         time.Time
}

func newConv(t testing.TB, p *Processor, sport uint16) *conv {
	c := &conv{t: t, p: p, cport: 40000, sport: sport, cseq: 1000, sseq: 5000, ts: t0}
	c.raw(true, "S", c.cseq, nil)
	c.raw(false, "SA", c.sseq, nil)
	c.cseq++
	c.sseq++
	return c
}

func (c *conv) raw(fromClient bool, flags string, seq uint32, payload []byte) {
	c.t.Helper()
	src, dst, sp, dp := "10.0.0.1", "10.0.0.2", c.cport, c.sport
	if !fromClient {
		src, dst, sp, dp = dst, src, dp, sp
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: seq, Window: 1024,
		SYN: strings.Contains(flags, "S"), ACK: strings.Contains(flags, "A"), FIN: strings.Contains(flags, "F"), PSH: len(payload) > 0}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		c.t.Fatal(err)
	}
	fr := serialize(c.t, ip, tcp, gopacket.Payload(payload))
	c.ts = c.ts.Add(time.Millisecond)
	if err := c.p.Packet(layers.LinkTypeRaw, fr, ci(c.ts, fr)); err != nil {
		c.t.Fatal(err)
	}
}

// send sends data in order from one side, in segments of at most seg bytes.
func (c *conv) send(fromClient bool, data string, seg int) {
	for len(data) > 0 {
		n := min(seg, len(data))
		if fromClient {
			c.raw(true, "A", c.cseq, []byte(data[:n]))
			c.cseq += uint32(n)
		} else {
			c.raw(false, "A", c.sseq, []byte(data[:n]))
			c.sseq += uint32(n)
		}
		data = data[n:]
	}
}

func byDataset(evs []*event.Event, ds string) []*event.Event {
	var out []*event.Event
	for _, ev := range evs {
		if ev.Dataset == ds {
			out = append(out, ev)
		}
	}
	return out
}

// want checks fields of an event; "-" means absent.
func want(t *testing.T, ev *event.Event, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		v, ok := ev.Get(kv[i])
		switch {
		case kv[i+1] == "-":
			if ok {
				t.Errorf("%s: %s = %v, want absent", ev.Dataset, kv[i], v)
			}
		case !ok:
			t.Errorf("%s: %s absent, want %q", ev.Dataset, kv[i], kv[i+1])
		case v.Kind == event.Bool:
			if b := kv[i+1] == "true"; v.Bool != b {
				t.Errorf("%s: %s = %v, want %s", ev.Dataset, kv[i], v.Bool, kv[i+1])
			}
		case ev.GetString(kv[i]) != kv[i+1]:
			t.Errorf("%s: %s = %q, want %q", ev.Dataset, kv[i], ev.GetString(kv[i]), kv[i+1])
		}
	}
}

func TestHTTPPipelined(t *testing.T) {
	evs, st := collect(t, Options{}, func(p *Processor) {
		c := newConv(t, p, 80)
		c.send(true, "GET /a?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/8\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n"+
			"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"+
			"GET /c HTTP/1.1\r\nHost: example.com\r\n\r\n", 7)
		c.send(false, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 3\r\n\r\nabc"+
			"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nX-T: 1\r\n\r\n"+
			"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 11)
	})
	h := byDataset(evs, "network.http")
	if len(h) != 3 || st.HTTPMessages != 3 {
		t.Fatalf("%d http events, stats %+v", len(h), st)
	}
	want(t, h[0], "http.request.method", "GET", "url.original", "/a?x=1", "url.path", "/a", "url.query", "x=1", "url.domain", "example.com", "url.port", "8080",
		"user_agent.original", "curl/8", "http.response.status_code", "200", "http.response.mime_type", "text/html", "http.response.body.bytes", "3",
		"mangrove.http.auth_scheme", "basic", "user.name", "alice", "network.protocol", "http")
	want(t, h[1], "http.request.method", "POST", "http.request.body.bytes", "5", "http.request.mime_type", "text/plain", "http.response.status_code", "201", "user.name", "-")
	want(t, h[2], "url.original", "/c", "http.response.status_code", "404")
	for _, ev := range evs {
		if strings.Contains(string(event.AppendJSON(nil, ev)), "secret") {
			t.Errorf("password leaked: %s", event.AppendJSON(nil, ev))
		}
	}
	flow := byDataset(evs, "flow")
	if len(flow) != 1 || flow[0].GetString("network.community_id") != h[0].GetString("network.community_id") {
		t.Fatalf("flow events %d", len(flow))
	}
	want(t, flow[0], "network.protocol", "http")
}

func TestOutOfOrderAndRetransmission(t *testing.T) {
	req := "GET /ooo HTTP/1.1\r\nHost: h\r\n\r\n"
	evs, st := collect(t, Options{}, func(p *Processor) {
		c := newConv(t, p, 80)
		c.raw(true, "A", c.cseq+10, []byte(req[10:20]))
		c.raw(true, "A", c.cseq+20, []byte(req[20:]))
		c.raw(true, "A", c.cseq, []byte(req[:12])) // overlaps the held segment
		c.raw(true, "A", c.cseq, []byte(req[:5]))  // retransmission
	})
	h := byDataset(evs, "network.http")
	if len(h) != 1 || st.StreamGaps != 0 {
		t.Fatalf("%d http events, stats %+v", len(h), st)
	}
	want(t, h[0], "url.original", "/ooo", "url.domain", "h")
}

func TestStreamLimits(t *testing.T) {
	t.Run("gap", func(t *testing.T) {
		_, st := collect(t, Options{MaxOutOfOrder: 2}, func(p *Processor) {
			c := newConv(t, p, 80)
			for i := range 3 {
				c.raw(true, "A", c.cseq+uint32(100*(i+1)), []byte("x"))
			}
		})
		if st.StreamGaps != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("buffer", func(t *testing.T) {
		_, st := collect(t, Options{MaxStreamBuffer: 64}, func(p *Processor) {
			newConv(t, p, 80).send(true, "GET /"+strings.Repeat("a", 100), 10)
		})
		if st.StreamLimit != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("total", func(t *testing.T) {
		_, st := collect(t, Options{MaxReassemblyBytes: 64}, func(p *Processor) {
			newConv(t, p, 80).send(true, "GET /"+strings.Repeat("a", 100), 10)
		})
		if st.ReassemblyLimit != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("inspected", func(t *testing.T) {
		evs, st := collect(t, Options{MaxStreamBytes: 59}, func(p *Processor) {
			newConv(t, p, 80).send(true, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n", 100)
		})
		if st.StreamLimit != 1 || len(byDataset(evs, "network.http")) != 1 {
			t.Errorf("%d events, stats %+v", len(evs), st)
		}
	})
}

func TestSSHBanners(t *testing.T) {
	evs, _ := collect(t, Options{}, func(p *Processor) {
		c := newConv(t, p, 2222)
		c.send(false, "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n", 100)
		c.send(true, "SSH-2.0-libssh2_1.10.0\r\n", 5)
		c.send(true, strings.Repeat("\x00", 40), 40)
	})
	s := byDataset(evs, "network.ssh")
	if len(s) != 1 {
		t.Fatalf("%d ssh events", len(s))
	}
	want(t, s[0], "zeek.ssh.client", "SSH-2.0-libssh2_1.10.0", "zeek.ssh.server", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3",
		"mangrove.ssh.client.software", "libssh2_1.10.0", "zeek.ssh.version", "2", "network.protocol", "ssh", "destination.port", "2222")
}

func TestFTPLogins(t *testing.T) {
	evs, st := collect(t, Options{}, func(p *Processor) {
		c := newConv(t, p, 21)
		c.send(false, "220 ready\r\n", 100)
		c.send(true, "USER bob\r\n", 100)
		c.send(false, "331 password\r\n", 100)
		c.send(true, "PASS hunter2\r\n", 3)
		c.send(false, "530 Login incorrect.\r\n", 100)
		c.send(true, "USER alice\r\nPASS s3cr3t\r\n", 100)
		c.send(false, "331 password\r\n230 Logged in\r\n", 100)
	})
	l := byDataset(evs, "network.ftp")
	if len(l) != 2 || st.Logins != 2 {
		t.Fatalf("%d ftp events, stats %+v", len(l), st)
	}
	want(t, l[0], "user.name", "bob", "event.outcome", "failure", "event.action", "ftp-login", "mangrove.credentials.cleartext", "true")
	want(t, l[1], "user.name", "alice", "event.outcome", "success")
	for _, ev := range evs {
		if s := string(event.AppendJSON(nil, ev)); strings.Contains(s, "hunter2") || strings.Contains(s, "s3cr3t") {
			t.Errorf("password leaked: %s", s)
		}
	}
}

func TestTelnetLogin(t *testing.T) {
	evs, _ := collect(t, Options{}, func(p *Processor) {
		c := newConv(t, p, 23)
		c.send(false, "\xff\xfd\x18\xff\xfa\x18\x01\xff\xf0Ubuntu 22.04\r\nhost login: ", 100)
		c.send(true, "\xff\xfb\x18", 100)
		c.send(true, "roox\x7ft\r\x00", 1) // typed one key at a time, with a delete
		c.send(false, "Password: ", 100)
		c.send(true, "toor\r\n", 1)
		c.send(false, "\r\nLogin incorrect\r\nhost login: ", 100)
		c.send(true, "admin\r\n", 100)
		c.send(false, "Password: ", 100)
		c.send(true, "x\r\n", 100)
		c.send(false, "Last login: Mon\r\n$ ", 100)
	})
	l := byDataset(evs, "network.telnet")
	if len(l) != 2 {
		t.Fatalf("%d telnet events", len(l))
	}
	want(t, l[0], "user.name", "root", "event.outcome", "failure", "event.action", "telnet-login", "network.protocol", "telnet")
	want(t, l[1], "user.name", "admin", "event.outcome", "success")
}

func TestDNSOverTCPSplit(t *testing.T) {
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(dnsQuery)))
	msg = append(msg, dnsQuery...)
	two := string(msg) + string(msg)
	evs, st := collect(t, Options{}, func(p *Processor) {
		newConv(t, p, 53).send(true, two, 7)
	})
	if d := byDataset(evs, "dns"); len(d) != 2 || st.DNSMessages != 2 {
		t.Fatalf("%d dns events, stats %+v", len(d), st)
	}
	want(t, byDataset(evs, "flow")[0], "network.protocol", "dns")
}

func TestUnknownProtocolReleased(t *testing.T) {
	var p *Processor
	collect(t, Options{}, func(pp *Processor) {
		p = pp
		c := newConv(t, pp, 9999)
		c.send(true, strings.Repeat("\x01\x02binary", 10), 13)
		if pp.reasm != 0 {
			t.Errorf("%d bytes still buffered", pp.reasm)
		}
	})
	if p.reasm != 0 {
		t.Errorf("%d bytes buffered after flush", p.reasm)
	}
}

// FuzzTCPStream feeds arbitrary bytes, split into segments, as both sides
// of a connection to each recognized port: no panic, and every buffer is
// released at the end.
func FuzzTCPStream(f *testing.F) {
	f.Add(uint8(0), uint8(5), []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"))
	f.Add(uint8(1), uint8(3), []byte("USER a\r\nPASS b\r\n"), []byte("230 ok\r\n"))
	f.Add(uint8(2), uint8(2), []byte("\xff\xfb\x18root\r\npw\r\n"), []byte("login: Password: $ "))
	f.Add(uint8(3), uint8(9), []byte("SSH-2.0-a\r\n"), []byte("SSH-2.0-b\r\n"))
	f.Add(uint8(4), uint8(1), []byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0}, []byte{0x16, 3, 3, 0, 1})
	f.Add(uint8(5), uint8(4), []byte{0, 3, 1, 2, 3}, []byte{0, 0})
	ports := []uint16{80, 21, 23, 22, 443, 53}
	f.Fuzz(func(t *testing.T, port, seg uint8, client, server []byte) {
		if len(client)+len(server) > 1<<16 {
			return
		}
		var p *Processor
		collect(t, Options{MaxStreamBuffer: 4096}, func(pp *Processor) {
			p = pp
			c := newConv(t, pp, ports[int(port)%len(ports)])
			n := int(seg%32) + 1
			c.send(true, string(client), n)
			c.send(false, string(server), n)
			c.send(true, string(server), n)
		})
		if p.reasm != 0 {
			t.Fatalf("%d bytes buffered after flush", p.reasm)
		}
	})
}

// TestServerSeenFirst covers a capture that missed the client's SYN: the
// server is the flow's originator, and the HTTP event still names the
// client as its source.
func TestServerSeenFirst(t *testing.T) {
	evs, _ := collect(t, Options{}, func(p *Processor) {
		c := &conv{t: t, p: p, cport: 40000, sport: 80, cseq: 1001, sseq: 5000, ts: t0}
		c.raw(false, "SA", c.sseq, nil)
		c.sseq++
		c.send(true, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 100)
		c.send(false, "HTTP/1.1 204 No Content\r\n\r\n", 100)
	})
	h := byDataset(evs, "network.http")
	if len(h) != 1 {
		t.Fatalf("%d http events", len(h))
	}
	want(t, h[0], "url.original", "/x", "http.response.status_code", "204", "source.ip", "10.0.0.1", "source.port", "40000", "destination.port", "80")
	want(t, byDataset(evs, "flow")[0], "source.port", "80")
}

// TestPostgresTLS reads the TLS hello after PostgreSQL's SSLRequest.
func TestPostgresTLS(t *testing.T) {
	hello := []byte{0x16, 3, 1, 0, 0x2f, 1, 0, 0, 0x2b, 3, 3}
	hello = append(hello, make([]byte, 32)...)             // random
	hello = append(hello, 0, 0, 2, 0x13, 0x01, 1, 0, 0, 0) // session id, ciphers, compression, no extensions
	hello[4] = byte(len(hello) - 5)
	hello[8] = byte(len(hello) - 9)
	evs, st := collect(t, Options{}, func(p *Processor) {
		c := newConv(t, p, 5432)
		c.send(true, pgSSLRequest, 100)
		c.send(false, "S", 100)
		c.send(true, string(hello), 100)
	})
	tl := byDataset(evs, "network.tls")
	if len(tl) != 1 {
		t.Fatalf("%d tls events, stats %+v", len(tl), st)
	}
	want(t, tl[0], "tls.client.ja4", "t12i010000_0f2cb44170f4_000000000000", "network.protocol", "tls")
}
