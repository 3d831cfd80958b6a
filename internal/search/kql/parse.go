package kql

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mangrove-soc/mangrove/internal/search"
)

// Parser limits.
const (
	MaxQueryBytes = 8 << 10 // length of a query in bytes
	MaxDepth      = 32      // nesting of parentheses and negations
	MaxTerms      = 256     // terms (field conditions and free words)
	MaxPattern    = 256     // length of one wildcard pattern in bytes
)

// SyntaxError is a query that does not parse or exceeds a limit. It wraps
// search.ErrBadQuery.
type SyntaxError struct {
	Offset int // byte offset of the problem in the query
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query syntax: %s at byte %d", e.Msg, e.Offset)
}

// Unwrap returns search.ErrBadQuery.
func (e *SyntaxError) Unwrap() error { return search.ErrBadQuery }

// Parse parses a query. The empty query (or only white space) is MatchAll.
// Errors are *SyntaxError.
func Parse(s string) (Node, error) {
	if len(s) > MaxQueryBytes {
		return nil, &SyntaxError{Offset: MaxQueryBytes, Msg: fmt.Sprintf("query longer than %d bytes", MaxQueryBytes)}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return nil, &SyntaxError{Offset: i, Msg: "invalid UTF-8"}
		}
		if (r < 0x20 && !isSpace(byte(r))) || r == 0x7f {
			return nil, &SyntaxError{Offset: i, Msg: fmt.Sprintf("control character %U", r)}
		}
		i += size
	}
	p := parser{s: s}
	p.ws()
	if p.eof() {
		return MatchAll{}, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.ws()
	if !p.eof() {
		return nil, p.unexpected()
	}
	return n, nil
}

