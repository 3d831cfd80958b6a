package pcap

import (
	"bytes"

	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/httphead"
	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/tlshello"
)

// TCP stream inspection. Each direction of a TCP flow is put in order by
// sequence number (out-of-order segments are held, bounded; retransmitted
// bytes are trimmed), and its first bytes are handed to the parser of the
// flow's application protocol, recognized from the first payload bytes or
// the server port. Parsers consume what they understood; what is left stays
// buffered until more bytes arrive. A direction stops being inspected on a
// gap it cannot fill, a limit, a parse error, or when its parser has what it
// needs (the TLS hello, the SSH banner); its buffers are then released.

// Defaults of the stream limits in Options.
const (
	DefaultMaxStreamBytes     = 1 << 20
	DefaultMaxStreamBuffer    = 32 << 10
	DefaultMaxReassemblyBytes = 64 << 20
)

// service is the application protocol of a flow.
type service uint8

const (
	svcNone    service = iota // not yet recognized
	svcDNS                    // DNS over UDP or TCP
	svcTLS                    // TLS (also after an HTTP CONNECT)
	svcHTTP                   // HTTP/1.x
	svcSSH                    // SSH
	svcFTP                    // FTP control channel
	svcTelnet                 // Telnet
	svcUnknown                // inspected, not recognized
)

// String is the ECS network.protocol value.
func (s service) String() string {
	switch s {
	case svcDNS:
		return "dns"
	case svcTLS:
		return "tls"
	case svcHTTP:
		return "http"
	case svcSSH:
		return "ssh"
	case svcFTP:
		return "ftp"
	case svcTelnet:
		return "telnet"
	}
	return ""
}

// maxClassifyBytes is how many bytes a direction may buffer while its
// protocol is undecided.
const maxClassifyBytes = 32

// segment is an out-of-order TCP segment, copied.
type segment struct {
	seq  uint32
	data []byte
}

// half is one direction of a TCP stream under inspection.
type half struct {
	next     uint32 // sequence number of the next in-order byte
	synced   bool   // next is known
	done     bool   // no longer inspected
	seen     int    // in-order bytes inspected
	buf      []byte // in-order bytes not yet consumed by the parser
	ooo      []segment
	oooBytes int
	mode     service // parser of this direction
	// HTTP body framing.
	skip    int64 // body bytes still to skip
	chunked bool  // inside a chunked body
	trailer bool  // inside the trailer of a chunked body
	tls     *tlshello.Stream
}

// tcpApp is the inspection state of one TCP flow.
type tcpApp struct {
	dirs [2]half
	// client is the direction of the client: 0 unless the capture missed
	// the client's SYN and the content or the handshake says otherwise.
	client int
	svc    service
	nmsg   uint64 // events emitted, for their IDs
	// Per-protocol state, allocated when the protocol is seen.
	tls  *tlsState
	reqs []httpTx
	ssh  *sshState
	// Cleartext logins (FTP, Telnet).
	login  *login
	telnet *telnetState
	logins int
}

// direction is 0 when pk was sent by the flow's originator, else 1.
func direction(f *flow, pk *packet) int {
	if pk.src == f.orig && pk.sport == f.origPort {
		return 0
	}
	return 1
}

// tcpSegment feeds one TCP segment of flow f to its stream inspection. A
// flow's inspection state is allocated at its first payload byte and
// released as soon as both directions are done, so flows without payload
// (scans) or of unrecognized protocols cost nothing beyond the flow.
func (p *Processor) tcpSegment(pk *packet, f *flow) {
	if f.appOff {
		return
	}
	dir := direction(f, pk)
	if pk.tcpFlags&tcpSYN != 0 {
		if !f.hasISN[dir] {
			f.isn[dir], f.hasISN[dir] = pk.seq, true
		}
		return
	}
	data := pk.payload
	if len(data) == 0 {
		return
	}
	a := f.app
	if a == nil {
		a = &tcpApp{}
		f.app = a
		if f.hasLetter('H') && !f.hasLetter('S') {
			a.client = 1 // the originator answered a SYN the capture missed
		}
		for d := range a.dirs {
			if f.hasISN[d] {
				a.dirs[d].next, a.dirs[d].synced = f.isn[d]+1, true
			}
		}
	}
	h := &a.dirs[dir]
	if h.done {
		return
	}
	if !h.synced {
		// Picked up mid-stream: start at the first segment seen.
		h.next, h.synced = pk.seq, true
	}
	switch d := int64(int32(pk.seq - h.next)); {
	case d < 0:
		if -d >= int64(len(data)) {
			return // retransmission of bytes already seen
		}
		data = data[-d:]
	case d > 0:
		p.hold(h, pk.seq, data)
	default:
		p.deliver(pk, f, dir, data)
		p.drain(pk, f, dir)
	}
	if a.dirs[0].done && a.dirs[1].done {
		p.appDone(f)
		f.appOff = true
	}
}

