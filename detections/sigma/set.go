package sigma

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mangrove-soc/mangrove/detections"
)

// LoadSet compiles a set of Sigma files with the default pipeline; see
// Compiler.LoadSet.
func LoadSet(files []detections.File) ([]detections.Rule, error) {
	return defaultCompiler().LoadSet(files)
}

// setDoc is one document of a set: a detection rule or a correlation.
type setDoc struct {
	where string
	rule  *Rule
	corr  *corrSpec
	meta  detections.Meta
	// used: referenced by a correlation that does not generate it.
	used bool
	// generated: referenced by a correlation with generate: true.
	generated bool
	p         *problems
}

// LoadSet compiles the detection rules, correlation rules and filters of
// several files together, so that correlations and filters may refer to
// rules of other files by id or by name.
//
// It returns the detection rules and the correlations (*Correlation). A
// detection rule or correlation referred to by a correlation is evaluated
// inside it and not returned on its own, unless that correlation sets
// generate: true (or it is also referred to by no correlation at all).
// A filter adds "and not <its condition>" to each rule it names; Version
// then covers the filter too. Every problem is reported at once, like Load:
// unknown or ambiguous references, reference cycles, aliases that name no
// referenced rule. A correlation with a problem, and the rules only it refers
// to, are left out; the other rules load.
func (c *Compiler) LoadSet(files []detections.File) ([]detections.Rule, error) {
	var docs []*setDoc
	var filters []*filterSpec
	var errs []error
	for _, f := range files {
		parts, err := splitDocuments(f.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
			continue
		}
		for i, doc := range parts {
			if doc == nil {
				continue
			}
			p := &problems{prefix: f.Path}
			if len(parts) > 1 {
				p.prefix = fmt.Sprintf("%s: document %d", f.Path, i+1)
			}
			m, ok := asMapping(doc, "", p)
			switch {
			case !ok:
			case m.get("correlation") != nil:
				s := parseCorrelation(m, p)
				if s != nil && p.ok() {
					s.path = f.Path
					meta := c.meta(s.info, f.Path, i, len(parts), s.version)
					docs = append(docs, &setDoc{where: p.prefix, corr: s, meta: meta, p: p})
				}
			case m.get("filter") != nil && m.get("detection") == nil:
				if fs := c.parseFilter(f.Path, m, p); fs != nil && p.ok() {
					filters = append(filters, fs)
				}
			default:
				r, skip := c.compile(f.Path, i, len(parts), doc, p)
				switch {
				case skip != nil:
					errs = append(errs, skip)
				case p.ok() && r != nil:
					docs = append(docs, &setDoc{where: p.prefix, rule: r, meta: r.meta, p: p})
				case p.ok():
					p.add("", doc, "document is not a detection rule")
				}
			}
			errs = append(errs, p.errs...)
		}
	}
	byRef := map[string][]*setDoc{}
	for _, d := range docs {
		byRef[d.meta.ID] = append(byRef[d.meta.ID], d)
		name := d.name()
		if name != "" && name != d.meta.ID {
			byRef[name] = append(byRef[name], d)
		}
	}
	resolve := func(ref string) (*setDoc, error) {
		switch ds := byRef[ref]; len(ds) {
		case 0:
			return nil, fmt.Errorf("refers to unknown rule %q", ref)
		case 1:
			return ds[0], nil
		default:
			return nil, fmt.Errorf("rule reference %q is ambiguous: %s and %s", ref, ds[0].where, ds[1].where)
		}
	}
	for _, f := range filters {
		for _, ref := range f.rules {
			d, err := resolve(ref)
			if err == nil && d.rule == nil {
				err = fmt.Errorf("names correlation %q; filters apply to detection rules", ref)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: filter %q: %w", f.path, f.info.Title, err))
				continue
			}
			d.rule.det = &node{kind: nAnd, kids: []*node{d.rule.det, {kind: nNot, kids: []*node{f.match}}}}
			d.rule.setMatch()
			d.rule.meta.Version = hashHex(d.rule.meta.Version + "\x00" + f.ver)
			d.meta = d.rule.meta
		}
	}
	b := &corrBuilder{c: c, resolve: resolve, state: map[*setDoc]int{}}
	built := map[*setDoc]*Correlation{}
	for _, d := range docs {
		if d.corr == nil {
			continue
		}
		corr, err := b.build(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.where, err))
			continue
		}
		built[d] = corr
	}
	var out []detections.Rule
	for _, d := range docs {
		switch {
		case d.rule != nil && (!d.used || d.generated):
			out = append(out, d.rule)
		case d.corr != nil && built[d] != nil && (!d.used || d.generated):
			out = append(out, built[d])
		}
	}
	return out, errors.Join(errs...)
}

