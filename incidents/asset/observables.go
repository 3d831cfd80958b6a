package asset

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"

	"github.com/mangrove-soc/mangrove/detections/alert"
)

// Bounds of Observables' work per alert.
const (
	// MaxEventBytes: a larger Event is not decoded (the group-by values
	// still count).
	MaxEventBytes = 64 << 10
	// MaxObservables caps the addresses and the host names returned.
	MaxObservables = 64
)

// ipFields are the ECS fields holding addresses.
var ipFields = []string{"source.ip", "destination.ip", "client.ip", "server.ip", "host.ip", "observer.ip", "related.ip"}

// hostFields are the fields holding host or domain names: ECS, then the
// Windows shapes (Winlogbeat, and the raw event XML rendered as JSON).
var hostFields = []string{
	"host.name", "host.hostname", "destination.domain", "source.domain", "client.domain", "server.domain",
	"url.domain", "dns.question.name", "related.hosts",
	"winlog.computer_name", "Event.System.Computer",
}

// Observables returns the IP addresses and host names of an alert that
// identify the systems it touches: from its group-by values (fields named
// as in ipFields and hostFields, or any *.ip field) and from its Event (an
// ECS JSON object; nested objects and dotted keys both work; a field may
// hold one value or an array). Values are deduplicated; host names are
// lowercased without a trailing dot; a host field holding an IP literal
// yields an address. Work is bounded: an Event over MaxEventBytes is not
// decoded and at most MaxObservables of each kind are returned. Invalid
// values are skipped.
func Observables(a *alert.Alert) (ips []netip.Addr, hosts []string) {
	c := collector{}
	for _, kv := range a.GroupBy {
		switch {
		case slices.Contains(ipFields, kv.Field) || strings.HasSuffix(kv.Field, ".ip"):
			c.addIP(kv.Value)
		case slices.Contains(hostFields, kv.Field):
			c.addHost(kv.Value)
		}
	}
	if n := len(a.Event); n > 0 && n <= MaxEventBytes {
		var ev map[string]any
		if json.Unmarshal(a.Event, &ev) == nil {
			for _, f := range ipFields {
				each(lookup(ev, f, 0), c.addIP)
			}
			for _, f := range hostFields {
				each(lookup(ev, f, 0), c.addHost)
			}
		}
	}
	return c.ips, c.hosts
}

type collector struct {
	ips   []netip.Addr
	hosts []string
}

func (c *collector) addIP(s string) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || len(c.ips) >= MaxObservables {
		return
	}
	a = a.Unmap().WithZone("")
	if !slices.Contains(c.ips, a) {
		c.ips = append(c.ips, a)
	}
}

func (c *collector) addHost(s string) {
	h := normHost(s)
	if h == "" || len(h) > maxHostLen {
		return
	}
	if _, err := netip.ParseAddr(h); err == nil {
		c.addIP(h)
		return
	}
	if len(c.hosts) < MaxObservables && !slices.Contains(c.hosts, h) {
		c.hosts = append(c.hosts, h)
	}
}

// maxDepth bounds lookup's recursion (a path has few dots, but keys may
// contain dots too).
const maxDepth = 8

// lookup finds a dotted path in a decoded JSON object, trying the whole
// path as a key first, then each split into a nested object: "host.ip"
// matches {"host.ip": x} and {"host": {"ip": x}}.
func lookup(m map[string]any, path string, depth int) any {
	if v, ok := m[path]; ok {
		return v
	}
	if depth >= maxDepth {
		return nil
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v := lookup(sub, path[i+1:], depth+1); v != nil {
				return v
			}
		}
	}
	return nil
}

// each calls fn with v if it is a string, or with each string of an array.
func each(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				fn(s)
			}
		}
	}
}
