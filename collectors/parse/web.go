package parse

import (
	"net/netip"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// access is one access-log line in the common or combined format.
type access struct {
	ip, user, stamp, method, url, version, status, bytes, referrer, agent string
}

// scanAccess reads `IP IDENT USER [TIME] "REQUEST" STATUS BYTES ["REF" "UA"]`.
func scanAccess(s string) (access, bool) {
	var a access
	var ident string
	a.ip, s = word(s)
	if _, err := netip.ParseAddr(a.ip); err != nil && !isHostname(a.ip) {
		return a, false
	}
	ident, s = word(s)
	_ = ident
	a.user, s = word(s)
	if !cut(&s, "[") {
		return a, false
	}
	i := strings.IndexByte(s, ']')
	if i < 0 {
		return a, false
	}
	a.stamp, s = s[:i], s[i+1:]
	if !cut(&s, " \"") {
		return a, false
	}
	req, rest, ok := quoted(s)
	if !ok {
		return a, false
	}
	s = strings.TrimLeft(rest, " ")
	a.method, req = word(req)
	if j := strings.LastIndex(req, " HTTP/"); j >= 0 {
		a.url, a.version = req[:j], req[j+len(" HTTP/"):]
	} else {
		a.url = req
	}
	a.status, s = word(s)
	if len(a.status) != 3 || !isDigit(a.status[0]) {
		return a, false
	}
	a.bytes, s = word(s)
	if cut(&s, "\"") {
		if a.referrer, s, ok = quoted(s); !ok {
			return a, false
		}
		s = strings.TrimLeft(s, " ")
		if cut(&s, "\"") {
			if a.agent, _, ok = quoted(s); !ok {
				return a, false
			}
		}
	}
	return a, true
}

func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTagByte(s[i]) && s[i] != ':' {
			return false
		}
	}
	return true
}

