package sigma

import (
	"cmp"
	"slices"

	"gopkg.in/yaml.v3"
)

// ruleCompiler compiles the detection of one rule document.
type ruleCompiler struct {
	c  *Compiler
	ls LogSource
	p  *problems
	// global compiles pipeline conditions: fields resolve without a log
	// source.
	global bool
	// matchers counts compiled values against MaxMatchers.
	matchers int
}

// field resolves a Sigma field name to its candidate event fields under the
// rule's log source.
func (rc *ruleCompiler) field(name string) *fieldRef {
	if rc.global {
		return rc.c.pipeline.globalField(name)
	}
	return rc.c.field(rc.ls, name)
}

// search is one compiled search identifier.
type search struct {
	name string
	node *node
}

// compileDetection compiles the detection block: its search identifiers and
// its condition.
func (rc *ruleCompiler) compileDetection(det *yaml.Node) *node {
	const path = "detection"
	m, ok := asMapping(det, path, rc.p)
	if !ok {
		return nil
	}
	var searches []search
	var cond *yaml.Node
	for i, k := range m.keys {
		switch k.Value {
		case "condition":
			cond = deref(m.vals[i])
			continue
		case "timeframe":
			rc.p.add(joinPath(path, k.Value), k, "timeframe belongs to the Sigma v1 aggregation syntax; write a correlation rule")
			continue
		}
		searches = append(searches, search{name: k.Value, node: rc.compileSearch(m.vals[i], joinPath(path, k.Value))})
	}
	if len(searches) == 0 {
		rc.p.add(path, det, "has no search identifiers")
	}
	if cond == nil {
		rc.p.add(joinPath(path, "condition"), nil, "is required")
		return nil
	}
	if !rc.p.ok() {
		// Still check the condition so that all problems are reported.
		rc.compileCondition(cond, searches)
		return nil
	}
	return rc.compileCondition(cond, searches)
}

// compileCondition compiles the condition: a string, or a list of strings
// any of which may hold.
func (rc *ruleCompiler) compileCondition(cond *yaml.Node, searches []search) *node {
	path := "detection.condition"
	var texts []*yaml.Node
	switch cond.Kind {
	case yaml.ScalarNode:
		texts = []*yaml.Node{cond}
	case yaml.SequenceNode:
		for i, c := range cond.Content {
			c = deref(c)
			if c.Kind != yaml.ScalarNode || c.ShortTag() == tagNull {
				rc.p.add(indexPath(path, i), c, "must be a string, not %s", describe(c))
				continue
			}
			texts = append(texts, c)
		}
	default:
		rc.p.add(path, cond, "must be a string or a list of strings, not %s", describe(cond))
		return nil
	}
	if len(texts) == 0 {
		rc.p.add(path, cond, "is empty")
		return nil
	}
	or := &node{kind: nOr}
	for i, t := range texts {
		p := path
		if cond.Kind == yaml.SequenceNode {
			p = indexPath(path, i)
		}
		expr, err := parseCondition(t.Value)
		if err != nil {
			rc.p.add(p, t, "%v", err)
			continue
		}
		n, err := buildCondition(expr, searches)
		if err != nil {
			rc.p.add(p, t, "%v", err)
			continue
		}
		or.kids = append(or.kids, n)
	}
	if len(or.kids) == 1 {
		return or.kids[0]
	}
	return or
}

// compileSearch compiles one search identifier: a map (AND of its items), a
// list of maps (OR), or a list of keywords (field-less search, OR).
func (rc *ruleCompiler) compileSearch(n *yaml.Node, path string) *node {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return rc.compileMap(n, path)
	case yaml.ScalarNode:
		if n.ShortTag() == tagNull {
			rc.p.add(path, n, "search identifier has no value")
			return nil
		}
		return rc.compileItem("", []*yaml.Node{n}, n, path)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			rc.p.add(path, n, "empty list")
			return nil
		}
		or := &node{kind: nOr}
		var keywords []*yaml.Node
		for i, c := range n.Content {
			c = deref(c)
			switch c.Kind {
			case yaml.MappingNode:
				if k := rc.compileMap(c, indexPath(path, i)); k != nil {
					or.kids = append(or.kids, k)
				}
			case yaml.ScalarNode:
				if c.ShortTag() == tagNull {
					rc.p.add(indexPath(path, i), c, "a keyword cannot be null")
					continue
				}
				keywords = append(keywords, c)
			default:
				rc.p.add(indexPath(path, i), c, "must be a mapping or a keyword, not %s", describe(c))
			}
		}
		if len(keywords) > 0 {
			if k := rc.compileItem("", keywords, n, path); k != nil {
				or.kids = append(or.kids, k)
			}
		}
		if len(or.kids) == 1 {
			return or.kids[0]
		}
		return or
	}
	rc.p.add(path, n, "must be a mapping or a list, not %s", describe(n))
	return nil
}

// compileMap compiles a map of detection items, all of which must hold.
func (rc *ruleCompiler) compileMap(n *yaml.Node, path string) *node {
	m, ok := asMapping(n, path, rc.p)
	if !ok {
		return nil
	}
	if len(m.keys) == 0 {
		rc.p.add(path, n, "empty selection")
		return nil
	}
	and := &node{kind: nAnd}
	for i, k := range m.keys {
		ipath := joinPath(path, k.Value)
		vals, ok := scalars(m.vals[i], ipath, rc.p)
		if !ok {
			continue
		}
		if item := rc.compileItem(k.Value, vals, k, ipath); item != nil {
			and.kids = append(and.kids, item)
		}
	}
	if len(and.kids) == 1 {
		return and.kids[0]
	}
	return and
}

// optimize flattens nested and/or nodes, orders the children of every
// and/or node cheapest first, and records each node's cost. None of it
// changes a verdict: the tests have no side effects. It rewrites n in place,
// so it must only see nodes of one rule (or of one pipeline); a node shared
// within them is optimized once.
func optimize(n *node) int {
	if n == nil {
		return 0
	}
	if n.optimized {
		return n.costv
	}
	n.optimized = true
	switch n.kind {
	case nTest:
		n.costv = n.test.cost()
		return n.costv
	case nNot:
		n.costv = optimize(n.kids[0])
		return n.costv
	}
	var flat []*node
	for _, k := range n.kids {
		optimize(k)
		if k.kind == n.kind {
			flat = append(flat, k.kids...)
		} else {
			flat = append(flat, k)
		}
	}
	slices.SortStableFunc(flat, func(a, b *node) int { return cmp.Compare(a.costv, b.costv) })
	n.kids = flat
	n.costv = 0
	for _, k := range flat {
		n.costv += k.costv
	}
	return n.costv
}
