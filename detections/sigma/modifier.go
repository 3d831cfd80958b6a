package sigma

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// modClass groups the value modifiers by what they do, which decides how
// they combine.
type modClass uint8

const (
	// modAnchor: contains, startswith, endswith. Wrap values in wildcards;
	// with fieldref they choose how the two fields compare.
	modAnchor modClass = iota + 1
	// modTransform: turn each value into one or more other values, applied
	// in the order written (windash, encodings, expand).
	modTransform
	// modType: change the comparison itself (re, cidr, lt/lte/gt/gte,
	// exists, fieldref). At most one per item.
	modType
	// modFlag: all, cased, neq.
	modFlag
	// modReFlag: sub-modifiers of re (i, m, s and their long names).
	modReFlag
	// modTime: minute ... year, which compare a part of a timestamp. At
	// most one, and not with a modType.
	modTime
)

// modifiers lists every modifier name this package knows. Adding one is a
// table entry here plus its case in compileItem or applyTransform.
var modifiers = map[string]modClass{
	"contains":     modAnchor,
	"startswith":   modAnchor,
	"endswith":     modAnchor,
	"windash":      modTransform,
	"base64":       modTransform,
	"base64offset": modTransform,
	"utf16le":      modTransform,
	"wide":         modTransform,
	"utf16be":      modTransform,
	"utf16":        modTransform,
	"expand":       modTransform,
	"re":           modType,
	"cidr":         modType,
	"lt":           modType,
	"lte":          modType,
	"gt":           modType,
	"gte":          modType,
	"exists":       modType,
	"fieldref":     modType,
	"all":          modFlag,
	"cased":        modFlag,
	"neq":          modFlag,
	"i":            modReFlag,
	"ignorecase":   modReFlag,
	"m":            modReFlag,
	"multiline":    modReFlag,
	"s":            modReFlag,
	"dotall":       modReFlag,
	"minute":       modTime,
	"hour":         modTime,
	"day":          modTime,
	"week":         modTime,
	"month":        modTime,
	"year":         modTime,
}

// chain is the parsed key of a detection item: field|mod|mod...
type chain struct {
	field      string
	transforms []string // windash, encodings, expand; in order
	anchor     string   // contains, startswith, endswith or ""
	anchorPos  int      // position of the anchor among the transforms
	typ        string   // re, cidr, lt, lte, gt, gte, exists, fieldref or ""
	reFlags    string   // "(?ims)" flags for re
	all        bool
	cased      bool
	neq        bool
	expand     bool
}

// parseChain splits an item key into field and modifiers and checks that the
// modifiers combine. It returns every problem found.
func parseChain(key string) (chain, []string) {
	names := strings.Split(key, "|")
	ch := chain{field: names[0]}
	var errs []string
	seen := map[string]bool{}
	var reFlags []byte
	for _, name := range names[1:] {
		class, ok := modifiers[name]
		switch {
		case name == "":
			errs = append(errs, "empty modifier")
			continue
		case !ok:
			errs = append(errs, fmt.Sprintf("unknown modifier %q", name))
			continue
		case seen[name]:
			errs = append(errs, fmt.Sprintf("modifier %q repeated", name))
			continue
		}
		seen[name] = true
		switch class {
		case modAnchor:
			if ch.anchor != "" {
				errs = append(errs, fmt.Sprintf("%s cannot be combined with %s", name, ch.anchor))
				continue
			}
			ch.anchor, ch.anchorPos = name, len(ch.transforms)
		case modTransform:
			ch.transforms = append(ch.transforms, name)
			ch.expand = ch.expand || name == "expand"
		case modType, modTime:
			if ch.typ != "" {
				errs = append(errs, fmt.Sprintf("%s cannot be combined with %s", name, ch.typ))
				continue
			}
			ch.typ = name
		case modReFlag:
			if ch.typ != "re" {
				errs = append(errs, fmt.Sprintf("modifier %q is only valid after re", name))
				continue
			}
			reFlags = append(reFlags, name[0])
		case modFlag:
			switch name {
			case "all":
				ch.all = true
			case "cased":
				ch.cased = true
			case "neq":
				ch.neq = true
			}
		}
	}
	switch ch.typ {
	case "":
	case "fieldref":
		if len(ch.transforms) > 0 {
			errs = append(errs, fmt.Sprintf("fieldref cannot be combined with %s", ch.transforms[0]))
		}
	default:
		if len(ch.transforms) > 0 {
			errs = append(errs, fmt.Sprintf("%s cannot be combined with %s", ch.typ, ch.transforms[0]))
		}
		if ch.anchor != "" {
			errs = append(errs, fmt.Sprintf("%s cannot be combined with %s", ch.typ, ch.anchor))
		}
	}
	if ch.typ == "exists" && (ch.all || ch.neq) {
		errs = append(errs, "exists cannot be combined with all or neq")
	}
	if len(reFlags) > 0 {
		slices.Sort(reFlags)
		ch.reFlags = "(?" + string(slices.Compact(reFlags)) + ")"
	}
	return ch, errs
}

