package syslog

import (
	"errors"
	"github.com/mangrove-soc/mangrove/collectors/parse"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/auto"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/eventid"
)

// Dataset is the event.dataset of syslog events.
const Dataset = "syslog"

var facilityNames = [24]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

var severityNames = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// smallInts are the Number Values 0..191 (priorities, facility and severity
// codes), shared to avoid formatting them per message.
var smallInts = func() (v [192]event.Value) {
	for i := range v {
		v[i] = event.NumberValue(float64(i))
	}
	return v
}()

// meta is what a message's event gets from its transport.
type meta struct {
	collector string
	tenant    string
	addr      netip.AddrPort
	received  time.Time
}

// parser turns raw syslog messages into events. It is not safe for
// concurrent use: each connection or UDP worker has its own.
type parser struct {
	keepOriginal bool
	// ids mints event IDs, keyed by its Key (nil: event.NewID's).
	ids eventid.Minter
	// ecs is the collectors/parse parser applied to each event, or "none".
	ecs string
	// year completes RFC 3164 timestamps; the current year by default.
	year     rfc3164.YearOperator
	machines map[*time.Location]gosyslog.Machine
	// slab holds events' fields, assembled in place.
	slab event.FieldSlab
	// The sender's source.ip and source.port, formatted once per sender.
	lastAddr netip.AddrPort
	srcIP    event.Value
	srcPort  event.Value
	// scratch holds the copy of a message whose timestamp the parser read
	// itself (see rfc5424Timestamp); slowTimestamps turns that off (tests
	// compare both paths).
	scratch        []byte
	slowTimestamps bool
	strict5424     gosyslog.Machine
}

func newParser(keepOriginal bool, ecs string, ids *eventid.Key) *parser {
	return &parser{keepOriginal: keepOriginal, ecs: ecs, ids: eventid.Minter{Key: ids}, year: rfc3164.CurrentYear{}, machines: map[*time.Location]gosyslog.Machine{}}
}

// machine returns the format-detecting machine whose RFC 3164 timestamps
// are read in zone.
func (p *parser) machine(zone *time.Location) gosyslog.Machine {
	m, ok := p.machines[zone]
	if !ok {
		m = auto.NewMachine(
			auto.WithRFC5424Options(rfc5424.WithBestEffort()),
			auto.WithRFC3164Options(rfc3164.WithYear(p.year), rfc3164.WithLocaleTimezone(zone),
				rfc3164.WithRFC3339(), rfc3164.WithEmbeddedNewlines(), rfc3164.WithLenientDay(),
				rfc3164.WithBestEffort()),
		)
		p.machines[zone] = m
	}
	return m
}

// maxFixedFields bounds the fields parse sets besides structured data.
const maxFixedFields = 16

// ecsFields is the room kept for the fields an ECS parser (collectors/parse)
// adds: the OpenSSH parser adds up to 9.
const ecsFields = 16

