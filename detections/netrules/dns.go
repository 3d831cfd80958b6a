package netrules

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

// dnsTunnel is the dns_tunnelling detection.
type dnsTunnel struct {
	meta                detections.Meta
	window              time.Duration
	unique, highEntropy int
	minLength           int
	minEntropy          float64
	mu                  sync.Mutex
	groups              keyed[dnsGroup]
}

// dnsGroup is one source and registered domain within a window.
type dnsGroup struct {
	start   time.Time
	subs    map[string]struct{} // bounded by the unique threshold
	entropy int
	fired   bool
}

func newDNSTunnel(meta detections.Meta, f File) *dnsTunnel {
	d := &dnsTunnel{meta: meta, window: f.Window, unique: f.UniqueSubdomains, highEntropy: f.HighEntropyQueries,
		minLength: f.MinLength, minEntropy: f.MinEntropy}
	if d.window == 0 {
		d.window = 10 * time.Minute
	}
	if d.unique == 0 {
		d.unique = 50
	}
	if d.highEntropy == 0 {
		d.highEntropy = 10
	}
	if d.minLength == 0 {
		d.minLength = 24
	}
	if d.minEntropy == 0 {
		d.minEntropy = 3.5
	}
	return d
}

func (d *dnsTunnel) Meta() detections.Meta { return d.meta }

// Eval counts DNS queries per source and registered domain.
func (d *dnsTunnel) Eval(_ context.Context, ev *event.Event, emit func(detections.Finding)) error {
	if ev.Dataset != "dns" || ev.GetString("dns.type") != "query" {
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(ev.GetString("dns.question.name")), ".")
	domain, sub := SplitDomain(name)
	if sub == "" {
		return nil
	}
	src := ev.GetString("source.ip")
	high := len(sub) >= d.minLength && Entropy(sub) >= d.minEntropy
	d.mu.Lock()
	g := d.groups.get(src + "|" + domain)
	if g.subs == nil || ev.Time.Sub(g.start) > d.window || ev.Time.Before(g.start) && g.start.Sub(ev.Time) > d.window {
		*g = dnsGroup{start: ev.Time, subs: map[string]struct{}{}}
	}
	if len(g.subs) < d.unique {
		g.subs[sub] = struct{}{}
	}
	if high {
		g.entropy++
	}
	fire := !g.fired && (len(g.subs) >= d.unique || g.entropy >= d.highEntropy)
	if fire {
		g.fired = true
	}
	d.mu.Unlock()
	if fire {
		emit(detections.Finding{Events: []*event.Event{ev}, GroupBy: []alert.KV{{Field: "source.ip", Value: src}, {Field: "dns.question.registered_domain", Value: domain}}})
	}
	return nil
}

// secondLevel lists second-level labels under which registrations are made
// in country-code domains (example.com.vn, example.co.uk).
var secondLevel = map[string]bool{
	"com": true, "net": true, "org": true, "gov": true, "edu": true, "ac": true, "co": true,
	"info": true, "biz": true, "int": true, "name": true, "pro": true, "health": true,
}

// SplitDomain splits a query name into its registered domain (the last two
// labels, three under a country code's second-level label such as
// "com.vn") and the subdomain before it, "" when there is none. It
// approximates the Public Suffix List without shipping it.
func SplitDomain(name string) (domain, sub string) {
	labels := strings.Split(name, ".")
	n := 2
	if len(labels) >= 3 && len(labels[len(labels)-1]) == 2 && secondLevel[labels[len(labels)-2]] {
		n = 3
	}
	if len(labels) <= n {
		return name, ""
	}
	k := len(labels) - n
	return strings.Join(labels[k:], "."), strings.Join(labels[:k], ".")
}

// Entropy is the Shannon entropy of s in bits per byte, dots excluded.
func Entropy(s string) float64 {
	var counts [256]int
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '.' {
			counts[s[i]]++
			n++
		}
	}
	if n == 0 {
		return 0
	}
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h
}
