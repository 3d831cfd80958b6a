package pcap

import (
	"crypto/tls"
	"strconv"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/tlshello"
)

// tlsState is what a flow's TLS hellos said, kept until the event is sent.
type tlsState struct {
	hasClient, hasServer, sent bool
	ts                         time.Time
	// Client side.
	sni       string
	ja3, ja4  string
	ciphers   []uint16
	offerALPN []string
	// Server side.
	version uint16
	cipher  uint16
	ja3s    string
	alpn    string
}

// parseTLS feeds a direction's bytes to its hello parser. Whichever hello
// completes (ClientHello or ServerHello, by its type, not by direction) is
// recorded; the direction then stops being inspected. The "network.tls"
// event is sent once both hellos are in, or when the flow ends.
func (p *Processor) parseTLS(f *flow, dir int) {
	a := f.app
	h := &a.dirs[dir]
	if h.skip > 0 {
		n := min(int64(len(h.buf)), h.skip)
		p.consume(h, int(n))
		h.skip -= n
	}
	if h.tls == nil {
		h.tls = new(tlshello.Stream)
	}
	done, err := h.tls.Feed(h.buf)
	p.consume(h, len(h.buf))
	if err != nil {
		p.stats.AppMalformed++
		p.endHalf(h)
		p.tlsMaybeSend(f)
		return
	}
	if !done {
		return
	}
	typ, _, _ := h.tls.Message()
	if a.tls == nil {
		a.tls = new(tlsState)
	}
	t := a.tls
	switch typ {
	case tlshello.TypeClientHello:
		c := &p.ch
		if err := h.tls.ClientHello(c); err != nil {
			p.stats.AppMalformed++
			break
		}
		t.hasClient = true
		if t.ts.IsZero() {
			t.ts = f.last
		}
		t.sni = c.ServerName
		_, t.ja3 = c.JA3()
		t.ja4 = c.JA4(tlshello.ProtoTCP)
		t.ciphers = append(t.ciphers[:0], c.CipherSuites...)
		t.offerALPN = append(t.offerALPN[:0], c.ALPN...)
	case tlshello.TypeServerHello:
		s := &p.sh
		if err := h.tls.ServerHello(s); err != nil {
			p.stats.AppMalformed++
			break
		}
		t.hasServer = true
		if t.ts.IsZero() {
			t.ts = f.last
		}
		t.version = s.NegotiatedVersion()
		t.cipher = s.CipherSuite
		_, t.ja3s = s.JA3S()
		t.alpn = s.ALPN
	default:
		p.stats.AppMalformed++
	}
	p.endHalf(h)
	p.tlsMaybeSend(f)
}

// tlsMaybeSend sends the TLS event once neither direction can add to it.
func (p *Processor) tlsMaybeSend(f *flow) {
	a := f.app
	if a.dirs[0].done && a.dirs[1].done || a.tls != nil && a.tls.hasClient && a.tls.hasServer {
		p.flushTLS(f)
	}
}

// flushTLS sends the flow's "network.tls" event if a hello was parsed and
// the event was not sent yet.
func (p *Processor) flushTLS(f *flow) {
	t := f.app.tls
	if t == nil || t.sent || !t.hasClient && !t.hasServer {
		return
	}
	t.sent = true
	f.svc = svcTLS
	p.stats.TLSHandshakes++
	ev := p.appEvent("network.tls", f, t.ts, svcTLS)
	ev.Set("tls.version_protocol", str("tls"))
	if t.hasClient {
		if t.sni != "" {
			ev.Set("tls.client.server_name", str(t.sni))
		}
		ev.Set("tls.client.ja3", str(t.ja3))
		ev.Set("tls.client.ja4", str(t.ja4))
		names := make([]event.Value, 0, len(t.ciphers))
		for _, c := range t.ciphers {
			if !tlshello.IsGREASE(c) {
				names = append(names, str(cipherName(c)))
			}
		}
		ev.Set("tls.client.supported_ciphers", event.Value{Kind: event.List, List: names})
		if len(t.offerALPN) > 0 {
			alpn := make([]event.Value, len(t.offerALPN))
			for i, s := range t.offerALPN {
				alpn[i] = str(s)
			}
			ev.Set("mangrove.tls.client.alpn", event.Value{Kind: event.List, List: alpn})
		}
	}
	if t.hasServer {
		ev.Set("tls.version", str(versionName(t.version)))
		ev.Set("tls.cipher", str(cipherName(t.cipher)))
		ev.Set("tls.server.ja3s", str(t.ja3s))
		if t.alpn != "" {
			ev.Set("tls.next_protocol", str(t.alpn))
		}
	}
	p.send(ev)
}

// cipherName is the IANA name of a cipher suite, or its hex code.
func cipherName(c uint16) string {
	return tls.CipherSuiteName(c) // "0x1301"-style for unknown suites
}

// versionName is the ECS tls.version of a protocol version number.
func versionName(v uint16) string {
	switch v {
	case 0x0300:
		return "3.0" // SSL 3.0
	case 0x0301:
		return "1.0"
	case 0x0302:
		return "1.1"
	case 0x0303:
		return "1.2"
	case 0x0304:
		return "1.3"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// appEvent starts an application-layer event of flow f: the flow's tuple
// and Community ID, so it joins the "flow" event, at time ts.
func (p *Processor) appEvent(dataset string, f *flow, ts time.Time, svc service) *event.Event {
	a := f.app
	ev := p.base(dataset, f)
	ev.ID = p.flowID(dataset, f, a.nmsg)
	a.nmsg++
	if ts.IsZero() {
		ts = f.last
	}
	ev.Time = ts
	if a.client == 1 {
		// The originator is the server: report the client as the source.
		ev.Set("source.ip", str(f.resp.String()))
		ev.Set("destination.ip", str(f.orig.String()))
		if hasPorts(f.key.proto) {
			ev.Set("source.port", num(uint64(f.respPort)))
			ev.Set("destination.port", num(uint64(f.origPort)))
		}
	}
	ev.Set("network.protocol", str(svc.String()))
	ev.Set("event.type", event.Value{Kind: event.List, List: []event.Value{str("protocol")}})
	return ev
}
