package ioc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

const kindName = "ioc"

// Kind reads indicator set files as rules: NAME.csv (ParseCSV), NAME.misp (a
// MISP JSON export, ParseMISP) and NAME.stix (a STIX 2.1 bundle in JSON,
// ParseSTIX). The MISP and STIX extensions are their own so that JSON files
// of other kinds (event samples, configuration) in a rules tree are never
// mistaken for indicator sets.
var Kind = detections.Kind{Name: kindName, Exts: []string{".csv", ".misp", ".stix"}, Load: Load}

// Load parses the indicator set in data (the format chosen by path's
// extension) and returns its rules: one per severity band present in the
// file (see SeverityFor), with ID "ioc:NAME:SEVERITY" and title
// "Indicator match: NAME (SEVERITY)", where NAME is the file's base name
// without extension. Bad indicators are reported, each naming path, and
// skipped; the rules hold every good one.
func Load(path string, data []byte) ([]detections.Rule, error) {
	ext := strings.ToLower(filepath.Ext(path))
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	var (
		set *Set
		err error
	)
	switch ext {
	case ".csv":
		set, err = parseCSV(data, name, Limits{})
	case ".misp":
		set, err = parseMISP(data, name, Limits{})
	case ".stix":
		set, err = parseSTIX(data, name, Limits{})
	default:
		return nil, fmt.Errorf("%s: extension %q is not an indicator set (want .csv, .misp or .stix)", path, ext)
	}
	if err != nil {
		err = prefixErrs(path, err)
	}
	if set == nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	version := hex.EncodeToString(sum[:8])
	bands := map[alert.Severity]*Set{}
	var order []alert.Severity
	for _, in := range set.Indicators() {
		sev := SeverityFor(in.EffectiveConfidence())
		if bands[sev] == nil {
			bands[sev] = NewSet(0)
			order = append(order, sev)
		}
	}
	if len(order) == 1 {
		bands[order[0]] = set
	} else {
		for _, in := range set.Indicators() {
			// Values are already normalized; Add cannot fail.
			_ = bands[SeverityFor(in.EffectiveConfidence())].Add(in)
		}
	}
	var rules []detections.Rule
	for _, sev := range order {
		rules = append(rules, NewRule(detections.Meta{
			ID:          fmt.Sprintf("ioc:%s:%s", name, sev),
			Version:     version,
			Title:       fmt.Sprintf("Indicator match: %s (%s)", name, sev),
			Kind:        kindName,
			Severity:    sev,
			Path:        path,
			Description: fmt.Sprintf("An event field holds one of %d indicators of %s.", bands[sev].Len(), filepath.Base(path)),
		}, bands[sev]))
	}
	return rules, err
}

func prefixErrs(path string, err error) error {
	var out []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fmt.Errorf("%s: %w", path, e))
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// SeverityFor maps a confidence (0..100) to an alert severity: 90 and up
// critical, 70 high, 40 medium, 20 low, below that informational.
func SeverityFor(confidence int) alert.Severity {
	switch {
	case confidence >= 90:
		return alert.Critical
	case confidence >= 70:
		return alert.High
	case confidence >= 40:
		return alert.Medium
	case confidence >= 20:
		return alert.Low
	}
	return alert.Informational
}

// Rule matches the events whose fields hold an indicator of its set. It
// emits one Finding per matching event; GroupBy holds, for each indicator
// matched, ioc.type, ioc.value, ioc.field (the event field), ioc.source and
// ioc.confidence. Expired indicators do not match.
type Rule struct {
	meta detections.Meta
	set  *Set
	// Now is the clock for expiry; nil means time.Now.
	Now func() time.Time
}

// NewRule returns a rule over set. set must not change afterwards.
func NewRule(meta detections.Meta, set *Set) *Rule {
	if meta.Kind == "" {
		meta.Kind = kindName
	}
	return &Rule{meta: meta, set: set}
}

// Meta implements detections.Rule.
func (r *Rule) Meta() detections.Meta { return r.meta }

// Set returns the rule's indicators.
func (r *Rule) Set() *Set { return r.set }

// Field groups: the event fields read for each indicator type. Windows field
// names are also read under winlog.event_data. (Winlogbeat) and
// Event.EventData. (evtx dump).
var (
	ipFields = withWindows([]string{
		"source.ip", "destination.ip", "client.ip", "server.ip", "host.ip", "related.ip",
		"source.nat.ip", "destination.nat.ip", "dns.resolved_ip",
	}, "SourceIp", "DestinationIp", "IpAddress", "SourceAddress", "DestAddress")
	domainFields = withWindows([]string{
		"dns.question.name", "url.domain", "destination.domain", "server.domain", "client.domain",
		"tls.client.server_name", "http.request.host", "related.hosts",
	}, "QueryName", "DestinationHostname")
	urlFields  = []string{"url.full", "url.original"}
	hashFields = withWindows([]string{
		"file.hash.md5", "file.hash.sha1", "file.hash.sha256",
		"process.hash.md5", "process.hash.sha1", "process.hash.sha256",
		"process.parent.hash.md5", "process.parent.hash.sha1", "process.parent.hash.sha256",
		"dll.hash.md5", "dll.hash.sha1", "dll.hash.sha256", "related.hash",
	})
	// Windows "Hashes"/"Hash": "SHA1=...,MD5=...,SHA256=...,IMPHASH=...".
	hashListFields = withWindows(nil, "Hashes", "Hash")
	emailFields    = []string{
		"email.from.address", "email.to.address", "email.cc.address", "email.bcc.address",
		"email.sender.address", "email.reply_to.address", "user.email", "source.user.email", "destination.user.email",
	}
)