// hold keeps an out-of-order segment, or ends the direction when a limit
// does not allow it.
func (p *Processor) hold(h *half, seq uint32, data []byte) {
	switch {
	case len(h.ooo) >= p.opts.MaxOutOfOrder:
		p.stats.StreamGaps++
		p.endHalf(h)
	case len(h.buf)+h.oooBytes+len(data) > p.opts.MaxStreamBuffer:
		p.stats.StreamLimit++
		p.endHalf(h)
	case p.reasm+len(data) > p.opts.MaxReassemblyBytes:
		p.stats.ReassemblyLimit++
		p.endHalf(h)
	default:
		h.ooo = append(h.ooo, segment{seq: seq, data: bytes.Clone(data)})
		h.oooBytes += len(data)
		p.reasm += len(data)
	}
}

// drain delivers held segments that have become in order.
func (p *Processor) drain(pk *packet, f *flow, dir int) {
	h := &f.app.dirs[dir]
	for !h.done && len(h.ooo) > 0 {
		found := false
		for i, s := range h.ooo {
			d := int64(int32(s.seq - h.next))
			if d > 0 {
				continue
			}
			h.ooo = append(h.ooo[:i], h.ooo[i+1:]...)
			h.oooBytes -= len(s.data)
			p.reasm -= len(s.data)
			if -d < int64(len(s.data)) {
				p.deliver(pk, f, dir, s.data[-d:])
			}
			found = true
			break
		}
		if !found {
			return
		}
	}
}

// deliver appends in-order bytes to a direction and runs its parser.
func (p *Processor) deliver(pk *packet, f *flow, dir int, data []byte) {
	a := f.app
	h := &a.dirs[dir]
	if h.done {
		return
	}
	h.next += uint32(len(data))
	limited := false
	if room := p.opts.MaxStreamBytes - h.seen; len(data) > room {
		data, limited = data[:room], true
	}
	h.seen += len(data)
	p.stats.StreamBytes += uint64(len(data))
	if h.skip > 0 && len(h.buf) == 0 {
		// Skip a body without buffering it.
		n := min(int64(len(data)), h.skip)
		data, h.skip = data[n:], h.skip-n
	}
	if len(data) > 0 {
		if len(h.buf)+h.oooBytes+len(data) > p.opts.MaxStreamBuffer {
			p.stats.StreamLimit++
			p.endHalf(h)
			return
		}
		// Buffers are accounted by capacity, what they really hold.
		old := cap(h.buf)
		h.buf = append(h.buf, data...)
		p.reasm += cap(h.buf) - old
		if p.reasm > p.opts.MaxReassemblyBytes {
			p.stats.ReassemblyLimit++
			p.endHalf(h)
			return
		}
	}
	if a.svc == svcNone {
		if !p.classify(f, dir) {
			return
		}
		if a.svc == svcUnknown {
			p.endHalf(&a.dirs[0])
			p.endHalf(&a.dirs[1])
			return
		}
		// The other direction may hold bytes that waited for the decision.
		if o := &a.dirs[1-dir]; !o.done && len(o.buf) > 0 {
			p.parse(pk, f, 1-dir)
		}
	}
	p.parse(pk, f, dir)
	if limited && !h.done {
		p.stats.StreamLimit++
		p.endHalf(h)
	}
}

