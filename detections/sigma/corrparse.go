package sigma

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// corrType is the type of a correlation rule.
type corrType uint8

const (
	ctEventCount corrType = iota
	ctValueCount
	ctTemporal
	ctTemporalOrdered
	ctValueSum
	ctValueAvg
	ctValuePercentile
)

var corrTypes = map[string]corrType{
	"event_count": ctEventCount, "value_count": ctValueCount, "temporal": ctTemporal,
	"temporal_ordered": ctTemporalOrdered, "value_sum": ctValueSum, "value_avg": ctValueAvg,
	"value_percentile": ctValuePercentile,
}

// MaxTimespan bounds a correlation's timespan.
const MaxTimespan = 30 * 24 * time.Hour

// condOp is one criterion of a correlation condition.
type condOp struct {
	op string // gt, gte, lt, lte, eq, neq
	v  float64
}

// corrCond is the AND of its criteria; empty holds always.
type corrCond []condOp

func (c corrCond) holds(x float64) bool {
	for _, o := range c {
		var ok bool
		switch o.op {
		case "gt":
			ok = x > o.v
		case "gte":
			ok = x >= o.v
		case "lt":
			ok = x < o.v
		case "lte":
			ok = x <= o.v
		case "eq":
			ok = x == o.v
		default: // neq
			ok = x != o.v
		}
		if !ok {
			return false
		}
	}
	return true
}

// growing reports whether the condition only bounds the value from below,
// so that once it holds for a window it may fire at once.
func (c corrCond) growing() bool {
	for _, o := range c {
		if o.op != "gt" && o.op != "gte" {
			return false
		}
	}
	return true
}

// corrSpec is a parsed correlation document.
type corrSpec struct {
	info     Info
	path     string
	version  string
	typ      corrType
	rules    []string // referenced rule ids or names
	groupBy  []string
	span     time.Duration
	cond     corrCond
	field    string                       // value_* types
	aliases  map[string]map[string]string // alias -> rule name -> field
	generate bool
}

