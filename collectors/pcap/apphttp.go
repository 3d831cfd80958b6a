package pcap

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/httphead"
)

// httpTx is a request waiting for its response.
type httpTx struct {
	req     httphead.Request
	ts      time.Time
	reqBody int64 // declared body length, -1 unknown
}

// maxChunkLine bounds a chunk-size or trailer line.
const maxChunkLine = 1024

// parseHTTP reads the requests (originator) or responses (responder) of a
// direction, pipelined ones included: each head is parsed, its body skipped
// by its Content-Length or chunked framing. A response is paired with the
// oldest unanswered request and reported as one "network.http" event.
// After an HTTP CONNECT the tunnelled bytes are read as TLS. A body whose
// length is unknown (a response delimited by close) or an upgrade ends the
// direction.
func (p *Processor) parseHTTP(pk *packet, f *flow, dir int) {
	a := f.app
	h := &a.dirs[dir]
	for !h.done {
		if h.mode == svcTLS {
			p.parseTLS(f, dir)
			return
		}
		if h.skip > 0 {
			n := min(int64(len(h.buf)), h.skip)
			p.consume(h, int(n))
			h.skip -= n
			if h.skip > 0 {
				return
			}
			continue
		}
		if h.chunked {
			if !p.chunkLine(h) {
				return
			}
			continue
		}
		if len(h.buf) == 0 {
			return
		}
		if dir == a.client {
			if !p.httpRequest(pk, f, h) {
				return
			}
		} else if !p.httpResponse(f, h) {
			return
		}
	}
}

// httpError handles a head parse error: false to wait for more bytes
// (the error was ErrIncomplete) or after ending the direction; true when
// the head parsed with skipped malformed header lines.
func (p *Processor) httpError(h *half, n int, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, httphead.ErrIncomplete):
		return false
	case n > 0 && errors.Is(err, httphead.ErrMalformed) && !errors.Is(err, httphead.ErrNotHTTP):
		return true
	}
	p.stats.AppMalformed++
	p.endHalf(h)
	return false
}

// httpRequest parses one request head; false when it cannot go on.
func (p *Processor) httpRequest(pk *packet, f *flow, h *half) bool {
	a := f.app
	var tx httpTx
	n, err := httphead.ParseRequest(h.buf, &tx.req)
	if !p.httpError(h, n, err) {
		return false
	}
	p.consume(h, n)
	f.svc = svcHTTP
	tx.ts = pk.ts
	tx.reqBody = httphead.BodyLength(&tx.req.Fields, 0, tx.req.Method, false)
	if len(a.reqs) >= p.opts.MaxHTTPPending {
		p.emitHTTP(f, &a.reqs[0], nil, 0)
		a.reqs = a.reqs[1:]
	}
	a.reqs = append(a.reqs, tx)
	switch {
	case tx.req.Method == "CONNECT":
		h.mode = svcTLS
	case tx.req.Chunked:
		h.chunked = true
	default:
		h.skip = max(tx.reqBody, 0)
	}
	return true
}

// httpResponse parses one response head; false when it cannot go on.
func (p *Processor) httpResponse(f *flow, h *half) bool {
	a := f.app
	var r httphead.Response
	n, err := httphead.ParseResponse(h.buf, &r)
	if !p.httpError(h, n, err) {
		return false
	}
	p.consume(h, n)
	f.svc = svcHTTP
	if r.StatusCode/100 == 1 && r.StatusCode != 101 {
		return true // interim response: the final one follows
	}
	method := ""
	var tx *httpTx
	if len(a.reqs) > 0 {
		tx = &a.reqs[0]
		method = tx.req.Method
	}
	body := httphead.BodyLength(&r.Fields, r.StatusCode, method, true)
	p.emitHTTP(f, tx, &r, body)
	if tx != nil {
		a.reqs = a.reqs[1:]
	}
	switch {
	case method == "CONNECT" && r.StatusCode/100 == 2:
		h.mode = svcTLS
	case r.StatusCode == 101:
		p.endHalf(&a.dirs[a.client]) // protocol switched (WebSocket, h2c)
		p.endHalf(h)
		return false
	case body == 0:
	case r.Chunked:
		h.chunked = true
	case body < 0:
		p.endHalf(h) // delimited by the end of the connection
		return false
	default:
		h.skip = body
	}
	return true
}