func (d *setDoc) name() string {
	if d.rule != nil {
		return d.rule.info.Name
	}
	return d.corr.info.Name
}

// meta builds the Meta of a correlation document.
func (c *Compiler) meta(info Info, path string, idx, ndocs int, ver string) detections.Meta {
	m := detections.Meta{
		ID: info.ID, Version: ver, Title: info.Title, Kind: kindName, Severity: severity(info.Level),
		Tags: info.Tags, Techniques: techniques(info.Tags), Path: path, Description: info.Description,
	}
	if m.ID == "" {
		key := path
		if ndocs > 1 {
			key += "#" + strconv.Itoa(idx+1)
		}
		m.ID = hashHex(key)
	}
	return m
}

// corrBuilder instantiates correlations: each correlation referred to by
// another gets its own state inside it.
type corrBuilder struct {
	c       *Compiler
	resolve func(string) (*setDoc, error)
	state   map[*setDoc]int // 1: being built (cycle check), 2: checked
	// built counts instances, against MaxCorrelationInstances.
	built int
}

// Correlation nesting limits: a chain of correlations at most
// MaxCorrelationDepth deep, and at most MaxCorrelationInstances
// correlations (nested ones counted at each use) in one set, so that a
// pack where correlations refer to each other many times over cannot
// exhaust memory.
const (
	MaxCorrelationDepth     = 8
	MaxCorrelationInstances = 10_000
)

// build checks a correlation (references, cycles, aliases), marks what it
// refers to as used, and returns a new instance.
func (b *corrBuilder) build(d *setDoc) (*Correlation, error) {
	return b.buildAt(d, 0)
}

func (b *corrBuilder) buildAt(d *setDoc, depth int) (*Correlation, error) {
	if b.state[d] == 1 {
		return nil, fmt.Errorf("correlation %q refers to itself through its rules", d.meta.Title)
	}
	if depth >= MaxCorrelationDepth {
		return nil, fmt.Errorf("correlation %q: correlations nest more than %d deep", d.meta.Title, MaxCorrelationDepth)
	}
	if b.built++; b.built > MaxCorrelationInstances {
		return nil, fmt.Errorf("correlation %q: more than %d correlations in the set, nested ones counted at each use", d.meta.Title, MaxCorrelationInstances)
	}
	b.state[d] = 1
	defer func() { b.state[d] = 2 }()
	s := d.corr
	var errs []error
	var refs []*setDoc
	for _, ref := range s.rules {
		r, err := b.resolve(ref)
		if err != nil {
			errs = append(errs, fmt.Errorf("correlation.rules: %w", err))
			continue
		}
		refs = append(refs, r)
	}
	for alias, byRule := range s.aliases {
		for name := range byRule {
			if !slices.ContainsFunc(refs, func(r *setDoc) bool { return r.name() == name || r.meta.ID == name }) {
				errs = append(errs, fmt.Errorf("correlation.aliases.%s: %q is not one of the correlation's rules", alias, name))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var srcs []source
	vers := []string{s.version}
	for _, r := range refs {
		src := source{}
		var ls LogSource
		if r.rule != nil {
			src.rule = r.rule
			ls = r.rule.info.LogSource
		} else {
			inner, err := b.buildAt(r, depth+1)
			if err != nil {
				return nil, err
			}
			src.corr = inner
		}
		for _, gb := range s.groupBy {
			field := gb
			if byRule, ok := s.aliases[gb]; ok {
				if f, ok := byRule[r.name()]; ok {
					field = f
				} else if f, ok := byRule[r.meta.ID]; ok {
					field = f
				}
			}
			src.gbName = append(src.gbName, field)
			src.groupBy = append(src.groupBy, b.c.pipeline.candidates(ls, field))
		}
		if s.field != "" {
			src.valName = s.field
			src.value = b.c.pipeline.candidates(ls, s.field)
		}
		r.used = true
		if s.generate {
			r.generated = true
		}
		vers = append(vers, r.metaVersion(src))
		srcs = append(srcs, src)
	}
	meta := d.meta
	meta.Version = hashHex(strings.Join(vers, "\x00"))
	return newCorrelation(s, meta, srcs), nil
}

func (d *setDoc) metaVersion(src source) string {
	if src.corr != nil {
		return src.corr.meta.Version
	}
	return d.meta.Version
}