// parse sets *ev to the event of the message raw (without framing) and
// reports whether it parsed. An unparsable message still yields an event:
// its text in message and event.original, with error.message saying why,
// so nothing is lost silently. Filling the caller's event (a batch's
// slot) rather than returning one saves copying it and, because the ECS
// parsers take its address, allocating it.
//
// Fields are appended in name order (the order of the code below), only
// the structured data, whose ids come from a map, is sorted.
func (p *parser) parse(ev *event.Event, raw []byte, zone *time.Location, md meta) bool {
	raw = trimTrailingNewline(raw)
	*ev = event.Event{
		ID:      p.ids.ID(md.tenant, raw),
		Tenant:  md.tenant,
		Source:  md.collector,
		Dataset: Dataset,
	}
	msg, ts, err := p.syslog(raw, zone)
	ok := err == nil && msg != nil
	var base *gosyslog.Base
	var sd map[string]map[string]string
	var version uint16
	switch m := msg.(type) {
	case *rfc5424.SyslogMessage:
		base = &m.Base
		version = m.Version
		if m.StructuredData != nil {
			sd = *m.StructuredData
		}
	case *rfc3164.SyslogMessage:
		base = &m.Base
	default:
		ok = false
		base = &gosyslog.Base{}
	}
	nsd := 0
	for _, params := range sd {
		nsd += max(len(params), 1)
	}
	ecs := p.ecs != ParserNone && p.ecs != ""
	extra := 0
	if ecs {
		extra = ecsFields
	}
	f := p.slab.Room(maxFixedFields + nsd + extra)
	var original string
	if !ok || p.keepOriginal {
		original = string(raw)
	}
	if !ok {
		reason := "not a syslog message"
		if err != nil {
			reason = err.Error()
		}
		f = append(f, event.Field{Name: "error.message", Value: event.StringValue("syslog: " + reason)})
	}
	if original != "" {
		f = append(f, event.Field{Name: "event.original", Value: event.StringValue(original)})
	}
	if s := base.Hostname; s != nil && *s != "" {
		f = append(f, event.Field{Name: "host.hostname", Value: event.StringValue(*s)})
	}
	var pri uint8 = 255
	if base.Priority != nil && *base.Priority < 192 {
		pri = *base.Priority
		f = append(f,
			event.Field{Name: "log.syslog.facility.code", Value: smallInts[pri/8]},
			event.Field{Name: "log.syslog.facility.name", Value: event.StringValue(facilityNames[pri/8])},
		)
	}
	if s := base.MsgID; s != nil && *s != "" {
		f = append(f, event.Field{Name: "log.syslog.msgid", Value: event.StringValue(*s)})
	}
	if pri != 255 {
		f = append(f, event.Field{Name: "log.syslog.priority", Value: smallInts[pri]})
	}
	var pid event.Value
	if s := base.ProcID; s != nil && *s != "" {
		if n, err := strconv.ParseUint(*s, 10, 32); err == nil {
			lit := *s
			if lit[0] == '0' && lit != "0" {
				lit = strconv.FormatUint(n, 10) // "007" is not a JSON number
			}
			pid = event.Value{Kind: event.Number, Num: float64(n), Str: lit}
		} else {
			f = append(f, event.Field{Name: "log.syslog.procid", Value: event.StringValue(*s)})
		}
	}
	if pri != 255 {
		f = append(f,
			event.Field{Name: "log.syslog.severity.code", Value: smallInts[pri%8]},
			event.Field{Name: "log.syslog.severity.name", Value: event.StringValue(severityNames[pri%8])},
		)
	}
	if version != 0 {
		f = append(f, event.Field{Name: "log.syslog.version", Value: smallInt(int(version))})
	}
	switch {
	case base.Message != nil:
		f = append(f, event.Field{Name: "message", Value: event.StringValue(*base.Message)})
	case !ok:
		f = append(f, event.Field{Name: "message", Value: event.StringValue(original)})
	}
	if s := base.Appname; s != nil && *s != "" {
		f = append(f, event.Field{Name: "process.name", Value: event.StringValue(*s)})
	}
	if pid.Kind != event.Null {
		f = append(f, event.Field{Name: "process.pid", Value: pid})
	}
	if md.addr.IsValid() {
		if md.addr != p.lastAddr {
			p.lastAddr = md.addr
			p.srcIP = event.StringValue(md.addr.Addr().Unmap().String())
			p.srcPort = smallPort(md.addr.Port())
		}
		f = append(f,
			event.Field{Name: "source.ip", Value: p.srcIP},
			event.Field{Name: "source.port", Value: p.srcPort},
		)
	}
	if nsd > 0 {
		first := len(f)
		for id, params := range sd {
			for k, v := range params {
				f = append(f, event.Field{Name: "syslog.structured_data." + id + "." + k, Value: event.StringValue(v)})
			}
			if len(params) == 0 {
				f = append(f, event.Field{Name: "syslog.structured_data." + id, Value: event.BoolValue(true)})
			}
		}
		tail := f[first:]
		slices.SortFunc(tail, func(a, b event.Field) int { return strings.Compare(a.Name, b.Name) })
		f = append(f[:first], slices.CompactFunc(tail, func(a, b event.Field) bool { return a.Name == b.Name })...)
	}
	if base.Timestamp != nil {
		ev.Time = *base.Timestamp
	} else if !ts.IsZero() {
		ev.Time = ts
	}
	if ev.Time.IsZero() {
		ev.Time = md.received
	}
	if ecs {
		// The ECS parser adds its fields in the room left at the slab's
		// end; should it need more, they move out of the slab, and Claim
		// then leaves the slab as it is.
		ev.Fields = f
		err := parse.Parse(p.ecs, ev)
		f = ev.Fields
		ev.Fields = p.slab.Claim(f)
		if err != nil && !errors.Is(err, parse.ErrNoMatch) {
			ev.Set("error.message", event.StringValue("parse: "+err.Error()))
		}
		return ok
	}
	ev.Fields = p.slab.Claim(f)
	return ok
}

// syslog parses raw with go-syslog. An RFC 5424 message with a timestamp
// is parsed without it (see rfc5424Timestamp), which is returned as ts;
// when go-syslog then finds any fault, raw is parsed again as it is, so
// that errors name the right column.
func (p *parser) syslog(raw []byte, zone *time.Location) (msg gosyslog.Message, ts time.Time, err error) {
	if start, end, t, ok := rfc5424Timestamp(raw); ok && !p.slowTimestamps {
		// The header is plainly RFC 5424: the strict machine the
		// format-detecting one would pick for it parses it directly.
		if p.strict5424 == nil {
			p.strict5424 = rfc5424.NewMachine()
		}
		p.scratch = append(append(append(p.scratch[:0], raw[:start]...), '-'), raw[end:]...)
		msg, err = p.strict5424.Parse(p.scratch)
		if _, is5424 := msg.(*rfc5424.SyslogMessage); is5424 && err == nil {
			return msg, t, nil
		}
	}
	msg, err = p.machine(zone).Parse(raw)
	return msg, time.Time{}, err
}

func smallInt(i int) event.Value {
	if i >= 0 && i < len(smallInts) {
		return smallInts[i]
	}
	return event.NumberValue(float64(i))
}

func smallPort(p uint16) event.Value {
	return event.Value{Kind: event.Number, Num: float64(p), Str: strconv.Itoa(int(p))}
}

func trimTrailingNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}
