// Package parse turns raw log lines into Elastic Common Schema (ECS) fields.
//
// Each parser enriches an event in place from its "message" field (and, for
// JSON inputs, from its other fields): OpenSSH, sudo and su, Linux auditd,
// nginx and Apache access and error logs, iptables/nftables log lines, CEF,
// LEEF, Windows event JSON in its three shapes, and JSON pass-through. A parser
// is chosen by name in a collector's configuration or found by Detect. Fields
// that ECS lacks go under the parser's own namespace (auditd.*, cef.*, ...).
// Parsers never remove fields a source sent, only add; the message stays.
//
// Parsers are safe for concurrent use: they keep no state between calls.
package parse

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// MaxMessage is the longest message a text parser reads; longer messages are
// refused with ErrTooLarge and the event is left as it was.
const MaxMessage = 64 << 10

// maxPairs bounds the key=value pairs read from one message.
const maxPairs = 256

// Sentinel errors; callers count parse errors by cause.
var (
	// ErrNoMatch means the message is not in the parser's format.
	ErrNoMatch = errors.New("message does not match the format")
	// ErrTooLarge means the message exceeds MaxMessage.
	ErrTooLarge = errors.New("message too large to parse")
	// ErrUnknown means no parser has the given name.
	ErrUnknown = errors.New("unknown parser")
)

// Auto is the parser name that means "detect the format" (as does "").
const Auto = "auto"

type parseFunc func(ev *event.Event, msg string) error

// parsers maps names to functions; aliases share a function.
var parsers = map[string]parseFunc{
	"openssh":  parseOpenSSH,
	"sudo":     parseSudo,
	"su":       parseSu,
	"auditd":   parseAuditd,
	"access":   parseAccess,
	"nginx":    parseNginx,
	"apache":   parseApache,
	"iptables": parseNetfilter,
	"nftables": parseNetfilter,
	"cef":      parseCEF,
	"leef":     parseLEEF,
	"windows":  parseWindows,
}

// json's parser consults the table itself (for the message inside).
func init() { parsers["json"] = parseJSON }

// Names returns the parser names Parse accepts, sorted, without Auto.
func Names() []string {
	out := make([]string, 0, len(parsers))
	for n := range parsers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Known reports whether name is a parser name or Auto/"".
func Known(name string) bool {
	if name == "" || name == Auto {
		return true
	}
	_, ok := parsers[name]
	return ok
}

// Parse enriches ev with the named parser. With name "" or Auto the format
// is found by Detect; when nothing is detected the event passes through
// unchanged and Parse returns nil, as it does when the detected parser finds
// nothing it knows in the message (an sshd line about something else). A named parser that does not recognize the
// message returns an error wrapping ErrNoMatch; the event may then hold some
// of the fields already read, never fewer than before.
func Parse(name string, ev *event.Event) error {
	auto := name == "" || name == Auto
	msg := ev.Message()
	if auto {
		name = detect(ev, msg)
		if name == "" {
			return nil
		}
	}
	fn, ok := parsers[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknown, name)
	}
	if len(msg) > MaxMessage {
		return fmt.Errorf("parsing %s: %w: %d bytes", name, ErrTooLarge, len(msg))
	}
	if err := fn(ev, msg); err != nil {
		if auto && errors.Is(err, ErrNoMatch) {
			return nil // e.g. an sshd line that is not about authentication
		}
		return fmt.Errorf("parsing %s: %w", name, err)
	}
	return nil
}

// Detect returns the name of the parser that fits ev, or "" when none does.
// It looks at the fields first (Windows event shapes), then at the message.
func Detect(ev *event.Event) string { return detect(ev, ev.Message()) }

// detect is Detect with the event's message already looked up.
func detect(ev *event.Event, msg string) string {
	if isWindows(ev) {
		return "windows"
	}
	if len(msg) > MaxMessage {
		return ""
	}
	t := strings.TrimLeft(msg, " \t")
	if strings.HasPrefix(t, "{") {
		return "json"
	}
	prog, _, body := splitHeader(msg)
	if prog == "" {
		prog = ev.GetString("process.name")
	}
	// One scan rules out both CEF and LEEF for nearly every line.
	ef := strings.Contains(msg, "EF:")
	switch {
	case ef && (strings.HasPrefix(body, "CEF:") || strings.Contains(msg, "CEF:0|") || strings.Contains(msg, "CEF:1|")):
		return "cef"
	case ef && (strings.HasPrefix(body, "LEEF:") || strings.Contains(msg, "LEEF:1.0|") || strings.Contains(msg, "LEEF:2.0|")):
		return "leef"
	case strings.HasPrefix(t, "type=") && strings.Contains(t, "msg=audit("):
		return "auditd"
	case prog == "sshd" || strings.HasPrefix(prog, "sshd-"):
		return "openssh"
	case prog == "sudo":
		return "sudo"
	case prog == "su":
		return "su"
	case strings.Contains(body, "SRC=") && strings.Contains(body, "DST=") && strings.Contains(body, "PROTO="):
		return "iptables"
	}
	if _, ok := scanAccess(t); ok {
		return "access"
	}
	if isNginxError(t) {
		return "nginx"
	}
	if isApacheError(t) {
		return "apache"
	}
	return ""
}