// parseCorrelation reads a correlation document; problems go to p.
func parseCorrelation(m mapping, p *problems) *corrSpec {
	if m.get("logsource") == nil {
		// Correlations have no log source of their own.
		m.keys = append(m.keys[:len(m.keys):len(m.keys)], &yaml.Node{Kind: yaml.ScalarNode, Value: "logsource"})
		m.vals = append(m.vals[:len(m.vals):len(m.vals)], &yaml.Node{Kind: yaml.MappingNode})
	}
	s := &corrSpec{info: parseInfo(m, p)}
	s.version = version(nil, m.get("correlation"))
	cm, ok := asMapping(m.get("correlation"), "correlation", p)
	if !ok {
		return nil
	}
	const path = "correlation"
	for i, k := range cm.keys {
		v := deref(cm.vals[i])
		kp := joinPath(path, k.Value)
		switch k.Value {
		case "type":
			t, ok := corrTypes[scalar(v)]
			if !ok {
				p.add(kp, v, "unknown correlation type %q", scalar(v))
			}
			s.typ = t
		case "rules":
			s.rules = nameList(v, kp, p)
		case "group-by":
			s.groupBy = nameList(v, kp, p)
		case "timespan":
			d, err := parseTimespan(scalar(v))
			if err != nil {
				p.add(kp, v, "%v", err)
			}
			s.span = d
		case "condition":
			s.cond, s.field = parseCorrCond(v, kp, p)
		case "aliases":
			s.aliases = parseAliases(v, kp, p)
		case "generate":
			s.generate = scalar(v) == "true"
		default:
			p.add(kp, k, "unknown correlation key")
		}
	}
	if cm.get("type") == nil {
		p.add(joinPath(path, "type"), nil, "is required")
	}
	if len(s.rules) == 0 {
		p.add(joinPath(path, "rules"), nil, "must name at least one rule")
	}
	if cm.get("timespan") == nil {
		p.add(joinPath(path, "timespan"), nil, "is required")
	}
	if g := m.get("generate"); g != nil {
		s.generate = scalar(g) == "true"
	}
	switch s.typ {
	case ctTemporal, ctTemporalOrdered:
		if s.typ == ctTemporalOrdered && len(s.cond) > 0 {
			p.add(joinPath(path, "condition"), nil, "temporal_ordered takes no condition: every rule must match in order")
		}
	default:
		if len(s.cond) == 0 {
			p.add(joinPath(path, "condition"), nil, "is required for this correlation type")
		}
	}
	switch s.typ {
	case ctValueCount, ctValueSum, ctValueAvg, ctValuePercentile:
		if s.field == "" {
			p.add(joinPath(path, "condition.field"), nil, "is required for this correlation type")
		}
	}
	if s.typ == ctEventCount || s.typ == ctValueCount {
		for _, o := range s.cond {
			if (o.op == "gt" || o.op == "gte") && o.v >= MaxGroupEntries {
				p.add(joinPath(path, "condition."+o.op), nil, "%g cannot be reached: a group keeps at most %d events", o.v, MaxGroupEntries)
			}
		}
	}
	for alias, byRule := range s.aliases {
		if len(byRule) == 0 {
			p.add(joinPath(path, "aliases."+alias), nil, "must map at least one rule name")
		}
	}
	return s
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// nameList reads a scalar or a list of scalars.
func nameList(n *yaml.Node, path string, p *problems) []string {
	if n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
		return []string{n.Value}
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		p.add(path, n, "must be a list of strings, not %s", describe(n))
		return nil
	}
	var out []string
	for i, c := range n.Content {
		c = deref(c)
		if c == nil || c.Kind != yaml.ScalarNode || c.Value == "" {
			p.add(fmt.Sprintf("%s[%d]", path, i), c, "must be a non-empty string, not %s", describe(c))
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

// parseTimespan reads "<number><s|m|h|d>".
func parseTimespan(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("timespan %q must be a number and one of s, m, h, d", s)
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("timespan %q must be a positive number and one of s, m, h, d", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("timespan %q must end in s, m, h or d", s)
	}
	if float64(n)*float64(unit) > float64(MaxTimespan) {
		return 0, fmt.Errorf("timespan %q exceeds %s", s, MaxTimespan)
	}
	return time.Duration(n) * unit, nil
}

func parseCorrCond(n *yaml.Node, path string, p *problems) (corrCond, string) {
	m, ok := asMapping(n, path, p)
	if !ok {
		return nil, ""
	}
	var c corrCond
	field := ""
	for i, k := range m.keys {
		v := deref(m.vals[i])
		kp := joinPath(path, k.Value)
		switch k.Value {
		case "field":
			if v == nil || v.Kind != yaml.ScalarNode || v.Value == "" {
				p.add(kp, v, "must be a field name")
				continue
			}
			field = v.Value
		case "gt", "gte", "lt", "lte", "eq", "neq":
			f, err := strconv.ParseFloat(scalar(v), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				p.add(kp, v, "must be a number")
				continue
			}
			c = append(c, condOp{op: k.Value, v: f})
		default:
			p.add(kp, k, "unknown condition operator (gt, gte, lt, lte, eq, neq or field)")
		}
	}
	if len(c) == 0 {
		p.add(path, n, "needs at least one of gt, gte, lt, lte, eq, neq")
	}
	return c, field
}

func parseAliases(n *yaml.Node, path string, p *problems) map[string]map[string]string {
	m, ok := asMapping(n, path, p)
	if !ok {
		return nil
	}
	out := map[string]map[string]string{}
	for i, k := range m.keys {
		kp := joinPath(path, k.Value)
		rm, ok := asMapping(m.vals[i], kp, p)
		if !ok {
			continue
		}
		byRule := map[string]string{}
		for j, rk := range rm.keys {
			v := deref(rm.vals[j])
			if v == nil || v.Kind != yaml.ScalarNode || v.Value == "" {
				p.add(joinPath(kp, rk.Value), v, "must be a field name")
				continue
			}
			byRule[rk.Value] = v.Value
		}
		out[k.Value] = byRule
	}
	return out
}

// filterSpec is a parsed filter (meta-filter) document.
type filterSpec struct {
	info  Info
	path  string
	rules []string
	match *node
	ver   string
}

// parseFilter compiles a filter document: its rules list, and its
// selections and condition compiled like a detection under its log source.
func (c *Compiler) parseFilter(path string, m mapping, p *problems) *filterSpec {
	f := &filterSpec{info: parseInfo(m, p), path: path}
	fm, ok := asMapping(m.get("filter"), "filter", p)
	if !ok {
		return nil
	}
	det := &yaml.Node{Kind: yaml.MappingNode}
	for i, k := range fm.keys {
		if k.Value == "rules" {
			f.rules = nameList(deref(fm.vals[i]), "filter.rules", p)
			continue
		}
		det.Content = append(det.Content, k, fm.vals[i])
	}
	if len(f.rules) == 0 {
		p.add("filter.rules", nil, "must name at least one rule")
	}
	rc := &ruleCompiler{c: c, ls: f.info.LogSource, p: p}
	f.match = rc.compileDetection(det)
	if f.match != nil {
		optimize(f.match)
	}
	f.ver = version(m.get("logsource"), m.get("filter"))
	return f
}