func withWindows(ecs []string, win ...string) []string {
	out := append([]string(nil), ecs...)
	for _, w := range win {
		out = append(out, w, "winlog.event_data."+w, "Event.EventData."+w)
	}
	return out
}

// group is the indicator type an event field holds.
type group uint8

const (
	gIP group = iota + 1
	gDomain
	gURL
	gHash
	gHashList
	gEmail
)

// fieldGroups maps every field name read to its group, so that Eval makes
// one pass over the event's fields with one map probe each.
var fieldGroups = func() map[string]group {
	m := map[string]group{}
	for g, names := range map[group][]string{
		gIP: ipFields, gDomain: domainFields, gURL: urlFields, gHash: hashFields, gHashList: hashListFields, gEmail: emailFields,
	} {
		for _, n := range names {
			m[n] = g
		}
	}
	return m
}()

// Eval implements detections.Rule.
func (r *Rule) Eval(_ context.Context, ev *event.Event, emit func(detections.Finding)) error {
	m := matcher{s: r.set, clock: r.Now}
	for i := range ev.Fields {
		f := &ev.Fields[i]
		g, ok := fieldGroups[f.Name]
		if !ok {
			continue
		}
		if f.Value.Kind == event.List {
			for _, x := range f.Value.List {
				m.value(g, f.Name, x)
			}
			continue
		}
		m.value(g, f.Name, f.Value)
	}
	if len(r.set.urls) > 0 {
		m.originForm(ev)
	}
	if len(m.kv) > 0 {
		emit(detections.Finding{Events: []*event.Event{ev}, GroupBy: m.kv})
	}
	return nil
}

// looksLikeAddr reports whether h may be an IP address (a host name does
// not end in a digit after its last dot, an IPv6 address has a colon), to
// skip a parse that would allocate its error.
func looksLikeAddr(h string) bool {
	return h != "" && (strings.IndexByte(h, ':') >= 0 || ('0' <= h[len(h)-1] && h[len(h)-1] <= '9'))
}

type matcher struct {
	s     *Set
	clock func() time.Time
	now   time.Time // read from clock at the first hit
	seen  []*Indicator
	kv    []alert.KV
}

// value looks up one string value of field f, of group g.
func (m *matcher) value(g group, f string, x event.Value) {
	if x.Kind != event.String || x.Str == "" {
		return
	}
	v, s := x.Str, m.s
	switch g {
	case gIP:
		if len(s.addrs)+len(s.prefixes) > 0 {
			if a, err := netip.ParseAddr(v); err == nil {
				m.hit(f, s.LookupAddr(a))
			}
		}
	case gDomain:
		// An HTTP Host or a server name may be an address literal.
		if looksLikeAddr(v) {
			if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")); err == nil {
				if len(s.addrs)+len(s.prefixes) > 0 {
					m.hit(f, s.LookupAddr(a))
				}
				return
			}
		}
		m.hit(f, s.LookupDomain(v))
	case gURL:
		m.hit(f, s.LookupURL(v))
		h := urlHost(v)
		if looksLikeAddr(h) {
			if a, err := netip.ParseAddr(h); err == nil {
				if len(s.addrs)+len(s.prefixes) > 0 {
					m.hit(f, s.LookupAddr(a))
				}
				return
			}
		}
		m.hit(f, s.LookupDomain(h))
	case gHash:
		m.hit(f, s.LookupHash(v))
	case gHashList:
		if len(s.hashes) == 0 {
			return
		}
		for part := range strings.SplitSeq(v, ",") {
			algo, h, ok := strings.Cut(part, "=")
			if !ok {
				h = algo
			} else if strings.EqualFold(strings.TrimSpace(algo), "IMPHASH") {
				continue
			}
			m.hit(f, s.LookupHash(strings.TrimSpace(h)))
		}
	case gEmail:
		m.hit(f, s.LookupEmail(v))
	}
}

// originForm matches URL indicators against an HTTP request seen on the
// wire (collectors/pcap network.http events), whose url.original is the
// request target in origin form ("/path?query") and whose host is in
// url.domain and url.port: the URL is rebuilt from them, the port kept
// unless it is 80 or 443 (as Normalize drops those). Matches are reported
// under url.original.
func (m *matcher) originForm(ev *event.Event) {
	target := ev.GetString("url.original")
	if !strings.HasPrefix(target, "/") {
		return
	}
	host := ev.GetString("url.domain")
	if host == "" {
		return
	}
	if strings.IndexByte(host, ':') >= 0 && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	if p, ok := ev.Get("url.port"); ok {
		if port := p.Text(); port != "" && port != "80" && port != "443" {
			host += ":" + port
		}
	}
	m.hit("url.original", m.s.LookupURL(host+target))
}

func (m *matcher) hit(field string, in *Indicator) {
	if in == nil {
		return
	}
	if m.now.IsZero() {
		if m.clock != nil {
			m.now = m.clock()
		} else {
			m.now = time.Now()
		}
	}
	if !in.Live(m.now) {
		return
	}
	for _, s := range m.seen {
		if s == in {
			return
		}
	}
	m.seen = append(m.seen, in)
	m.kv = append(m.kv,
		alert.KV{Field: "ioc.type", Value: in.Type.String()},
		alert.KV{Field: "ioc.value", Value: in.Value},
		alert.KV{Field: "ioc.field", Value: field},
		alert.KV{Field: "ioc.source", Value: in.Source},
		alert.KV{Field: "ioc.confidence", Value: strconv.Itoa(in.EffectiveConfidence())},
	)
}