type parser struct {
	s     string
	i     int
	depth int
	terms int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) errAt(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unexpected() error {
	if p.eof() {
		return p.errAt(p.i, "unexpected end of query")
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return p.errAt(p.i, "unexpected %q", r)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// isTermStop ends a bare word where a term starts: it may be a field name.
func isTermStop(c byte) bool {
	return isSpace(c) || c == '(' || c == ')' || c == '"' || c == ':' || c == '<' || c == '>'
}

// isValueStop ends a bare value after "field:".
func isValueStop(c byte) bool {
	return isSpace(c) || c == '(' || c == ')' || c == '"'
}

func isBoundStop(c byte) bool { return isValueStop(c) || c == ']' || c == '}' }

func (p *parser) ws() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func (p *parser) enter(off int) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errAt(off, "nesting deeper than %d", MaxDepth)
	}
	return nil
}

func (p *parser) term(off int) error {
	p.terms++
	if p.terms > MaxTerms {
		return p.errAt(off, "more than %d terms", MaxTerms)
	}
	return nil
}

// word is a bare word as scanned.
type word struct {
	raw  string // source text, escapes included
	lit  string // escapes resolved
	pat  string // wildcard pattern: \*, \? and \\ are literal
	wild bool   // has an unescaped * or ?
}

// bare scans a bare word up to a byte for which stop is true.
func (p *parser) bare(stop func(byte) bool) (word, error) {
	start := p.i
	var lit, pat strings.Builder
	var w word
	for p.i < len(p.s) && !stop(p.s[p.i]) {
		c := p.s[p.i]
		switch c {
		case '\\':
			if p.i+1 >= len(p.s) {
				return w, p.errAt(p.i, "escape at end of query")
			}
			_, size := utf8.DecodeRuneInString(p.s[p.i+1:])
			esc := p.s[p.i+1 : p.i+1+size]
			lit.WriteString(esc)
			if esc == "*" || esc == "?" || esc == "\\" {
				pat.WriteByte('\\')
			}
			pat.WriteString(esc)
			p.i += 1 + size
			continue
		case '*', '?':
			w.wild = true
		}
		lit.WriteByte(c)
		pat.WriteByte(c)
		p.i++
	}
	w.raw, w.lit, w.pat = p.s[start:p.i], lit.String(), pat.String()
	return w, nil
}

// keyword returns the operator at the current position, if any, without
// consuming it: "and", "or" or "not".
func (p *parser) keyword() (kw string, end int) {
	j := p.i
	for j < len(p.s) && !isTermStop(p.s[j]) {
		j++
	}
	switch w := p.s[p.i:j]; {
	case strings.EqualFold(w, "and") || w == "&&":
		return "and", j
	case strings.EqualFold(w, "or") || w == "||":
		return "or", j
	case strings.EqualFold(w, "not"):
		return "not", j
	}
	return "", p.i
}

func (p *parser) or() (Node, error) {
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	nodes := []Node{n}
	for {
		p.ws()
		kw, end := p.keyword()
		if kw != "or" {
			break
		}
		p.i = end
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	return Or{Nodes: nodes}, nil
}

func (p *parser) and() (Node, error) {
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	nodes := []Node{n}
	for {
		p.ws()
		if p.eof() || p.s[p.i] == ')' {
			break
		}
		kw, end := p.keyword()
		if kw == "or" {
			break
		}
		if kw == "and" {
			p.i = end
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	return And{Nodes: nodes}, nil
}

// signFollows reports whether a '-' or '+' at i is an operator: it is
// followed by the start of a term.
func (p *parser) signFollows() bool {
	return p.i+1 < len(p.s) && !isSpace(p.s[p.i+1]) && p.s[p.i+1] != ')'
}

func (p *parser) unary() (Node, error) {
	p.ws()
	if p.eof() {
		return nil, p.errAt(p.i, "expected a term")
	}
	start := p.i
	kw, end := p.keyword()
	isNot := kw == "not"
	switch {
	case isNot:
		p.i = end
	case p.s[p.i] == '-' && p.signFollows():
		isNot = true
		p.i++
	case p.s[p.i] == '+' && p.signFollows():
		p.i++
		return p.unary()
	case kw != "":
		return nil, p.errAt(start, "unexpected %s", strings.ToUpper(kw))
	case p.s[p.i] == '-' || p.s[p.i] == '+':
		return nil, p.errAt(start, "expected a term after %q", p.s[p.i])
	}
	if !isNot {
		return p.primary()
	}
	if err := p.enter(start); err != nil {
		return nil, err
	}
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	p.depth--
	return Not{Node: n}, nil
}

func (p *parser) primary() (Node, error) {
	start := p.i
	switch p.s[p.i] {
	case '(':
		return p.group(start, p.or)
	case '"':
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if err := p.term(start); err != nil {
			return nil, err
		}
		return Text{Value: s}, nil
	case ')', ':', '<', '>':
		return nil, p.unexpected()
	}
	w, err := p.bare(isTermStop)
	if err != nil {
		return nil, err
	}
	after := p.i
	p.ws()
	if !p.eof() {
		switch p.s[p.i] {
		case ':':
			p.i++
			if w.raw == "*" {
				return p.matchAll(start)
			}
			if w.wild {
				return nil, p.errAt(start, "wildcards in field names are not supported")
			}
			return p.fieldValue(w.lit)
		case '<', '>':
			if w.wild {
				return nil, p.errAt(start, "wildcards in field names are not supported")
			}
			return p.opRange(w.lit, start)
		}
	}
	p.i = after
	if err := p.term(start); err != nil {
		return nil, err
	}
	if strings.Trim(w.raw, "*") == "" {
		return MatchAll{}, nil
	}
	return p.text(w, start)
}

// group parses "(" inner ")" at start.
func (p *parser) group(start int, inner func() (Node, error)) (Node, error) {
	if err := p.enter(start); err != nil {
		return nil, err
	}
	p.i++
	p.ws()
	if !p.eof() && p.s[p.i] == ')' {
		return nil, p.errAt(start, "empty parentheses")
	}
	n, err := inner()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.eof() || p.s[p.i] != ')' {
		if p.eof() {
			return nil, p.errAt(start, "missing ')' for this '('")
		}
		return nil, p.unexpected()
	}
	p.i++
	p.depth--
	return n, nil
}

// matchAll parses the value of "*:" which must be "*".
func (p *parser) matchAll(start int) (Node, error) {
	p.ws()
	if p.eof() || p.s[p.i] != '*' || (p.i+1 < len(p.s) && !isValueStop(p.s[p.i+1])) {
		return nil, p.errAt(start, "wildcards in field names are not supported")
	}
	p.i++
	if err := p.term(start); err != nil {
		return nil, err
	}
	return MatchAll{}, nil
}

// text makes a free-text node of a bare word.
func (p *parser) text(w word, start int) (Node, error) {
	if !w.wild {
		return Text{Value: w.lit}, nil
	}
	if len(w.pat) > MaxPattern {
		return nil, p.errAt(start, "wildcard pattern longer than %d bytes", MaxPattern)
	}
	for i := 0; i < len(w.pat); i++ {
		if c := w.pat[i]; c != '*' && c != '?' && !isWordByte(c) {
			return nil, p.errAt(start, "free-text wildcard %q spans several words; search a field instead (field:%s)", w.raw, w.raw)
		}
	}
	return Text{Value: foldASCII(w.pat), Wildcard: true}, nil
}

// quoted parses a double-quoted string at p.i.
func (p *parser) quoted() (string, error) {
	start := p.i
	var b strings.Builder
	for j := p.i + 1; j < len(p.s); j++ {
		switch c := p.s[j]; c {
		case '"':
			p.i = j + 1
			return b.String(), nil
		case '\\':
			if j+1 < len(p.s) && (p.s[j+1] == '"' || p.s[j+1] == '\\') {
				j++
				c = p.s[j]
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errAt(start, "unterminated string")
}

// fieldValue parses what follows "field:".
func (p *parser) fieldValue(field string) (Node, error) {
	p.ws()
	start := p.i
	if p.eof() {
		return nil, p.errAt(start, "expected a value after ':'")
	}
	switch p.s[p.i] {
	case '(':
		return p.group(start, func() (Node, error) { return p.valueOr(field) })
	case '[', '{':
		return p.bracketRange(field)
	case '<', '>':
		return p.opRange(field, start)
	case ')':
		return nil, p.errAt(start, "expected a value after ':'")
	}
	return p.value(field, false)
}

// value parses one value of field: quoted, bare, * or a wildcard pattern.
// In a group, the keywords are operators, not values.
func (p *parser) value(field string, inGroup bool) (Node, error) {
	start := p.i
	if p.s[p.i] == '"' {
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if err := p.term(start); err != nil {
			return nil, err
		}
		return termNode(field, s), nil
	}
	w, err := p.bare(isValueStop)
	if err != nil {
		return nil, err
	}
	if w.raw == "" {
		return nil, p.unexpected()
	}
	if inGroup && isKeyword(w.raw) {
		return nil, p.errAt(start, "unexpected %s", strings.ToUpper(w.raw))
	}
	if err := p.term(start); err != nil {
		return nil, err
	}
	switch {
	case w.raw == "*":
		return Exists{Field: field}, nil
	case !w.wild:
		return termNode(field, w.lit), nil
	case field == MessageField:
		return p.text(w, start)
	case len(w.pat) > MaxPattern:
		return nil, p.errAt(start, "wildcard pattern longer than %d bytes", MaxPattern)
	}
	return Wildcard{Field: field, Pattern: w.pat}, nil
}

func termNode(field, v string) Node {
	if field == MessageField {
		return Text{Value: v}
	}
	return Term{Field: field, Value: v}
}

// valueOr parses the inside of "field:( ... )".
func (p *parser) valueOr(field string) (Node, error) {
	var nodes []Node
	for {
		n, err := p.valueAnd(field)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		p.ws()
		kw, end := p.keyword()
		if kw != "or" {
			break
		}
		p.i = end
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	return Or{Nodes: nodes}, nil
}

func (p *parser) valueAnd(field string) (Node, error) {
	var nodes []Node
	for {
		n, err := p.valueNot(field)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		p.ws()
		if p.eof() || p.s[p.i] == ')' {
			break
		}
		kw, end := p.keyword()
		if kw == "or" {
			break
		}
		if kw == "and" {
			p.i = end
		}
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	return And{Nodes: nodes}, nil
}

func (p *parser) valueNot(field string) (Node, error) {
	p.ws()
	start := p.i
	if p.eof() {
		return nil, p.errAt(start, "expected a value")
	}
	if kw, end := p.keyword(); kw == "not" {
		if err := p.enter(start); err != nil {
			return nil, err
		}
		p.i = end
		n, err := p.valueNot(field)
		if err != nil {
			return nil, err
		}
		p.depth--
		return Not{Node: n}, nil
	}
	switch p.s[p.i] {
	case '(':
		return p.group(start, func() (Node, error) { return p.valueOr(field) })
	case ')':
		return nil, p.errAt(start, "expected a value")
	}
	return p.value(field, true)
}

// opRange parses "field OP value" or "field:OP value" with p.i at the
// operator.
func (p *parser) opRange(field string, start int) (Node, error) {
	op := Gt
	if p.s[p.i] == '<' {
		op = Lt
	}
	p.i++
	if p.i < len(p.s) && p.s[p.i] == '=' {
		op++
		p.i++
	}
	p.ws()
	vstart := p.i
	if p.eof() || p.s[p.i] == ')' {
		return nil, p.errAt(vstart, "expected a value after %s", op)
	}
	v, err := p.boundValue(isValueStop)
	if err != nil {
		return nil, err
	}
	if err := p.term(start); err != nil {
		return nil, err
	}
	return p.rangeNode(field, op, v, vstart)
}

// boundValue scans a range bound, quoted or bare without wildcards.
func (p *parser) boundValue(stop func(byte) bool) (string, error) {
	start := p.i
	if p.s[p.i] == '"' {
		return p.quoted()
	}
	w, err := p.bare(stop)
	if err != nil {
		return "", err
	}
	if w.raw == "" {
		return "", p.unexpected()
	}
	if w.wild {
		return "", p.errAt(start, "wildcards are not allowed in ranges")
	}
	return w.lit, nil
}

func (p *parser) rangeNode(field string, op Op, v string, off int) (Node, error) {
	if field == TimeField {
		if _, ok := ParseTime(v); !ok {
			return nil, p.errAt(off, "%s needs a time (RFC 3339 or 2006-01-02), got %q", TimeField, v)
		}
	}
	return Range{Field: field, Op: op, Value: v}, nil
}

// bracketRange parses a Lucene range "[lo TO hi]" with p.i at the bracket.
func (p *parser) bracketRange(field string) (Node, error) {
	start := p.i
	loOp := Gte
	if p.s[p.i] == '{' {
		loOp = Gt
	}
	p.i++
	p.ws()
	bound := func() (string, bool, int, error) {
		p.ws()
		off := p.i
		if p.eof() {
			return "", false, off, p.errAt(start, "unterminated range")
		}
		if p.s[p.i] == '*' && (p.i+1 == len(p.s) || isBoundStop(p.s[p.i+1])) {
			p.i++
			return "", true, off, nil
		}
		v, err := p.boundValue(isBoundStop)
		return v, false, off, err
	}
	lo, loOpen, loOff, err := bound()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i+2 > len(p.s) || !strings.EqualFold(p.s[p.i:p.i+2], "to") || (p.i+2 < len(p.s) && !isSpace(p.s[p.i+2])) {
		return nil, p.errAt(p.i, "expected TO in range")
	}
	p.i += 2
	hi, hiOpen, hiOff, err := bound()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.eof() || (p.s[p.i] != ']' && p.s[p.i] != '}') {
		return nil, p.errAt(start, "missing ']' or '}' for this range")
	}
	hiOp := Lte
	if p.s[p.i] == '}' {
		hiOp = Lt
	}
	p.i++
	var nodes []Node
	if !loOpen {
		n, err := p.rangeNode(field, loOp, lo, loOff)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if !hiOpen {
		n, err := p.rangeNode(field, hiOp, hi, hiOff)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	for range max(len(nodes), 1) {
		if err := p.term(start); err != nil {
			return nil, err
		}
	}
	switch len(nodes) {
	case 0:
		return Exists{Field: field}, nil
	case 1:
		return nodes[0], nil
	}
	// Printed as a parenthesized AND: count it as one level of nesting.
	if err := p.enter(start); err != nil {
		return nil, err
	}
	p.depth--
	return And{Nodes: nodes}, nil
}

// timeLayouts are the forms of a time in a range on @timestamp; times
// without a zone are UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// ParseTime reads a range bound on @timestamp: RFC 3339 (with or without
// fraction), the same without a zone (UTC), or a date (UTC midnight).
func ParseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
