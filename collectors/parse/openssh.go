package parse

import (
	"strings"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// parseOpenSSH reads sshd authentication lines:
//
//	Accepted password for alice from 10.0.0.5 port 50022 ssh2
//	Accepted publickey for alice from 10.0.0.5 port 50022 ssh2: ED25519 SHA256:...
//	Failed password for invalid user admin from 10.0.0.5 port 50022 ssh2
//	Invalid user admin from 10.0.0.5 port 50022
//	Connection closed by authenticating user root 10.0.0.5 port 50022 [preauth]
//
// It sets event.category authentication, event.action, event.outcome,
// user.name, source.ip, source.port and openssh.method / openssh.key.
func parseOpenSSH(ev *event.Event, msg string) error {
	// Every field, the header's too, goes in one merge, also when the line
	// turns out not to be about authentication.
	var fs fieldSet
	defer fs.apply(ev)
	body := fs.header(ev, msg)
	var action, method, rest string
	var ok, invalid bool
	switch {
	case cut(&body, "Accepted "):
		action, ok = "ssh_login", true
		method, rest = word(body)
		if !cutOK(rest, "for ", &rest) {
			return ErrNoMatch
		}
	case cut(&body, "Failed "):
		action = "ssh_login"
		method, rest = word(body)
		if !cutOK(rest, "for ", &rest) {
			return ErrNoMatch
		}
		invalid = cutOK(rest, "invalid user ", &rest)
	case cut(&body, "Invalid user "):
		action, rest = "invalid_user", body
	case cut(&body, "Connection closed by authenticating user "):
		action, rest = "ssh_preauth_closed", body
	default:
		return ErrNoMatch
	}
	// rest: "USER from IP port PORT ..." or "USER IP port PORT ..."
	// A user name may contain spaces; the address is found from the end.
	i := strings.LastIndex(rest, " port ")
	if i < 0 {
		return ErrNoMatch
	}
	head, tail := rest[:i], rest[i+len(" port "):]
	port, tail := word(tail)
	var user, ip string
	if j := strings.LastIndex(head, " from "); j >= 0 {
		user, ip = head[:j], head[j+len(" from "):]
	} else if j := strings.LastIndexByte(head, ' '); j >= 0 {
		user, ip = head[:j], head[j+1:]
	} else if action == "invalid_user" {
		ip = head
	} else {
		return ErrNoMatch
	}
	fs.set(ev, "event.kind", vEvent)
	fs.set(ev, "event.category", vAuthentication)
	fs.set(ev, "event.action", event.StringValue(action))
	if action != "ssh_preauth_closed" {
		fs.set(ev, "event.outcome", outcome(ok))
	}
	fs.str(ev, "user.name", user)
	fs.str(ev, "source.ip", ip)
	fs.num(ev, "source.port", port)
	fs.str(ev, "openssh.method", method)
	if method == "publickey" {
		if k := strings.Index(tail, ": "); k >= 0 {
			fs.str(ev, "openssh.key", tail[k+2:])
		}
	}
	if invalid {
		fs.set(ev, "openssh.invalid_user", event.BoolValue(true))
	}
	return nil
}

// cut removes prefix from *s and reports whether it was there.
func cut(s *string, prefix string) bool {
	if strings.HasPrefix(*s, prefix) {
		*s = (*s)[len(prefix):]
		return true
	}
	return false
}

// cutOK is cut of s into *out.
func cutOK(s, prefix string, out *string) bool {
	if strings.HasPrefix(s, prefix) {
		*out = s[len(prefix):]
		return true
	}
	*out = s
	return false
}

// word returns the text up to the first space and the rest after it.
func word(s string) (string, string) {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}