// classify recognizes the flow's protocol from the server port or the
// first bytes of direction dir. It returns false while more bytes are
// needed.
func (p *Processor) classify(f *flow, dir int) bool {
	a := f.app
	b := a.dirs[dir].buf
	if len(b) == 0 {
		return false
	}
	svc := svcUnknown
	need := false
	switch {
	case f.respPort == 53 || f.origPort == 53:
		svc = svcDNS
	case f.respPort == 21 || f.origPort == 21:
		svc = svcFTP
		if f.respPort != 21 {
			a.client = 1
		}
	case f.respPort == 23 || f.origPort == 23:
		svc = svcTelnet
		if f.respPort != 23 {
			a.client = 1
		}
	case hasPrefixPartial(b, "SSH-"):
		svc, need = svcSSH, len(b) < 4
	case b[0] == 0x16:
		if need = len(b) < 2; !need && b[1] == 3 {
			svc = svcTLS
		}
	case hasPrefixPartial(b, pgSSLRequest):
		// PostgreSQL's SSLRequest: TLS follows the server's "S".
		if need = len(b) < len(pgSSLRequest); !need {
			svc, a.client = svcTLS, dir
			p.consume(&a.dirs[dir], len(pgSSLRequest))
			a.dirs[1-dir].skip = 1
		}
	case httphead.LooksLikeRequest(b):
		sp := bytes.IndexByte(b, ' ')
		if need = sp < 0; !need && knownMethod(b[:sp]) {
			svc, a.client = svcHTTP, dir
		}
	case hasPrefixPartial(b, "HTTP/1."):
		svc, need, a.client = svcHTTP, len(b) < len("HTTP/1."), 1-dir
	}
	if need && len(b) < maxClassifyBytes {
		return false
	}
	if need {
		svc = svcUnknown
	}
	a.svc = svc
	a.dirs[0].mode, a.dirs[1].mode = svc, svc
	return true
}

// pgSSLRequest is PostgreSQL's SSLRequest message (length 8, code 80877103).
const pgSSLRequest = "\x00\x00\x00\x08\x04\xd2\x16\x2f"

// hasPrefixPartial reports whether b and prefix agree on their common
// length (b may be shorter than prefix).
func hasPrefixPartial(b []byte, prefix string) bool {
	n := min(len(b), len(prefix))
	return string(b[:n]) == prefix[:n]
}

// knownMethod reports whether m is an HTTP method clients commonly send.
func knownMethod(m []byte) bool {
	switch string(m) {
	case "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE",
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH":
		return true
	}
	return false
}

// parse runs the parser of direction dir over its buffered bytes.
func (p *Processor) parse(pk *packet, f *flow, dir int) {
	h := &f.app.dirs[dir]
	switch h.mode {
	case svcTLS:
		p.parseTLS(f, dir)
	case svcHTTP:
		p.parseHTTP(pk, f, dir)
	case svcSSH:
		p.parseSSH(pk, f, dir)
	case svcFTP:
		p.parseFTP(pk, f, dir)
	case svcTelnet:
		p.parseTelnet(pk, f, dir)
	case svcDNS:
		p.parseDNS(pk, f, dir)
	}
}

// consume drops the first n buffered bytes of h (the buffer keeps its
// capacity, and its accounting).
func (p *Processor) consume(h *half, n int) {
	if n <= 0 {
		return
	}
	m := copy(h.buf, h.buf[n:])
	h.buf = h.buf[:m]
}

// endHalf stops inspecting a direction and releases its buffers.
func (p *Processor) endHalf(h *half) {
	if h.done {
		return
	}
	h.done = true
	p.reasm -= cap(h.buf) + h.oooBytes
	h.buf, h.ooo, h.oooBytes, h.tls = nil, nil, 0, nil
}

// parseDNS reads length-prefixed DNS messages (RFC 1035 §4.2.2).
func (p *Processor) parseDNS(pk *packet, f *flow, dir int) {
	h := &f.app.dirs[dir]
	for len(h.buf) >= 2 && !h.done {
		n := int(h.buf[0])<<8 | int(h.buf[1])
		if len(h.buf) < 2+n {
			return
		}
		if n > 0 && p.dnsMessage(pk, f, h.buf[2:2+n]) {
			f.svc = svcDNS
		}
		p.consume(h, 2+n)
	}
}

// appDone reports what a finished flow's inspection still holds (a TLS
// handshake without its server side, requests without a response, a login
// without its outcome) and releases its buffers.
func (p *Processor) appDone(f *flow) {
	a := f.app
	p.flushTLS(f)
	for len(a.reqs) > 0 {
		p.emitHTTP(f, &a.reqs[0], nil, 0)
		a.reqs = a.reqs[1:]
	}
	p.flushSSH(f)
	p.flushLogin(f)
	p.endHalf(&a.dirs[0])
	p.endHalf(&a.dirs[1])
	f.app = nil
}
