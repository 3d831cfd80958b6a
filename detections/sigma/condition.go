package sigma

import (
	"errors"
	"fmt"
	"strings"
)

// The condition grammar (Sigma v2.1, with pySigma's "any of" synonym):
//
//	condition := or
//	or        := and ("or" and)*
//	and       := not ("and" not)*
//	not       := "not" not | operand
//	operand   := "(" or ")" | selector | identifier
//	selector  := ("1" | "any" | "all") "of" (pattern | "them")
//
// Operators are case-insensitive. A pattern's * matches any run of
// characters and the pattern is anchored at both ends (pySigma anchors only
// the start). "them" and patterns that do not start with "_" leave out the
// identifiers that start with "_".

// cop is the operator of a condition expression.
type cop uint8

const (
	cIdent cop = iota
	cAnd
	cOr
	cNot
	cOneOf
	cAllOf
)

// cexpr is a parsed condition.
type cexpr struct {
	op   cop
	name string // identifier, pattern, or "them"
	kids []*cexpr
}

// maxConditionDepth bounds the nesting of parentheses and not.
const maxConditionDepth = 64

type ctoken struct {
	text string
	pos  int // byte offset, for messages
}

// lexCondition splits a condition into words and parentheses.
func lexCondition(s string) ([]ctoken, error) {
	var toks []ctoken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, ctoken{text: s[i : i+1], pos: i})
			i++
		case c == '|':
			return nil, fmt.Errorf("column %d: aggregations (| count() ...) are Sigma v1 correlation syntax and are not supported; write a correlation rule", i+1)
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, ctoken{text: s[i:j], pos: i})
			i = j
		}
	}
	return toks, nil
}

// condParser is a recursive-descent parser over the tokens.
type condParser struct {
	toks  []ctoken
	i     int
	depth int
}

// parseCondition parses one condition string.
func parseCondition(s string) (*cexpr, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty condition")
	}
	p := &condParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errorf("unexpected %q", p.toks[p.i].text)
	}
	return e, nil
}

func (p *condParser) errorf(format string, args ...any) error {
	col := 0
	if p.i < len(p.toks) {
		col = p.toks[p.i].pos + 1
	} else if n := len(p.toks); n > 0 {
		col = p.toks[n-1].pos + len(p.toks[n-1].text) + 1
	}
	return fmt.Errorf("column %d: %s", col, fmt.Sprintf(format, args...))
}

// peek returns the next token lower-cased, or "".
func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return strings.ToLower(p.toks[p.i].text)
	}
	return ""
}

func (p *condParser) or() (*cexpr, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.i++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = join(cOr, left, right)
	}
	return left, nil
}

func (p *condParser) and() (*cexpr, error) {
	left, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.i++
		right, err := p.not()
		if err != nil {
			return nil, err
		}
		left = join(cAnd, left, right)
	}
	return left, nil
}

// join builds a and b under op, flattening a chain of the same operator.
func join(op cop, a, b *cexpr) *cexpr {
	if a.op == op {
		a.kids = append(a.kids, b)
		return a
	}
	return &cexpr{op: op, kids: []*cexpr{a, b}}
}

func (p *condParser) not() (*cexpr, error) {
	if p.peek() != "not" {
		return p.operand()
	}
	p.i++
	if p.depth++; p.depth > maxConditionDepth {
		return nil, p.errorf("condition nested more than %d deep", maxConditionDepth)
	}
	defer func() { p.depth-- }()
	e, err := p.not()
	if err != nil {
		return nil, err
	}
	return &cexpr{op: cNot, kids: []*cexpr{e}}, nil
}

// keywords of the grammar, which cannot be identifiers.
var condKeywords = map[string]bool{"and": true, "or": true, "not": true, "of": true, "them": true, "(": true, ")": true}

func (p *condParser) operand() (*cexpr, error) {
	tok := p.peek()
	switch {
	case tok == "":
		return nil, p.errorf("condition ends early")
	case tok == "(":
		p.i++
		if p.depth++; p.depth > maxConditionDepth {
			return nil, p.errorf("condition nested more than %d deep", maxConditionDepth)
		}
		e, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errorf("missing )")
		}
		p.i++
		return e, nil
	case (tok == "1" || tok == "any" || tok == "all") && p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1].text, "of"):
		p.i += 2
		target := p.peek()
		if target == "" || target == "(" || target == ")" || (condKeywords[target] && target != "them") {
			return nil, p.errorf("%s of: expected a pattern or them", tok)
		}
		name := p.toks[p.i].text
		if target == "them" {
			name = "them"
		}
		p.i++
		op := cOneOf
		if tok == "all" {
			op = cAllOf
		}
		return &cexpr{op: op, name: name}, nil
	case tok == "near":
		return nil, p.errorf("near is Sigma v1 correlation syntax and is not supported")
	case condKeywords[tok]:
		return nil, p.errorf("unexpected %q", p.toks[p.i].text)
	}
	name := p.toks[p.i].text
	if strings.ContainsRune(name, '*') {
		return nil, p.errorf("wildcard %q outside of 1 of / all of", name)
	}
	p.i++
	return &cexpr{op: cIdent, name: name}, nil
}

// buildCondition turns a parsed condition into nodes over the compiled
// search identifiers.
func buildCondition(e *cexpr, searches []search) (*node, error) {
	switch e.op {
	case cIdent:
		for _, s := range searches {
			if s.name == e.name {
				return s.node, nil
			}
		}
		return nil, fmt.Errorf("unknown search identifier %q", e.name)
	case cAnd, cOr, cNot:
		kind := map[cop]nodeKind{cAnd: nAnd, cOr: nOr, cNot: nNot}[e.op]
		n := &node{kind: kind}
		for _, k := range e.kids {
			kn, err := buildCondition(k, searches)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kn)
		}
		return n, nil
	}
	var kids []*node
	for _, s := range searches {
		if selects(e.name, s.name) {
			kids = append(kids, s.node)
		}
	}
	if len(kids) == 0 {
		return nil, fmt.Errorf("%q matches no search identifier", e.name)
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	kind := nOr
	if e.op == cAllOf {
		kind = nAnd
	}
	return &node{kind: kind, kids: kids}, nil
}

// selects reports whether the pattern of an "x of" selector takes the search
// identifier name.
func selects(pattern, name string) bool {
	if pattern == "them" {
		return !strings.HasPrefix(name, "_")
	}
	if strings.HasPrefix(name, "_") && !strings.HasPrefix(pattern, "_") {
		return false
	}
	toks := make([]gtok, 0, 3)
	for i, lit := range strings.Split(pattern, "*") {
		if i > 0 {
			toks = append(toks, gtok{kind: gStar})
		}
		if lit != "" {
			toks = append(toks, gtok{kind: gLit, lit: lit})
		}
	}
	return globMatch(name, toks, false)
}
