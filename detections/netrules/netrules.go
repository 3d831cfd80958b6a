// Package netrules is the "netrule" rule kind: network detections that need
// state Sigma cannot express, written in Go and configured by small YAML
// files (extension .netrule) that name the detection and set its
// thresholds. Two detections exist:
//
//   - dns_tunnelling: per source and registered domain, many unique
//     subdomains or many long high-entropy subdomains queried within a
//     window (DNS events, dns.type "query");
//   - beaconing: per source, destination and port, connections started at
//     regular intervals (flow events; low coefficient of variation of the
//     intervals between connection starts).
//
// Windows follow event time. State is bounded (MaxKeys per rule, the
// oldest key evicted) and kept in memory only: it starts empty after a
// restart.
package netrules

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

const kindName = "netrule"

// Kind reads .netrule files.
var Kind = detections.Kind{Name: kindName, Exts: []string{".netrule"}, Load: Load}

// MaxKeys bounds the groups a rule tracks; the least recently created is
// evicted when full.
const MaxKeys = 100_000

// File is the content of a .netrule file.
type File struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Level       string   `yaml:"level"`
	Tags        []string `yaml:"tags"`
	// Detection is "dns_tunnelling" or "beaconing".
	Detection string `yaml:"detection"`
	// Window is the span of event time a group is judged over (default
	// 10m for dns_tunnelling, 24h for beaconing).
	Window time.Duration `yaml:"window"`
	// dns_tunnelling: fire when a source queries at least UniqueSubdomains
	// distinct subdomains (default 50), or at least HighEntropyQueries
	// (default 10) subdomains of at least MinLength characters (default 24)
	// whose Shannon entropy is at least MinEntropy bits per character
	// (default 3.5), of one registered domain within Window.
	UniqueSubdomains   int     `yaml:"unique_subdomains"`
	HighEntropyQueries int     `yaml:"high_entropy_queries"`
	MinLength          int     `yaml:"min_length"`
	MinEntropy         float64 `yaml:"min_entropy"`
	// beaconing: fire when at least MinConnections (default 10)
	// connections of one source to one destination and port start at a
	// mean interval of at least MinInterval (default 10s) with a
	// coefficient of variation of at most MaxJitter (default 0.1).
	MinConnections int           `yaml:"min_connections"`
	MinInterval    time.Duration `yaml:"min_interval"`
	MaxJitter      float64       `yaml:"max_jitter"`
	// ExcludePorts are destination ports whose regular traffic is normal
	// (default 53, 67, 68, 123, 137, 138, 1900, 5353: DNS, DHCP, NTP,
	// NetBIOS, SSDP, mDNS); an empty list in the file keeps the default,
	// [0] excludes nothing.
	ExcludePorts []int `yaml:"exclude_ports"`
}

// Load compiles one .netrule file; it reports every problem at once.
func Load(path string, data []byte) ([]detections.Rule, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	if f.ID == "" {
		errs = append(errs, fmt.Errorf("%s: id: required", path))
	}
	if f.Title == "" {
		errs = append(errs, fmt.Errorf("%s: title: required", path))
	}
	for _, c := range []struct {
		name string
		v    float64
	}{
		{"window", float64(f.Window)}, {"unique_subdomains", float64(f.UniqueSubdomains)},
		{"high_entropy_queries", float64(f.HighEntropyQueries)}, {"min_length", float64(f.MinLength)},
		{"min_entropy", f.MinEntropy}, {"min_connections", float64(f.MinConnections)},
		{"min_interval", float64(f.MinInterval)}, {"max_jitter", f.MaxJitter},
	} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s: must not be negative", path, c.name))
		}
	}
	for i, p := range f.ExcludePorts {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s: exclude_ports[%d]: %d is not a port", path, i, p))
		}
	}
	meta := detections.Meta{
		ID: f.ID, Title: f.Title, Kind: kindName, Severity: severity(f.Level), Tags: f.Tags,
		Techniques: techniques(f.Tags), Path: path, Description: f.Description,
		Version: fmt.Sprintf("%s/%v/%d/%d/%d/%g/%d/%v/%g/%v", f.Detection, f.Window, f.UniqueSubdomains, f.HighEntropyQueries,
			f.MinLength, f.MinEntropy, f.MinConnections, f.MinInterval, f.MaxJitter, f.ExcludePorts),
	}
	var r detections.Rule
	switch f.Detection {
	case "dns_tunnelling":
		r = newDNSTunnel(meta, f)
	case "beaconing":
		r = newBeacon(meta, f)
	default:
		errs = append(errs, fmt.Errorf("%s: detection: unknown %q (dns_tunnelling, beaconing)", path, f.Detection))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return []detections.Rule{r}, nil
}

// severity reads a Sigma level; medium when absent or unknown.
func severity(level string) alert.Severity {
	if s, err := alert.ParseSeverity(level); err == nil {
		return s
	}
	return alert.Medium
}

// techniques picks the ATT&CK technique ids (attack.t1071.004 → T1071.004).
func techniques(tags []string) []string {
	var out []string
	for _, t := range tags {
		if len(t) > 8 && t[:8] == "attack.t" && t[8] >= '0' && t[8] <= '9' {
			out = append(out, "T"+t[8:])
		}
	}
	return out
}

// keyed is a bounded map of group states, evicting the oldest key.
type keyed[V any] struct {
	m     map[string]*V
	order []string // insertion order, for eviction
}

func (k *keyed[V]) get(key string) *V {
	if k.m == nil {
		k.m = map[string]*V{}
	}
	if v, ok := k.m[key]; ok {
		return v
	}
	for len(k.m) >= MaxKeys && len(k.order) > 0 {
		delete(k.m, k.order[0])
		k.order = k.order[1:]
	}
	v := new(V)
	k.m[key] = v
	k.order = append(k.order, key)
	return v
}