// quoted returns the text up to the closing quote (s starts after the
// opening one), honouring backslash escapes, and what follows it. The
// escapes are kept as they are in the text.
func quoted(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

func parseAccess(ev *event.Event, msg string) error {
	a, ok := scanAccess(strings.TrimLeft(msg, " "))
	if !ok {
		return ErrNoMatch
	}
	if t, err := time.Parse("02/Jan/2006:15:04:05 -0700", a.stamp); err == nil {
		ev.Time = t.UTC()
	}
	var fs fieldSet
	fs.set(ev, "event.kind", vEvent)
	fs.set(ev, "event.category", vWeb)
	if _, err := netip.ParseAddr(a.ip); err == nil {
		fs.str(ev, "source.ip", a.ip)
	} else {
		fs.str(ev, "source.address", a.ip)
	}
	if a.user != "-" {
		fs.str(ev, "user.name", a.user)
	}
	fs.str(ev, "http.request.method", a.method)
	fs.str(ev, "url.original", a.url)
	fs.str(ev, "http.version", a.version)
	fs.num(ev, "http.response.status_code", a.status)
	if a.bytes != "-" {
		fs.num(ev, "http.response.body.bytes", a.bytes)
	}
	if a.referrer != "-" {
		fs.str(ev, "http.request.referrer", a.referrer)
	}
	if a.agent != "-" {
		fs.str(ev, "user_agent.original", a.agent)
	}
	if a.status[0] >= '4' {
		fs.set(ev, "event.outcome", vFailure)
	} else {
		fs.set(ev, "event.outcome", vSuccess)
	}
	fs.apply(ev)
	return nil
}

// isNginxError reports whether s starts like `2024/01/02 03:04:05 [error] `.
func isNginxError(s string) bool {
	return len(s) > 21 && s[4] == '/' && s[7] == '/' && s[10] == ' ' && s[13] == ':' && s[19] == ' ' && s[20] == '['
}

// isApacheError reports whether s starts like `[Wed Oct 11 14:32:52 2000] [`.
func isApacheError(s string) bool {
	if len(s) < 27 || s[0] != '[' || s[4] != ' ' || s[8] != ' ' {
		return false
	}
	i := strings.IndexByte(s, ']')
	return i > 0 && strings.HasPrefix(s[i:], "] [")
}

// parseNginx reads an nginx access line (combined) or error line:
//
//	2024/01/02 03:04:05 [error] 123#0: *1 open() "/x" failed, client: 10.0.0.5, server: _, request: "GET /x HTTP/1.1"
func parseNginx(ev *event.Event, msg string) error {
	ev.Set("event.module", event.StringValue("nginx"))
	s := strings.TrimLeft(msg, " ")
	if !isNginxError(s) {
		return parseAccess(ev, msg)
	}
	if t, err := time.Parse("2006/01/02 15:04:05", s[:19]); err == nil {
		ev.Time = t
	}
	s = s[21:]
	i := strings.IndexByte(s, ']')
	if i < 0 {
		return ErrNoMatch
	}
	setStr(ev, "log.level", s[:i])
	s = strings.TrimLeft(s[i+1:], " ")
	pid, rest := word(s)
	if p, tid, ok := strings.Cut(strings.TrimSuffix(pid, ":"), "#"); ok {
		setNum(ev, "process.pid", p)
		setNum(ev, "process.thread.id", tid)
		s = rest
	}
	if strings.HasPrefix(s, "*") {
		var c string
		c, s = word(s[1:])
		setNum(ev, "nginx.error.connection_id", c)
	}
	text := s
	if j := strings.Index(s, ", client: "); j >= 0 {
		text = s[:j]
		tail := s[j+2:]
		for n := 0; tail != "" && n < 16; n++ {
			k, v, ok := strings.Cut(tail, ": ")
			if !ok {
				break
			}
			if strings.HasPrefix(v, "\"") {
				var q string
				if q, tail, ok = quoted(v[1:]); !ok {
					break
				}
				v = q
				tail = strings.TrimPrefix(tail, ", ")
			} else if e := strings.Index(v, ", "); e >= 0 {
				v, tail = v[:e], v[e+2:]
			} else {
				tail = ""
			}
			switch k {
			case "client":
				setStr(ev, "source.ip", v)
			case "server":
				setStr(ev, "nginx.error.server", v)
			case "request":
				m, r := word(v)
				setStr(ev, "http.request.method", m)
				if x := strings.LastIndex(r, " HTTP/"); x >= 0 {
					setStr(ev, "url.original", r[:x])
					setStr(ev, "http.version", r[x+len(" HTTP/"):])
				} else {
					setStr(ev, "url.original", r)
				}
			case "host":
				setStr(ev, "url.domain", v)
			case "upstream":
				setStr(ev, "nginx.error.upstream", v)
			case "referrer":
				setStr(ev, "http.request.referrer", v)
			}
		}
	}
	setStr(ev, "error.message", text)
	ev.Set("event.kind", vEvent)
	ev.Set("event.category", vWeb)
	return nil
}

// parseApache reads an Apache access line (combined) or error line:
//
//	[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234:tid 5678] [client 10.0.0.5:5678] AH00037: text
func parseApache(ev *event.Event, msg string) error {
	ev.Set("event.module", event.StringValue("apache"))
	s := strings.TrimLeft(msg, " ")
	if !isApacheError(s) {
		return parseAccess(ev, msg)
	}
	for n := 0; strings.HasPrefix(s, "[") && n < 8; n++ {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return ErrNoMatch
		}
		g := s[1:i]
		s = strings.TrimLeft(s[i+1:], " ")
		switch {
		case n == 0:
			for _, layout := range []string{"Mon Jan 02 15:04:05.000000 2006", "Mon Jan 02 15:04:05 2006", "Mon Jan _2 15:04:05.000000 2006", "Mon Jan _2 15:04:05 2006"} {
				if t, err := time.Parse(layout, g); err == nil {
					ev.Time = t
					break
				}
			}
		case strings.HasPrefix(g, "pid "):
			p, tid, _ := strings.Cut(g[4:], ":tid ")
			setNum(ev, "process.pid", p)
			setNum(ev, "process.thread.id", tid)
		case strings.HasPrefix(g, "client ") || strings.HasPrefix(g, "remote "):
			addr := g[7:]
			if ap, err := netip.ParseAddrPort(addr); err == nil {
				setStr(ev, "source.ip", ap.Addr().String())
				ev.Set("source.port", event.NumberValue(float64(ap.Port())))
			} else {
				setStr(ev, "source.ip", addr)
			}
		case n == 1:
			mod, lvl, ok := strings.Cut(g, ":")
			if ok {
				setStr(ev, "apache.error.module", mod)
				setStr(ev, "log.level", lvl)
			} else {
				setStr(ev, "log.level", g)
			}
		}
	}
	if code, rest, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(code, "AH") && len(code) == 7 {
		setStr(ev, "error.code", code)
		s = rest
	}
	setStr(ev, "error.message", s)
	ev.Set("event.kind", vEvent)
	ev.Set("event.category", vWeb)
	return nil
}
