package pcap

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/google/gopacket/layers"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

func str(s string) event.Value { return event.StringValue(s) }
func num(n uint64) event.Value { return event.NumberValue(float64(n)) }

// transportName is the ECS network.transport of an IP protocol.
func transportName(proto uint8) string {
	switch proto {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMP:
		return "icmp"
	case protoICMPv6:
		return "ipv6-icmp"
	case protoSCTP:
		return "sctp"
	}
	return strconv.Itoa(int(proto))
}

// flowID is the stable identity of a flow occurrence: tenant-independent
// tuple plus start time, hashed by event.NewID with the tenant.
func (p *Processor) flowID(kind string, f *flow, extra uint64) string {
	b := append(p.idBuf[:0], kind...)
	b = f.orig.AppendTo(b)
	b = binary.BigEndian.AppendUint16(b, f.origPort)
	b = f.resp.AppendTo(b)
	b = binary.BigEndian.AppendUint16(b, f.respPort)
	b = append(b, f.key.proto)
	b = binary.BigEndian.AppendUint64(b, uint64(f.start.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, extra)
	p.idBuf = b
	return event.NewID(p.opts.Tenant, b)
}

func (p *Processor) base(dataset string, f *flow) *event.Event {
	ev := &event.Event{Tenant: p.opts.Tenant, Source: p.opts.Source, Dataset: dataset}
	ev.Fields = make([]event.Field, 0, 32)
	ev.Set("source.ip", str(f.orig.String()))
	ev.Set("destination.ip", str(f.resp.String()))
	if hasPorts(f.key.proto) {
		ev.Set("source.port", num(uint64(f.origPort)))
		ev.Set("destination.port", num(uint64(f.respPort)))
	}
	ev.Set("network.iana_number", str(strconv.Itoa(int(f.key.proto))))
	ev.Set("network.transport", str(transportName(f.key.proto)))
	if f.orig.Is4() {
		ev.Set("network.type", str("ipv4"))
	} else {
		ev.Set("network.type", str("ipv6"))
	}
	ev.Set("network.community_id", str(p.opts.CommunityID.Hash(f.orig, f.resp, f.key.proto, f.origPort, f.respPort, f.oneWay)))
	ev.Set("event.kind", str("event"))
	ev.Set("event.category", event.Value{Kind: event.List, List: []event.Value{str("network")}})
	return ev
}

// flowDone turns a finished flow into a "flow" event.
func (p *Processor) flowDone(f *flow, reason string) {
	if f.app != nil {
		p.appDone(f)
	}
	p.stats.Flows++
	ev := p.base("flow", f)
	ev.ID = p.flowID("flow", f, 0)
	ev.Time = f.start
	ev.Set("event.type", event.Value{Kind: event.List, List: []event.Value{str("connection"), str("end")}})
	ev.Set("event.start", str(f.start.UTC().Format(timeFormat)))
	ev.Set("event.end", str(f.last.UTC().Format(timeFormat)))
	ev.Set("event.duration", num(uint64(f.last.Sub(f.start).Nanoseconds())))
	ev.Set("event.reason", str(reason))
	ev.Set("source.packets", num(f.origPkts))
	ev.Set("source.bytes", num(f.origBytes))
	ev.Set("destination.packets", num(f.respPkts))
	ev.Set("destination.bytes", num(f.respBytes))
	ev.Set("network.packets", num(f.origPkts+f.respPkts))
	ev.Set("network.bytes", num(f.origBytes+f.respBytes))
	ev.Set("zeek.connection.state", str(f.connState()))
	if f.key.proto == protoTCP {
		ev.Set("zeek.connection.history", str(string(f.history[:f.nhist])))
	}
	if f.svc != svcNone {
		ev.Set("network.protocol", str(f.svc.String()))
	}
	p.send(ev)
}

const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// dnsMessage decodes one DNS message of flow f and emits a "dns" event:
// ECS dns.type "query" or "answer", the first question, the response code
// and up to MaxDNSAnswers answers. Malformed messages are counted; it
// reports whether the message decoded.
func (p *Processor) dnsMessage(pk *packet, f *flow, b []byte) bool {
	if err := p.decodeDNS(b); err != nil {
		p.stats.DNSMalformed++
		return false
	}
	p.stats.DNSMessages++
	d := &p.dns
	ev := p.base("dns", f)
	// The packet's own direction, not the flow's.
	ev.Set("source.ip", str(pk.src.String()))
	ev.Set("destination.ip", str(pk.dst.String()))
	ev.Set("source.port", num(uint64(pk.sport)))
	ev.Set("destination.port", num(uint64(pk.dport)))
	ev.Set("network.protocol", str("dns"))
	ev.Time = pk.ts
	ev.ID = p.flowID("dns", f, uint64(pk.ts.UnixNano())<<16|uint64(d.ID))
	ev.Set("event.type", event.Value{Kind: event.List, List: []event.Value{str("protocol")}})
	ev.Set("dns.id", num(uint64(d.ID)))
	ev.Set("dns.op_code", str(d.OpCode.String()))
	if d.QR {
		ev.Set("dns.type", str("answer"))
		ev.Set("dns.response_code", str(rcodeName(d.ResponseCode)))
	} else {
		ev.Set("dns.type", str("query"))
	}
	var flags []event.Value
	for _, fl := range [...]struct {
		on   bool
		name string
	}{{d.AA, "AA"}, {d.TC, "TC"}, {d.RD, "RD"}, {d.RA, "RA"}} {
		if fl.on {
			flags = append(flags, str(fl.name))
		}
	}
	if len(flags) > 0 {
		ev.Set("dns.header_flags", event.Value{Kind: event.List, List: flags})
	}
	if len(d.Questions) > 0 {
		q := d.Questions[0]
		ev.Set("dns.question.name", str(string(q.Name)))
		ev.Set("dns.question.type", str(typeName(q.Type)))
		ev.Set("dns.question.class", str(className(q.Class)))
	}
	n := min(len(d.Answers), p.opts.MaxDNSAnswers)
	if n > 0 {
		names := make([]event.Value, 0, n)
		types := make([]event.Value, 0, n)
		classes := make([]event.Value, 0, n)
		ttls := make([]event.Value, 0, n)
		data := make([]event.Value, 0, n)
		var ips []event.Value
		for _, a := range d.Answers[:n] {
			names = append(names, str(string(a.Name)))
			types = append(types, str(typeName(a.Type)))
			classes = append(classes, str(className(a.Class)))
			ttls = append(ttls, num(uint64(a.TTL)))
			data = append(data, str(answerData(&a)))
			if (a.Type == layers.DNSTypeA || a.Type == layers.DNSTypeAAAA) && a.IP != nil {
				ips = append(ips, str(a.IP.String()))
			}
		}
		ev.Set("dns.answers.name", event.Value{Kind: event.List, List: names})
		ev.Set("dns.answers.type", event.Value{Kind: event.List, List: types})
		ev.Set("dns.answers.class", event.Value{Kind: event.List, List: classes})
		ev.Set("dns.answers.ttl", event.Value{Kind: event.List, List: ttls})
		ev.Set("dns.answers.data", event.Value{Kind: event.List, List: data})
		if len(ips) > 0 {
			ev.Set("dns.resolved_ip", event.Value{Kind: event.List, List: ips})
		}
	}
	p.send(ev)
	return true
}

// rcodeName is the RFC 1035/6895 mnemonic (NOERROR, NXDOMAIN, ...).
func rcodeName(c layers.DNSResponseCode) string {
	names := [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}
	if int(c) < len(names) {
		return names[c]
	}
	return "RCODE" + strconv.Itoa(int(c))
}

// answerData is the text form of an answer's record data.
func answerData(a *layers.DNSResourceRecord) string {
	switch a.Type {
	case layers.DNSTypeA, layers.DNSTypeAAAA:
		if a.IP != nil {
			return a.IP.String()
		}
	case layers.DNSTypeCNAME:
		return string(a.CNAME)
	case layers.DNSTypeNS:
		return string(a.NS)
	case layers.DNSTypePTR:
		return string(a.PTR)
	case layers.DNSTypeMX:
		return strconv.Itoa(int(a.MX.Preference)) + " " + string(a.MX.Name)
	case layers.DNSTypeTXT:
		parts := make([]string, len(a.TXTs))
		for i, t := range a.TXTs {
			parts[i] = string(t)
		}
		return strings.Join(parts, "")
	case layers.DNSTypeSOA:
		return string(a.SOA.MName) + " " + string(a.SOA.RName)
	case layers.DNSTypeSRV:
		return strconv.Itoa(int(a.SRV.Priority)) + " " + strconv.Itoa(int(a.SRV.Weight)) + " " + strconv.Itoa(int(a.SRV.Port)) + " " + string(a.SRV.Name)
	}
	return ""
}

// typeName is the record type's mnemonic, or RFC 3597's TYPEnn.
func typeName(t layers.DNSType) string {
	if s := t.String(); s != "Unknown" {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// className is the class mnemonic, or RFC 3597's CLASSnn.
func className(c layers.DNSClass) string {
	if s := c.String(); s != "Unknown" {
		return s
	}
	return "CLASS" + strconv.Itoa(int(c))
}