// splitHeader strips an optional syslog header from a line: an RFC 3164 or
// RFC 3339 timestamp and host, then "prog[pid]: " or "prog: ". It returns
// the program, the pid text and the rest. Without a tag, prog is "" and body
// is the line from where the header ended.
func splitHeader(s string) (prog, pid, body string) {
	rest := s
	switch {
	case len(rest) > 16 && rest[3] == ' ' && rest[6] == ' ' && rest[9] == ':' && rest[12] == ':' && rest[15] == ' ':
		rest = skipToken(rest[16:]) // host
	case len(rest) > 20 && isDigit(rest[0]) && rest[4] == '-' && rest[10] == 'T':
		if i := strings.IndexByte(rest, ' '); i > 0 {
			rest = skipToken(rest[i+1:])
		}
	}
	i := 0
	for i < len(rest) && i < 64 && isTagByte(rest[i]) {
		i++
	}
	if i == 0 || i >= len(rest) {
		return "", "", rest
	}
	prog = rest[:i]
	j := i
	if rest[j] == '[' {
		k := j + 1
		for k < len(rest) && isDigit(rest[k]) {
			k++
		}
		if k == j+1 || k >= len(rest) || rest[k] != ']' {
			return "", "", rest
		}
		pid = rest[j+1 : k]
		j = k + 1
	}
	if j+1 < len(rest) && rest[j] == ':' && rest[j+1] == ' ' {
		return prog, pid, rest[j+2:]
	}
	if j+1 == len(rest) && rest[j] == ':' {
		return prog, pid, ""
	}
	return "", "", rest
}

// skipToken skips one space-free token and the spaces after it.
func skipToken(s string) string {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s
	}
	return strings.TrimLeft(s[i+1:], " ")
}

func isTagByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// header sets process.name and process.pid from a syslog header when the
// event does not have them yet, and returns the body.
func header(ev *event.Event, msg string) string {
	var fs fieldSet
	body := fs.header(ev, msg)
	fs.apply(ev)
	return body
}

// setStr sets a string field unless s is empty.
func setStr(ev *event.Event, name, s string) {
	if s != "" {
		ev.Set(name, event.StringValue(s))
	}
}

// setNum sets a number field from its decimal text without allocating; text
// that is not a number is stored as a string so nothing is lost.
func setNum(ev *event.Event, name, s string) {
	if s == "" {
		return
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		ev.Set(name, event.StringValue(s))
		return
	}
	if s[0] == '+' || len(s) > 1 && s[0] == '0' || len(s) > 2 && s[0] == '-' && s[1] == '0' {
		// Not the JSON form of the number (Str is its literal): normalize.
		ev.Set(name, event.NumberValue(float64(n)))
		return
	}
	ev.Set(name, event.Value{Kind: event.Number, Num: float64(n), Str: s})
}

// setList sets a list of strings.
func setList(ev *event.Event, name string, ss ...string) {
	vs := make([]event.Value, len(ss))
	for i, s := range ss {
		vs[i] = event.StringValue(s)
	}
	ev.Set(name, event.Value{Kind: event.List, List: vs})
}

// Pre-built ECS values shared by all events (Value is copied on Set).
var (
	vAuthentication = event.Value{Kind: event.List, List: []event.Value{event.StringValue("authentication")}}
	vNetwork        = event.Value{Kind: event.List, List: []event.Value{event.StringValue("network")}}
	vProcess        = event.Value{Kind: event.List, List: []event.Value{event.StringValue("process")}}
	vWeb            = event.Value{Kind: event.List, List: []event.Value{event.StringValue("web")}}
	vSuccess        = event.StringValue("success")
	vFailure        = event.StringValue("failure")
	vEvent          = event.StringValue("event")
)

func outcome(ok bool) event.Value {
	if ok {
		return vSuccess
	}
	return vFailure
}
