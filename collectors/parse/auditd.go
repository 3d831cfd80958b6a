package parse

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// parseAuditd reads one Linux audit record:
//
//	type=EXECVE msg=audit(1700000000.123:456): argc=2 a0="ls" a1=2D6C61
//	type=USER_AUTH msg=audit(1700000000.123:457): pid=1 uid=0 msg='op=PAM:authentication acct="root" addr=10.0.0.5 res=failed'
//
// Every key=value goes under auditd.data.<key> (a nested msg='...' is read
// as more pairs); hex-encoded strings are decoded. The record type, the
// sequence number and the time go to auditd.type, auditd.sequence and the
// event time. Known keys are mapped to ECS: process.*, user.*, source.ip,
// event.outcome; EXECVE arguments become process.args and
// process.command_line.
func parseAuditd(ev *event.Event, msg string) error {
	s := strings.TrimLeft(msg, " ")
	if i := strings.Index(s, "type="); i > 0 && i < 64 {
		s = s[i:] // "audit: type=..." or a syslog header before it
	}
	if !cut(&s, "type=") {
		return ErrNoMatch
	}
	typ, s := word(s)
	if !cut(&s, "msg=audit(") {
		return ErrNoMatch
	}
	end := strings.Index(s, "):")
	if end < 0 {
		return ErrNoMatch
	}
	stamp, seq, _ := strings.Cut(s[:end], ":")
	s = s[end+2:]
	if sec, frac, ok := strings.Cut(stamp, "."); ok || sec != "" {
		n, err1 := strconv.ParseInt(sec, 10, 64)
		ms, err2 := strconv.ParseInt(frac, 10, 64)
		if err1 == nil && (err2 == nil || frac == "") && len(frac) <= 9 {
			for i := len(frac); i < 9; i++ {
				ms *= 10
			}
			ev.Time = time.Unix(n, ms).UTC()
		}
	}
	setStr(ev, "auditd.type", typ)
	setNum(ev, "auditd.sequence", seq)
	ev.Set("event.kind", vEvent)
	ev.Set("event.action", event.StringValue(strings.ToLower(typ)))

	var args []event.Value
	var cmdline strings.Builder
	ok := true
	hasOutcome := false
	var visit func(k, v string, quoted bool)
	visit = func(k, v string, quoted bool) {
		if k == "msg" && quoted {
			pairs(v, ' ', visit)
			return
		}
		if !quoted && hexField(typ, k) {
			v = unhex(v)
		}
		ev.Set("auditd.data."+k, event.StringValue(v))
		switch k {
		case "pid":
			setNum(ev, "process.pid", v)
		case "ppid":
			setNum(ev, "process.parent.pid", v)
		case "uid":
			setStr(ev, "user.id", v)
		case "euid":
			setStr(ev, "user.effective.id", v)
		case "auid":
			setStr(ev, "user.audit.id", v)
		case "comm":
			setStr(ev, "process.name", v)
		case "exe":
			setStr(ev, "process.executable", v)
		case "cwd":
			setStr(ev, "process.working_directory", v)
		case "acct":
			setStr(ev, "user.name", v)
		case "addr":
			if v != "?" {
				setStr(ev, "source.ip", v)
			}
		case "hostname":
			if v != "?" {
				setStr(ev, "source.address", v)
			}
		case "op":
			setStr(ev, "auditd.op", v)
		case "success", "res":
			hasOutcome = true
			ok = v == "yes" || v == "success"
		case "cmd":
			setStr(ev, "process.command_line", v)
		case "proctitle":
			setStr(ev, "process.command_line", strings.ReplaceAll(v, "\x00", " "))
		}
		if typ == "EXECVE" && len(k) > 1 && k[0] == 'a' && isDigit(k[1]) && !strings.Contains(k, "[") {
			args = append(args, event.StringValue(v))
			if cmdline.Len() > 0 {
				cmdline.WriteByte(' ')
			}
			cmdline.WriteString(v)
		}
	}
	raw, enriched, _ := strings.Cut(s, "\x1d")
	pairs(raw, ' ', visit)
	pairs(enriched, ' ', func(k, v string, _ bool) {
		setStr(ev, "auditd.enriched."+k, v)
	})
	if len(args) > 0 {
		ev.Set("process.args", event.Value{Kind: event.List, List: args})
		ev.Set("process.args_count", event.NumberValue(float64(len(args))))
		ev.Set("process.command_line", event.StringValue(cmdline.String()))
	}
	switch {
	case strings.HasPrefix(typ, "USER_") || typ == "CRED_ACQ" || typ == "LOGIN" || typ == "ANOM_LOGIN_FAILURES":
		ev.Set("event.category", vAuthentication)
	case typ == "EXECVE" || typ == "SYSCALL" || typ == "PROCTITLE":
		ev.Set("event.category", vProcess)
	}
	if hasOutcome {
		ev.Set("event.outcome", outcome(ok))
	}
	return nil
}

// hexField reports whether auditd may hex-encode the key's value (it does so
// for untrusted strings holding spaces, quotes or control characters).
func hexField(typ, k string) bool {
	switch k {
	case "proctitle", "exe", "comm", "cwd", "name", "acct", "cmd", "path", "key", "data", "old-name", "new-name":
		return true
	}
	return typ == "EXECVE" && len(k) > 1 && k[0] == 'a' && isDigit(k[1])
}

// unhex decodes an even-length hex string; anything else is returned as is.
// Invalid UTF-8 in the result is replaced so the field stays valid text.
func unhex(v string) string {
	if len(v) < 2 || len(v)%2 != 0 {
		return v
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return v
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
