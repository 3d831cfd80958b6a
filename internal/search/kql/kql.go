// Package kql parses the query language analysts know from Kibana (KQL) and
// Lucene into an AST, and evaluates that AST against events in memory. The
// AST is also what a Store compiles to its own query language, so the
// semantics below are the contract every Store follows; Node.Match is their
// reference implementation.
//
// # Syntax
//
//	source.ip:10.0.0.5 AND event.action:"logon-failed"
//	process.name:power*                 wildcards: * any run, ? one character
//	field:(a or b or "c d")             any of several values (and/not work too)
//	user.name:*                         the field exists
//	bytes > 100    bytes>=100  bytes < 1e6  bytes <= 7
//	bytes:>100                          Lucene form of the same
//	bytes:[100 TO 200]  bytes:{100 TO *]    Lucene ranges ([ ] inclusive, { } exclusive)
//	@timestamp >= 2026-11-25T10:00:00Z  event time (RFC 3339 or 2006-01-02, UTC)
//	not a, NOT a, -a                    negation; +a is accepted and means a
//	a and b, a AND b, a && b, a b       conjunction (adjacent terms: implicit AND)
//	a or b, a OR b, a || b              disjunction
//	(a or b) and c                      grouping
//	failed "logon failed"               free text: words and phrases in message
//	*                                   everything
//
// Keywords are case-insensitive. NOT binds tighter than AND, AND tighter than
// OR. Adjacent terms are joined by AND (as in Splunk, unlike Lucene's default
// OR): adding a term narrows a search. The empty query matches everything.
//
// Values are written bare or in double quotes. Inside quotes, \" is a quote
// and \\ a backslash; any other backslash is literal, so Windows paths need no
// escaping ("C:\Windows\System32"), and * and ? are literal. In a bare value,
// a backslash makes the next character literal (\*, \(, \ ). A bare value may
// contain ':' (fe80::1, times). The keywords and, or, not are values right
// after "field:" but operators elsewhere; quote them to search for the words.
// Field names are literal: wildcards in field names are not supported.
//
// # Semantics
//
// A field is looked up by its flattened ECS name. The metadata names
// @timestamp, event.dataset, mangrove.id, mangrove.tenant and mangrove.source
// read the Event's own fields (Time as RFC 3339 with nanoseconds, UTC), as in
// the event's JSON form. A field holding a list matches when any element
// matches; null values never match and do not count as existing.
//
//   - field:value (Term) matches a string that equals value exactly, case
//     included (keyword semantics). When value is a number it also matches
//     numbers numerically: event.code:4625 matches 4625, 4625.0 and "4625".
//     true and false match booleans.
//   - field:pat*ern (Wildcard) matches strings only, ignoring the case of
//     ASCII letters: process.name:power* matches "PowerShell.exe". * matches
//     any run of characters, ? exactly one.
//   - field:* (Exists) matches when the field has a non-null value.
//   - field > value (Range) compares numbers numerically when value is a
//     number, and strings byte-wise otherwise, so RFC 3339 times written in
//     the same form (UTC, "Z") compare in time order. On @timestamp the value
//     must be a time and compares with the event time.
//   - Free text (Text) matches the message field, which is full text: its
//     string values are split into words, and a free word or "phrase"
//     matches when its words occur in message consecutively, ignoring the
//     case of ASCII letters. message:x is the same as the free text x. A word
//     is a run of ASCII letters and digits and non-ASCII characters; all
//     other ASCII characters separate words ("logon-failed" is the phrase
//     "logon failed"). In free text, wildcards work within one word
//     (power*, p?wer); a free wildcard that contains separators is an error.
//
// # Limits
//
// A query is at most MaxQueryBytes long, nests parentheses and negations at
// most MaxDepth deep, has at most MaxTerms terms and wildcard patterns of at
// most MaxPattern bytes. Errors are SyntaxErrors
// with the byte offset of the problem; they wrap search.ErrBadQuery.
package kql

