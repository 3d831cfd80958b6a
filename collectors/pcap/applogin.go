package pcap

import (
	"bytes"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// Cleartext logins. FTP (USER/PASS commands and the server's 230/530
// replies) and Telnet (the user name typed after a "login:" prompt, then a
// line after a "Password:" prompt) are reported as one event per attempt
// with the user name. Passwords are never kept: the parsers only note that
// one was sent.

const (
	// maxLoginLine bounds an FTP command or reply line.
	maxLoginLine = 1024
	// maxUserName bounds a reported user name.
	maxUserName = 128
	// maxLogins bounds the attempts reported per connection.
	maxLogins = 64
	// telnetTail is how much recent server text is kept to find prompts.
	telnetTail = 64
)

// login is one cleartext login attempt.
type login struct {
	svc     service
	user    string
	ts      time.Time
	pass    bool   // a password was sent
	outcome string // "success", "failure" or "unknown"
}

// startLogin reports the pending attempt and starts a new one.
func (p *Processor) startLogin(f *flow, svc service, user string, ts time.Time) {
	p.flushLogin(f)
	if len(user) > maxUserName {
		user = user[:maxUserName]
	}
	f.app.login = &login{svc: svc, user: user, ts: ts, outcome: "unknown"}
}

// flushLogin sends the pending attempt, if a password was sent or the
// login succeeded, as a "network.ftp" or "network.telnet" event.
func (p *Processor) flushLogin(f *flow) {
	a := f.app
	l := a.login
	if l == nil {
		return
	}
	a.login = nil
	if !l.pass && l.outcome != "success" || a.logins >= maxLogins {
		return
	}
	a.logins++
	p.stats.Logins++
	f.svc = l.svc
	ev := p.appEvent("network."+l.svc.String(), f, l.ts, l.svc)
	ev.Set("event.category", event.Value{Kind: event.List, List: []event.Value{str("network"), str("authentication")}})
	ev.Set("event.type", event.Value{Kind: event.List, List: []event.Value{str("start")}})
	ev.Set("event.action", str(l.svc.String()+"-login"))
	ev.Set("event.outcome", str(l.outcome))
	ev.Set("user.name", str(l.user))
	ev.Set("mangrove.credentials.cleartext", event.BoolValue(true))
	ev.Set("mangrove.credentials.password_sent", event.BoolValue(l.pass))
	p.send(ev)
}

// nextLine returns the first line of b without its line ending and the
// length consumed, or ok=false when no line is complete.
func nextLine(b []byte) (line []byte, n int, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, 0, false
	}
	return bytes.TrimRight(b[:i], "\r"), i + 1, true
}

// parseFTP reads FTP commands (originator) and replies (responder).
func (p *Processor) parseFTP(pk *packet, f *flow, dir int) {
	a := f.app
	h := &a.dirs[dir]
	for !h.done {
		line, n, ok := nextLine(h.buf)
		if !ok {
			if len(h.buf) > maxLoginLine {
				p.stats.AppMalformed++
				p.endHalf(h)
			}
			return
		}
		if dir == a.client {
			cmd, arg, _ := bytes.Cut(line, []byte(" "))
			switch strings.ToUpper(string(cmd)) {
			case "USER":
				p.startLogin(f, svcFTP, string(bytes.TrimSpace(arg)), pk.ts)
			case "PASS":
				if a.login != nil {
					a.login.pass = true
				}
			case "AUTH":
				// TLS follows (RFC 4217): nothing more to read.
				p.consume(h, n)
				p.endHalf(&a.dirs[0])
				p.endHalf(&a.dirs[1])
				return
			}
		} else if len(line) >= 4 && line[3] == ' ' && a.login != nil {
			switch string(line[:3]) {
			case "230":
				a.login.outcome = "success"
				p.flushLogin(f)
			case "530":
				a.login.outcome = "failure"
				p.flushLogin(f)
			}
		}
		p.consume(h, n)
	}
}

// telnetState follows a Telnet login dialogue.
type telnetState struct {
	state uint8
	user  []byte
	tail  []byte // recent server text, lower-cased
}

// Telnet dialogue states.
const (
	tnWaitPrompt uint8 = iota // before a login prompt
	tnUser                    // reading the user name
	tnWaitPass                // user name sent, before the password prompt
	tnPass                    // reading the password (discarded)
	tnResult                  // password sent, before the outcome
)

