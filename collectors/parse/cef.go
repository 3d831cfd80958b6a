package parse

import (
	"strings"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// parseCEF reads an ArcSight Common Event Format message, with or without a
// syslog header before "CEF:":
//
//	CEF:0|Vendor|Product|1.0|100|Blocked connection|7|src=10.0.0.5 spt=50022 dst=10.0.0.1 dpt=22 act=blocked
//
// The header goes to observer.vendor/product/version, event.code,
// cef.name (and message stays) and event.severity; every extension key to
// cef.extensions.<key>, the common ones also to ECS (source.*, destination.*,
// event.action, network.transport, url.original, user names).
func parseCEF(ev *event.Event, msg string) error {
	i := strings.Index(msg, "CEF:")
	if i < 0 {
		return ErrNoMatch
	}
	s := msg[i+4:]
	var hdr [7]string
	for n := 0; n < 7; n++ {
		f, rest, ok := cefField(s)
		if !ok {
			return ErrNoMatch
		}
		hdr[n], s = f, rest
	}
	setStr(ev, "cef.version", hdr[0])
	setStr(ev, "observer.vendor", hdr[1])
	setStr(ev, "observer.product", hdr[2])
	setStr(ev, "observer.version", hdr[3])
	setStr(ev, "event.code", hdr[4])
	setStr(ev, "cef.name", hdr[5])
	setStr(ev, "cef.severity", hdr[6])
	setNum(ev, "event.severity", hdr[6])
	ev.Set("event.kind", vEvent)
	for n := 0; s != "" && n < maxPairs; n++ {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		k := strings.TrimSpace(s[:eq])
		s = s[eq+1:]
		// The value runs to the space before the next unescaped "key=".
		end := len(s)
		for j := 0; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if s[j] == '=' {
				sp := strings.LastIndexByte(s[:j], ' ')
				if sp >= 0 {
					end = sp
				}
				break
			}
		}
		v := cefUnescape(s[:end])
		s = strings.TrimLeft(s[end:], " ")
		if k == "" {
			continue
		}
		ev.Set("cef.extensions."+k, event.StringValue(v))
		mapCommon(ev, k, v)
	}
	return nil
}

// mapCommon maps the CEF and LEEF keys that have an ECS name.
func mapCommon(ev *event.Event, k, v string) {
	switch k {
	case "src":
		setStr(ev, "source.ip", v)
	case "dst":
		setStr(ev, "destination.ip", v)
	case "spt", "srcPort":
		setNum(ev, "source.port", v)
	case "dpt", "dstPort":
		setNum(ev, "destination.port", v)
	case "shost", "srcHostName":
		setStr(ev, "source.domain", v)
	case "dhost", "dstHostName":
		setStr(ev, "destination.domain", v)
	case "suser", "usrName":
		setStr(ev, "source.user.name", v)
	case "duser":
		setStr(ev, "destination.user.name", v)
	case "act", "action":
		setStr(ev, "event.action", v)
	case "proto":
		setStr(ev, "network.transport", lowerASCII(v))
	case "request", "url":
		setStr(ev, "url.original", v)
	case "requestMethod":
		setStr(ev, "http.request.method", v)
	case "msg":
		setStr(ev, "event.reason", v)
	case "outcome":
		setStr(ev, "event.outcome", lowerASCII(v))
	case "dvchost":
		setStr(ev, "observer.hostname", v)
	case "sproc":
		setStr(ev, "process.name", v)
	case "fname":
		setStr(ev, "file.name", v)
	case "fileHash":
		setStr(ev, "file.hash.sha256", v)
	}
}

// cefField reads one pipe-terminated header field with \| and \\ escapes.
func cefField(s string) (string, string, bool) {
	esc := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			esc = true
			i++
		case '|':
			f := s[:i]
			if esc {
				f = strings.NewReplacer(`\|`, `|`, `\\`, `\`).Replace(f)
			}
			return f, s[i+1:], true
		}
	}
	return "", "", false
}

// cefUnescape undoes the extension escapes \= \\ \n \r.
func cefUnescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			default:
				c = s[i]
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// parseLEEF reads an IBM QRadar Log Event Extended Format message:
//
//	LEEF:1.0|Vendor|Product|1.0|LoginFailed|src=10.0.0.5	usrName=alice
//	LEEF:2.0|Vendor|Product|1.0|LoginFailed|^|src=10.0.0.5^usrName=alice
//
// The header goes to observer.* and event.code; attributes to
// leef.attributes.<key>, the common ones also to ECS.
func parseLEEF(ev *event.Event, msg string) error {
	i := strings.Index(msg, "LEEF:")
	if i < 0 {
		return ErrNoMatch
	}
	s := msg[i+5:]
	var hdr [5]string
	for n := 0; n < 5; n++ {
		j := strings.IndexByte(s, '|')
		if j < 0 {
			return ErrNoMatch
		}
		hdr[n], s = s[:j], s[j+1:]
	}
	sep := "\t"
	if strings.HasPrefix(hdr[0], "2") {
		// LEEF 2.0 names its delimiter: one character or a hex code (0x5E).
		j := strings.IndexByte(s, '|')
		if j >= 0 && j <= 6 {
			d := s[:j]
			s = s[j+1:]
			switch {
			case strings.HasPrefix(d, "0x") || strings.HasPrefix(d, "x"):
				if b := unhex(strings.TrimPrefix(strings.TrimPrefix(d, "0"), "x")); len(b) == 1 {
					sep = b
				}
			case d != "":
				sep = d
			}
		}
	}
	setStr(ev, "leef.version", hdr[0])
	setStr(ev, "observer.vendor", hdr[1])
	setStr(ev, "observer.product", hdr[2])
	setStr(ev, "observer.version", hdr[3])
	setStr(ev, "event.code", hdr[4])
	ev.Set("event.kind", vEvent)
	for n := 0; s != "" && n < maxPairs; n++ {
		var kv string
		if j := strings.Index(s, sep); j >= 0 {
			kv, s = s[:j], s[j+len(sep):]
		} else {
			kv, s = s, ""
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		ev.Set("leef.attributes."+k, event.StringValue(v))
		switch k {
		case "sev":
			setNum(ev, "event.severity", v)
		case "cat":
			setStr(ev, "leef.category", v)
		default:
			mapCommon(ev, k, v)
		}
	}
	return nil
}