// scalars returns the values of a detection item: the scalar, or the
// elements of a list of scalars.
func scalars(n *yaml.Node, path string, p *problems) ([]*yaml.Node, bool) {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return []*yaml.Node{n}, true
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			p.add(path, n, "empty list of values")
			return nil, false
		}
		out := make([]*yaml.Node, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			c = deref(c)
			if c.Kind != yaml.ScalarNode {
				p.add(indexPath(path, i), c, "a value must be a string, number, boolean or null, not %s", describe(c))
				ok = false
				continue
			}
			out = append(out, c)
		}
		return out, ok
	}
	p.add(path, n, "a value must be a string, number, boolean, null or a list of them, not %s", describe(n))
	return nil, false
}

// compileItem compiles one detection item (field|modifiers: values) into a
// node. A field-less item (keyword search) has an empty field name.
func (rc *ruleCompiler) compileItem(key string, vals []*yaml.Node, at *yaml.Node, path string) *node {
	if rc.matchers > MaxMatchers {
		return nil // reported once, where the budget ran out
	}
	ch, errs := parseChain(key)
	for _, e := range errs {
		rc.p.add(path, at, "%s", e)
	}
	if len(errs) > 0 || len(vals) == 0 {
		return nil
	}
	keyword := ch.field == ""
	var nulls int
	for _, v := range vals {
		if v.ShortTag() == tagNull {
			nulls++
		}
	}
	if nulls > 0 {
		switch {
		case len(vals) > 1:
			rc.p.add(path, at, "null cannot be part of a list of values; use a separate selection")
		case keyword:
			rc.p.add(path, at, "a keyword cannot be null")
		case len(ch.transforms) > 0 || ch.anchor != "" || ch.typ != "" || ch.all || ch.cased:
			rc.p.add(path, at, "null cannot take modifiers other than neq")
		default:
			return rc.negate(ch, &node{kind: nTest, test: &test{op: opNull, field: rc.field(ch.field)}})
		}
		return nil
	}
	if keyword && (ch.typ == "exists" || ch.typ == "fieldref") {
		rc.p.add(path, at, "%s needs a field name", ch.typ)
		return nil
	}
	switch ch.typ {
	case "exists":
		if len(vals) != 1 || vals[0].ShortTag() != tagBool {
			rc.p.add(path, at, "exists takes one value, true or false")
			return nil
		}
		t := &test{op: opExists, field: rc.field(ch.field), exists: strings.EqualFold(vals[0].Value, "true")}
		return &node{kind: nTest, test: t}
	case "fieldref":
		t := &test{op: opRef, field: rc.field(ch.field), all: ch.all, refCased: ch.cased}
		t.refMode = map[string]refMode{"": refEqual, "startswith": refPrefix, "endswith": refSuffix, "contains": refContains}[ch.anchor]
		for i, v := range vals {
			if v.Value == "" {
				rc.p.add(indexPath(path, i), v, "fieldref needs a field name")
				return nil
			}
			t.refs = append(t.refs, rc.field(v.Value))
		}
		return rc.negate(ch, &node{kind: nTest, test: t})
	}
	// groups[i] holds the matchers of vals[i] (one, or its variants).
	groups := make([][]matcher, 0, len(vals))
	ok := true
	for i, v := range vals {
		vpath := path
		if len(vals) > 1 {
			vpath = indexPath(path, i)
		}
		ms, err := rc.compileValue(ch, v, keyword)
		if err != nil {
			rc.p.add(vpath, v, "%v", err)
			ok = false
			continue
		}
		if rc.matchers += len(ms); rc.matchers > MaxMatchers {
			rc.p.add(vpath, v, "the rule expands to more than %d values; the rest of it is not compiled", MaxMatchers)
			return nil
		}
		groups = append(groups, ms)
	}
	if !ok {
		return nil
	}
	var f *fieldRef
	op := opKeyword
	if !keyword {
		f, op = rc.field(ch.field), opValues
	}
	mk := func(ms []matcher, all bool) *node {
		t := &test{op: op, field: f, matchers: ms, all: all, keywords: rc.c.pipeline.keywords}
		t.index()
		return &node{kind: nTest, test: t}
	}
	split := false
	for _, g := range groups {
		split = split || len(g) != 1
	}
	if !ch.all || len(groups) == 1 || !split {
		// One test: any matcher (OR over values and their variants), or
		// with |all every value's single matcher.
		var ms []matcher
		for _, g := range groups {
			ms = append(ms, g...)
		}
		return rc.negate(ch, mk(ms, ch.all && len(groups) > 1))
	}
	// |all over values that expand to variants: every value must match
	// by one of its variants.
	and := &node{kind: nAnd}
	for _, g := range groups {
		and.kids = append(and.kids, mk(g, false))
	}
	return rc.negate(ch, and)
}

// negate wraps n in not when the item has neq.
func (rc *ruleCompiler) negate(ch chain, n *node) *node {
	if !ch.neq {
		return n
	}
	return &node{kind: nNot, kids: []*node{n}}
}

