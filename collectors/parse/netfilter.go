package parse

import (
	"strings"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// parseNetfilter reads an iptables or nftables LOG line, with whatever
// prefix the rule gave it:
//
//	kernel: [UFW BLOCK] IN=eth0 OUT= MAC=... SRC=10.0.0.5 DST=10.0.0.1 LEN=60 TTL=64 ID=1 DF PROTO=TCP SPT=50022 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0
//
// It sets source/destination ip and port, network.transport,
// observer.ingress/egress.interface.name and event.category network; the
// rule prefix goes to iptables.prefix, other keys to iptables.<key> and the
// bare flags (DF, SYN, ACK...) to iptables.flags.
func parseNetfilter(ev *event.Event, msg string) error {
	body := header(ev, msg)
	i := strings.Index(body, "IN=")
	if i < 0 || (i > 0 && body[i-1] != ' ' && body[i-1] != ']' && body[i-1] != ':') {
		return ErrNoMatch
	}
	prefix := strings.TrimSpace(body[:i])
	if strings.HasPrefix(prefix, "[") { // kernel uptime "[ 1234.5678]"
		if j := strings.IndexByte(prefix, ']'); j > 0 && strings.Trim(prefix[1:j], " .0123456789") == "" {
			prefix = strings.TrimSpace(prefix[j+1:])
		}
	}
	setStr(ev, "iptables.prefix", prefix)
	s := body[i:]
	var flags []event.Value
	found := 0
	for n := 0; s != "" && n < maxPairs; n++ {
		var tok string
		tok, s = word(s)
		if tok == "" {
			continue
		}
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			flags = append(flags, event.StringValue(tok))
			continue
		}
		switch k {
		case "IN":
			setStr(ev, "observer.ingress.interface.name", v)
		case "OUT":
			setStr(ev, "observer.egress.interface.name", v)
		case "SRC":
			if v != "" {
				setStr(ev, "source.ip", v)
				found++
			}
		case "DST":
			if v != "" {
				setStr(ev, "destination.ip", v)
				found++
			}
		case "SPT":
			setNum(ev, "source.port", v)
		case "DPT":
			setNum(ev, "destination.port", v)
		case "PROTO":
			setStr(ev, "network.transport", lowerASCII(v))
		case "MAC":
			setStr(ev, "iptables.mac", v)
		case "LEN": // the IP length, then the UDP length
			if _, ok := ev.Get("iptables.length"); ok {
				setNum(ev, "iptables.udp.length", v)
			} else {
				setNum(ev, "iptables.length", v)
			}
		case "TTL":
			setNum(ev, "iptables.ttl", v)
		case "ID":
			setNum(ev, "iptables.id", v)
		case "WINDOW":
			setNum(ev, "iptables.tcp.window", v)
		default:
			if v == "" {
				continue
			}
			name, ok := netfilterNames[k]
			if !ok {
				name = "iptables." + lowerASCII(k)
			}
			setStr(ev, name, v)
		}
	}
	if found < 2 {
		return ErrNoMatch
	}
	if len(flags) > 0 {
		ev.Set("iptables.flags", event.Value{Kind: event.List, List: flags})
	}
	ev.Set("event.kind", vEvent)
	ev.Set("event.category", vNetwork)
	return nil
}

// netfilterNames are the field names of the other common keys, built once.
var netfilterNames = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"TOS", "PREC", "RES", "URGP", "TC", "HOPLIMIT", "FLOWLBL", "TYPE", "CODE", "SEQ", "MARK", "PHYSIN", "PHYSOUT", "ACK", "UID", "GID"} {
		m[k] = "iptables." + strings.ToLower(k)
	}
	return m
}()

// lowerASCII lower-cases s, allocating only when it has upper-case letters.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