// chunkLine consumes one chunk-size or trailer line of a chunked body;
// false when more bytes are needed or the framing is broken.
func (p *Processor) chunkLine(h *half) bool {
	i := bytes.IndexByte(h.buf, '\n')
	if i < 0 {
		if len(h.buf) > maxChunkLine {
			p.stats.AppMalformed++
			p.endHalf(h)
		}
		return false
	}
	line := bytes.TrimRight(h.buf[:i], "\r")
	if h.trailer {
		if len(line) == 0 {
			h.chunked, h.trailer = false, false
		}
		p.consume(h, i+1)
		return true
	}
	if j := bytes.IndexByte(line, ';'); j >= 0 {
		line = line[:j]
	}
	size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
	if err != nil || size < 0 || size > 1<<40 {
		p.stats.AppMalformed++
		p.endHalf(h)
		return false
	}
	p.consume(h, i+1)
	if size == 0 {
		h.trailer = true
	} else {
		h.skip = size + 2 // the data and its CRLF
	}
	return true
}

// emitHTTP sends one "network.http" event for a request, its response, or
// both (either may be nil). The Authorization credentials are never
// reported: only their scheme, and the user name of Basic credentials.
func (p *Processor) emitHTTP(f *flow, tx *httpTx, r *httphead.Response, respBody int64) {
	p.stats.HTTPMessages++
	ts := f.last
	if tx != nil {
		ts = tx.ts
	}
	ev := p.appEvent("network.http", f, ts, svcHTTP)
	ev.Set("event.category", event.Value{Kind: event.List, List: []event.Value{str("network"), str("web")}})
	if tx != nil {
		q := &tx.req
		ev.Set("http.request.method", str(q.Method))
		ev.Set("http.version", str(q.Version))
		ev.Set("url.original", str(q.URI))
		path, query, _ := strings.Cut(q.URI, "?")
		if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
			// Absolute form (to a proxy): the path follows the authority.
			rest := path[strings.Index(path, "//")+2:]
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				path = rest[i:]
			} else {
				path = "/"
			}
		}
		if q.Method != "CONNECT" {
			ev.Set("url.path", str(path))
		}
		if query != "" {
			ev.Set("url.query", str(query))
		}
		if q.Host != "" {
			host := q.Host
			if hst, port, err := net.SplitHostPort(host); err == nil {
				host = hst
				if n, err := strconv.ParseUint(port, 10, 16); err == nil {
					ev.Set("url.port", num(n))
				}
			}
			ev.Set("url.domain", str(host))
		}
		if q.UserAgent != "" {
			ev.Set("user_agent.original", str(q.UserAgent))
		}
		if q.Referer != "" {
			ev.Set("http.request.referrer", str(q.Referer))
		}
		if q.ContentType != "" {
			ev.Set("http.request.mime_type", str(mimeType(q.ContentType)))
		}
		if tx.reqBody >= 0 {
			ev.Set("http.request.body.bytes", num(uint64(tx.reqBody)))
		}
		if q.AuthScheme != "" {
			ev.Set("mangrove.http.auth_scheme", str(strings.ToLower(q.AuthScheme)))
			if q.BasicUser != "" {
				ev.Set("user.name", str(q.BasicUser))
			}
		}
	}
	if r != nil {
		if tx == nil {
			ev.Set("http.version", str(r.Version))
		}
		ev.Set("http.response.status_code", num(uint64(r.StatusCode)))
		if r.ContentType != "" {
			ev.Set("http.response.mime_type", str(mimeType(r.ContentType)))
		}
		if respBody >= 0 {
			ev.Set("http.response.body.bytes", num(uint64(respBody)))
		}
	}
	p.send(ev)
}

// mimeType is a Content-Type without its parameters, lower-cased.
func mimeType(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(t))
}