import (
	"strings"
	"unicode/utf8"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// Node is a node of a parsed query. The concrete types are And, Or, Not,
// MatchAll, Exists, Term, Wildcard, Range and Text.
type Node interface {
	// Match reports whether ev matches the query rooted at this node.
	Match(ev *event.Event) bool
	// String returns the query in canonical syntax; parsing it yields an
	// equal AST.
	String() string
	node()
}

// And matches when every node matches.
type And struct{ Nodes []Node }

// Or matches when any node matches.
type Or struct{ Nodes []Node }

// Not matches when Node does not.
type Not struct{ Node Node }

// MatchAll matches every event.
type MatchAll struct{}

// Exists matches events where Field has a non-null value.
type Exists struct{ Field string }

// Term matches events where Field equals Value: strings exactly, numbers
// numerically, booleans by name.
type Term struct {
	Field string
	Value string
}

// Wildcard matches events where a string value of Field matches Pattern,
// ignoring ASCII case. In Pattern, * matches any run of characters, ? one
// character, and a backslash makes the next character literal.
type Wildcard struct {
	Field   string
	Pattern string
}

// Op is a range comparison.
type Op uint8

// Range comparisons.
const (
	Gt  Op = iota + 1 // >
	Gte               // >=
	Lt                // <
	Lte               // <=
)

func (o Op) String() string {
	switch o {
	case Gt:
		return ">"
	case Gte:
		return ">="
	case Lt:
		return "<"
	case Lte:
		return "<="
	}
	return "?"
}

// Range matches events where a value of Field compares to Value by Op:
// numerically when Value is a number, by event time on @timestamp, byte-wise
// for strings otherwise.
type Range struct {
	Field string
	Op    Op
	Value string
}

// Text matches free text in the message field. Without Wildcard, Value is a
// word or phrase; with Wildcard, Value is a pattern for one word made of word
// characters, * and ?.
type Text struct {
	Value    string
	Wildcard bool
}

func (And) node()      {}
func (Or) node()       {}
func (Not) node()      {}
func (MatchAll) node() {}
func (Exists) node()   {}
func (Term) node()     {}
func (Wildcard) node() {}
func (Range) node()    {}
func (Text) node()     {}

// MessageField is the full-text field that free text searches.
const MessageField = "message"

// TimeField is the event time, compared chronologically by ranges.
const TimeField = event.KeyTime

func (n And) String() string { return join(n.Nodes, " AND ") }
func (n Or) String() string  { return join(n.Nodes, " OR ") }
func (n Not) String() string { return "NOT " + group(n.Node) }

// String returns "*".
func (MatchAll) String() string { return "*" }

func (n Exists) String() string { return quoteField(n.Field) + ":*" }
func (n Term) String() string   { return quoteField(n.Field) + ":" + quoteValue(n.Value) }
func (n Wildcard) String() string {
	return quoteField(n.Field) + ":" + quotePattern(n.Pattern)
}
func (n Range) String() string {
	return quoteField(n.Field) + " " + n.Op.String() + " " + quoteValue(n.Value)
}

func (n Text) String() string {
	if n.Wildcard {
		return n.Value
	}
	if isKeyword(n.Value) || !bareSafe(n.Value, false) || n.Value[0] == '-' || n.Value[0] == '+' {
		return quote(n.Value)
	}
	return n.Value
}

func join(nodes []Node, sep string) string {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(group(n))
	}
	return b.String()
}

// group parenthesizes composite nodes so that String keeps the AST's shape.
func group(n Node) string {
	switch n.(type) {
	case And, Or:
		return "(" + n.String() + ")"
	}
	return n.String()
}

func isKeyword(s string) bool {
	return strings.EqualFold(s, "and") || strings.EqualFold(s, "or") ||
		strings.EqualFold(s, "not") || s == "&&" || s == "||"
}

// bareSafe reports whether s can be written without quotes: letters, digits,
// non-ASCII, a few punctuation characters, and ':' in value position.
func bareSafe(s string, value bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			if r, size := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError || isSpaceRune(r) {
				return false
			} else {
				i += size - 1
			}
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_.@/-+,#$%&'=^`|~!;", c) >= 0:
		case c == ':' && value:
		default:
			return false
		}
	}
	return true
}

// isSpaceRune reports non-ASCII characters that would look like a separator
// in a bare word; quoting them keeps String readable.
func isSpaceRune(r rune) bool {
	return r == 0x85 || r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200B) ||
		r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000 || r == 0xFEFF
}

func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// quoteValue writes a Term or Range value: bare when that reads back the
// same, else quoted (quoted values are literal).
func quoteValue(s string) string {
	if isKeyword(s) || !bareSafe(s, true) {
		return quote(s)
	}
	return s
}

// quoteField escapes the characters of a field name that the parser would
// otherwise read as syntax.
func quoteField(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if i == 0 && (c == '-' || c == '+' || isKeyword(f)) || isTermStop(c) || c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// quotePattern writes a Wildcard pattern bare, escaping the characters that
// end a bare value or would start a range.
func quotePattern(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			b.WriteByte('\\')
			b.WriteByte(p[i+1])
			i++
			continue
		}
		if c == '\\' || isValueStop(c) || (i == 0 && strings.IndexByte("[{<>", c) >= 0) {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
