package parse

import (
	"strings"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// parseSudo reads sudo's command log lines:
//
//	alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u
//	alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh
//	alice : user NOT in sudoers ; TTY=pts/0 ; ...
//
// It sets user.name (who ran sudo), user.effective.name (USER=),
// process.command_line, event.outcome, and sudo.tty, sudo.pwd, sudo.error.
func parseSudo(ev *event.Event, msg string) error {
	body := strings.TrimLeft(header(ev, msg), " ")
	i := strings.Index(body, " : ")
	if i <= 0 {
		return ErrNoMatch
	}
	user, rest := body[:i], body[i+3:]
	found := false
	okRun := true
	for n := 0; rest != "" && n < maxPairs; n++ {
		var part string
		if j := strings.Index(rest, " ; "); j >= 0 && !strings.HasPrefix(rest, "COMMAND=") {
			part, rest = rest[:j], rest[j+3:]
		} else {
			part, rest = rest, ""
		}
		k, v, isKV := strings.Cut(part, "=")
		switch {
		case isKV && k == "TTY":
			setStr(ev, "sudo.tty", v)
			found = true
		case isKV && k == "PWD":
			setStr(ev, "sudo.pwd", v)
			setStr(ev, "process.working_directory", v)
		case isKV && k == "USER":
			setStr(ev, "user.effective.name", v)
		case isKV && k == "GROUP":
			setStr(ev, "group.effective.name", v)
		case isKV && k == "COMMAND":
			setStr(ev, "process.command_line", v)
			exe, _ := word(v)
			setStr(ev, "process.executable", exe)
			found = true
		case isKV && k == "ENV":
			setStr(ev, "sudo.env", v)
		default:
			okRun = false
			setStr(ev, "sudo.error", part)
		}
	}
	if !found {
		return ErrNoMatch
	}
	setStr(ev, "user.name", user)
	ev.Set("event.kind", vEvent)
	ev.Set("event.category", vProcess)
	ev.Set("event.action", event.StringValue("sudo"))
	ev.Set("event.outcome", outcome(okRun))
	return nil
}

// parseSu reads su's log lines:
//
//	(to root) alice on pts/0
//	FAILED SU (to root) alice on pts/0
//	pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)
//	pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root
//
// It sets user.name (who ran su), user.effective.name (target),
// event.category authentication, event.outcome and su.tty.
func parseSu(ev *event.Event, msg string) error {
	body := header(ev, msg)
	ok := true
	var user, target, tty string
	switch {
	case strings.HasPrefix(body, "(to ") || strings.HasPrefix(body, "FAILED SU (to ") || strings.HasPrefix(body, "+ ") || strings.HasPrefix(body, "- "):
		if cut(&body, "FAILED SU ") || cut(&body, "- ") {
			ok = false
		} else {
			cut(&body, "+ ")
		}
		if !cut(&body, "(to ") {
			// "+ pts/0 alice:root" (older format)
			tty, body = word(body)
			user, target, _ = strings.Cut(body, ":")
			break
		}
		i := strings.IndexByte(body, ')')
		if i < 0 {
			return ErrNoMatch
		}
		target, body = body[:i], strings.TrimLeft(body[i+1:], " ")
		user, body = word(body)
		if cut(&body, "on ") {
			tty = body
		}
	case strings.HasPrefix(body, "pam_unix(su"):
		_, rest, _ := strings.Cut(body, "): ")
		switch {
		case cut(&rest, "session opened for user "):
			target, rest = word(rest)
			target, _, _ = strings.Cut(target, "(")
			if cut(&rest, "by ") {
				user, _, _ = strings.Cut(rest, "(")
			}
		case cut(&rest, "session closed for user "):
			target, _, _ = strings.Cut(rest, "(")
			ev.Set("event.action", event.StringValue("su_session_closed"))
		case cut(&rest, "authentication failure; "):
			ok = false
			pairs(rest, ' ', func(k, v string, _ bool) {
				switch k {
				case "ruser", "logname":
					if user == "" {
						user = v
					}
				case "user":
					target = v
				case "tty":
					tty = v
				}
			})
		default:
			return ErrNoMatch
		}
	default:
		return ErrNoMatch
	}
	if user == "" && target == "" {
		return ErrNoMatch
	}
	setStr(ev, "user.name", user)
	setStr(ev, "user.effective.name", target)
	setStr(ev, "su.tty", tty)
	ev.Set("event.kind", vEvent)
	ev.Set("event.category", vAuthentication)
	if _, set := ev.Get("event.action"); !set {
		ev.Set("event.action", event.StringValue("su"))
	}
	ev.Set("event.outcome", outcome(ok))
	return nil
}

// pairs calls fn for each key=value in s separated by sep; values may be
// double- or single-quoted (quoted is then true, the quotes removed). It
// stops after maxPairs pairs.
func pairs(s string, sep byte, fn func(k, v string, quoted bool)) {
	for n := 0; s != "" && n < maxPairs; n++ {
		for s != "" && s[0] == sep {
			s = s[1:]
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return
		}
		if sp := strings.IndexByte(s[:eq], sep); sp >= 0 {
			// a word without '=': skip it
			s = s[sp+1:]
			continue
		}
		k := s[:eq]
		s = s[eq+1:]
		var v string
		quoted := false
		if s != "" && (s[0] == '"' || s[0] == '\'') {
			quoted = true
			q := s[0]
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				v, s = s[1:], ""
			} else {
				v, s = s[1:1+end], s[2+end:]
			}
		} else if i := strings.IndexByte(s, sep); i >= 0 {
			v, s = s[:i], s[i+1:]
		} else {
			v, s = s, ""
		}
		fn(k, v, quoted)
	}
}