// compileValue compiles one value of an item into its matchers.
func (rc *ruleCompiler) compileValue(ch chain, v *yaml.Node, keyword bool) ([]matcher, error) {
	tag, text := v.ShortTag(), v.Value
	switch ch.typ {
	case "re":
		re, err := regexp.Compile(ch.reFlags + text)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression (RE2 syntax: no lookaround or backreferences): %w", err)
		}
		return []matcher{{kind: mRegex, re: re, rs: shapeOf(re)}}, nil
	case "cidr":
		pfx, err := netip.ParsePrefix(text)
		if err != nil {
			a, aerr := netip.ParseAddr(text)
			if aerr != nil {
				return nil, fmt.Errorf("invalid CIDR network %q", clip(text))
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		return []matcher{{kind: mCIDR, prefix: pfx.Masked()}}, nil
	case "minute", "hour", "day", "week", "month", "year":
		f, ok := parseNumber(text)
		if !ok || tag == tagBool || f != float64(int(f)) {
			return nil, fmt.Errorf("%s needs a whole number, not %s", ch.typ, describe(v))
		}
		return []matcher{{kind: mTime, num: f, part: timeParts[ch.typ]}}, nil
	case "lt", "lte", "gt", "gte":
		f, ok := parseNumber(text)
		if !ok || tag == tagBool {
			return nil, fmt.Errorf("%s needs a number, not %s", ch.typ, describe(v))
		}
		kind := map[string]matchKind{"lt": mLT, "lte": mLTE, "gt": mGT, "gte": mGTE}[ch.typ]
		return []matcher{{kind: kind, num: f}}, nil
	}
	plain := len(ch.transforms) == 0 && ch.anchor == "" && !keyword
	if plain && (tag == tagInt || tag == tagFloat) {
		if f, ok := parseNumber(text); ok {
			return []matcher{{kind: mNum, num: f, text: text}}, nil
		}
	}
	if plain && tag == tagBool {
		b := strings.EqualFold(text, "true")
		return []matcher{{kind: mBool, b: b, text: strconv.FormatBool(b)}}, nil
	}
	vals, cased, err := rc.transform(ch, parseString(text, ch.expand), keyword)
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("value expands to nothing")
	}
	ms := make([]matcher, len(vals))
	for i, s := range vals {
		ms[i] = matcher{kind: mGlob, pat: compilePattern(s, cased || ch.cased)}
	}
	return ms, nil
}

// transform applies the anchor and the transformations of ch to one value,
// in the order written. cased reports that the result must be compared
// case-sensitively (base64 text).
func (rc *ruleCompiler) transform(ch chain, s sstring, keyword bool) (vals []sstring, cased bool, err error) {
	vals = []sstring{s}
	anchor := func() {
		before := ch.anchor == "contains" || ch.anchor == "endswith"
		after := ch.anchor == "contains" || ch.anchor == "startswith"
		for i := range vals {
			vals[i] = vals[i].wrap(before, after)
		}
	}
	for i, name := range ch.transforms {
		if ch.anchor != "" && ch.anchorPos == i {
			anchor()
		}
		var next []sstring
		for _, v := range vals {
			out, err := rc.applyTransform(name, v)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", name, err)
			}
			next = append(next, out...)
			if len(next) > MaxVariants {
				return nil, false, fmt.Errorf("%s: %w", name, errTooManyVariants)
			}
		}
		vals = next
		cased = cased || name == "base64" || name == "base64offset"
	}
	if ch.anchor != "" && ch.anchorPos == len(ch.transforms) {
		anchor()
	}
	if keyword && ch.anchor == "" {
		for i := range vals {
			vals[i] = vals[i].wrap(true, true)
		}
	}
	for _, v := range vals {
		for _, q := range v {
			if q.kind == partPlaceholder {
				return nil, false, fmt.Errorf("placeholder %%%s%% left unexpanded", q.text)
			}
		}
	}
	return vals, cased, nil
}

// applyTransform applies one transformation modifier to one value.
func (rc *ruleCompiler) applyTransform(name string, s sstring) ([]sstring, error) {
	switch name {
	case "windash":
		return windash(s)
	case "base64":
		v, err := encodeBase64(s)
		return []sstring{v}, err
	case "base64offset":
		return encodeBase64Offset(s)
	case "utf16le", "wide":
		return []sstring{encodeUTF16(s, utf16LE)}, nil
	case "utf16be":
		return []sstring{encodeUTF16(s, utf16BE)}, nil
	case "utf16":
		return []sstring{encodeUTF16(s, utf16BOM)}, nil
	case "expand":
		return expand(s, rc.c.pipeline.placeholders)
	}
	return nil, fmt.Errorf("unknown transformation")
}

// parseNumber reads a YAML number (decimal, 0x/0o/0b, underscores) or a
// numeric string.
func parseNumber(s string) (float64, bool) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, true
	}
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(i), true
	}
	return 0, false
}