// Telnet commands (RFC 854).
const (
	tnIAC = 255
	tnSB  = 250
	tnSE  = 240
	tnWIL = 251
)

// telnetText strips Telnet commands from b into dst. It returns the text
// and the bytes consumed; an incomplete command at the end is left.
func telnetText(dst, b []byte) ([]byte, int) {
	i := 0
	for i < len(b) {
		c := b[i]
		if c != tnIAC {
			if c != 0 {
				dst = append(dst, c)
			}
			i++
			continue
		}
		if i+1 >= len(b) {
			return dst, i
		}
		switch cmd := b[i+1]; {
		case cmd == tnIAC:
			dst = append(dst, tnIAC)
			i += 2
		case cmd >= tnWIL:
			if i+2 >= len(b) {
				return dst, i
			}
			i += 3
		case cmd == tnSB:
			end := bytes.Index(b[i+2:], []byte{tnIAC, tnSE})
			if end < 0 {
				return dst, i
			}
			i += 2 + end + 2
		default:
			i += 2
		}
	}
	return dst, i
}

// parseTelnet follows the login dialogue: server prompts on the responder
// side, the typed user name and password on the originator side.
func (p *Processor) parseTelnet(pk *packet, f *flow, dir int) {
	a := f.app
	h := &a.dirs[dir]
	if a.telnet == nil {
		a.telnet = new(telnetState)
	}
	t := a.telnet
	var scratch [256]byte
	for len(h.buf) > 0 && !h.done {
		chunk := h.buf[:min(len(h.buf), len(scratch))]
		text, n := telnetText(scratch[:0], chunk)
		if n == 0 {
			if len(h.buf) > maxLoginLine {
				p.stats.AppMalformed++
				p.endHalf(h)
			}
			return
		}
		p.consume(h, n)
		if dir != a.client {
			p.telnetServer(f, pk.ts, text)
		} else {
			p.telnetClient(f, pk.ts, text)
		}
		if t.state == tnWaitPrompt && a.logins >= maxLogins {
			p.endHalf(&a.dirs[0])
			p.endHalf(&a.dirs[1])
		}
	}
}

func (p *Processor) telnetServer(f *flow, ts time.Time, text []byte) {
	t := f.app.telnet
	t.tail = append(t.tail, bytes.ToLower(text)...)
	if len(t.tail) > telnetTail {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-telnetTail:]...)
	}
	has := func(s string) bool { return bytes.Contains(t.tail, []byte(s)) }
	switch t.state {
	case tnResult:
		switch {
		case has("incorrect") || has("failed") || has("denied") || has("invalid"):
			f.app.login.outcome = "failure"
			p.flushLogin(f)
			t.state = tnWaitPrompt // the next prompt may be in the same text
		case has("last login") || has("welcome") || has("$ ") || has("# ") || has("> "):
			f.app.login.outcome = "success"
			p.flushLogin(f)
			// The session follows: nothing more to read.
			p.endHalf(&f.app.dirs[0])
			p.endHalf(&f.app.dirs[1])
		}
		if t.state != tnWaitPrompt {
			return
		}
		fallthrough
	case tnWaitPrompt, tnUser:
		if has("login:") || has("username:") || has("user name:") {
			t.state, t.tail, t.user = tnUser, t.tail[:0], t.user[:0]
		}
	case tnWaitPass:
		if has("password:") {
			t.state, t.tail = tnPass, t.tail[:0]
		}
	}
}

func (p *Processor) telnetClient(f *flow, ts time.Time, text []byte) {
	t := f.app.telnet
	for _, c := range text {
		switch t.state {
		case tnUser:
			switch {
			case c == '\r' || c == '\n':
				if len(t.user) > 0 {
					p.startLogin(f, svcTelnet, string(t.user), ts)
					t.state, t.tail = tnWaitPass, t.tail[:0]
				}
			case c == 8 || c == 127: // backspace, delete
				if len(t.user) > 0 {
					t.user = t.user[:len(t.user)-1]
				}
			case c >= 0x20 && c < 0x7f && len(t.user) < maxUserName:
				t.user = append(t.user, c)
			}
		case tnPass:
			if c == '\r' || c == '\n' {
				if l := f.app.login; l != nil {
					l.pass = true
				}
				t.state, t.tail = tnResult, t.tail[:0]
			}
		}
	}
}
