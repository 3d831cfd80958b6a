package local

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/search/kql"
)

// compiler turns a kql AST into an SQL condition over one day table. It
// numbers its parameters (?1, ?2, ...) so that a condition can use one
// parameter several times.
type compiler struct {
	fts  string // name of the day's FTS5 table
	args []any
}

func (c *compiler) bind(v any) string {
	c.args = append(c.args, v)
	return "?" + strconv.Itoa(len(c.args))
}

// expr compiles n. When exact is false the condition is a superset of n's
// matches (it never drops an event that n matches), and the caller finishes
// with n.Match. Every condition is 0 or 1, never NULL, so NOT is sound.
func (c *compiler) expr(n kql.Node) (sql string, exact bool) {
	switch n := n.(type) {
	case kql.MatchAll:
		return "1", true
	case kql.And:
		return c.join(n.Nodes, " AND ")
	case kql.Or:
		return c.join(n.Nodes, " OR ")
	case kql.Not:
		mark := len(c.args)
		s, ok := c.expr(n.Node)
		if !ok {
			// The negation of a superset is a subset: drop the condition.
			c.args = c.args[:mark]
			return "1", false
		}
		return "(NOT " + s + ")", true
	case kql.Exists:
		return c.field(n.Field, func(typ, _ string) string { return "(" + typ + " <> 'null')" })
	case kql.Term:
		return c.term(n)
	case kql.Wildcard:
		p := c.bind(globPattern(n.Pattern))
		return c.field(n.Field, func(typ, val string) string {
			return "(" + typ + " = 'text' AND lower(" + val + ") GLOB " + p + ")"
		})
	case kql.Range:
		return c.rangeExpr(n)
	case kql.Text:
		return c.text(n)
	}
	return "1", false
}

func (c *compiler) join(nodes []kql.Node, sep string) (string, bool) {
	if len(nodes) == 0 {
		if sep == " AND " {
			return "1", true
		}
		return "0", true
	}
	parts := make([]string, len(nodes))
	exact := true
	for i, n := range nodes {
		s, ok := c.expr(n)
		parts[i] = s
		exact = exact && ok
	}
	return "(" + strings.Join(parts, sep) + ")", exact
}

// field applies cond to the field's value, or to each element when it is
// a list (lists in the stored JSON are arrays of scalars). cond receives
// SQL for the JSON type name ('text', 'integer', 'real', 'true', 'false',
// 'null') and the SQL value.
func (c *compiler) field(name string, cond func(typ, val string) string) (string, bool) {
	p := c.bind(`$.` + jsonString(name))
	return "coalesce(CASE json_type(e.doc, " + p + ") WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(e.doc, " + p +
		") AS j WHERE " + cond("j.type", "j.value") + ") ELSE " +
		cond("json_type(e.doc, "+p+")", "json_extract(e.doc, "+p+")") + " END, 0)", true
}

func (c *compiler) term(n kql.Term) (string, bool) {
	v := c.bind(n.Value)
	f, isNum := kql.ParseNumber(n.Value)
	var fp string
	if isNum {
		fp = c.bind(f)
	}
	s, ok := c.field(n.Field, func(typ, val string) string {
		cond := "(" + typ + " = 'text' AND " + val + " = " + v + ")"
		if isNum {
			cond += " OR (" + typ + " IN ('integer', 'real') AND CAST(" + val + " AS REAL) = " + fp + ")"
		}
		switch n.Value {
		case "true", "false":
			cond += " OR " + typ + " = '" + n.Value + "'"
		}
		return "(" + cond + ")"
	})
	if n.Field == event.KeyDataset && n.Value != "" && ok {
		// event.dataset is a column; the JSON only decides for events
		// without a dataset (whose event.dataset field is not a string).
		s = "(e.dataset = " + v + " OR (e.dataset = '' AND " + s + "))"
	}
	return s, ok
}

var sqlOps = map[kql.Op]string{kql.Gt: ">", kql.Gte: ">=", kql.Lt: "<", kql.Lte: "<="}

func (c *compiler) rangeExpr(n kql.Range) (string, bool) {
	op, ok := sqlOps[n.Op]
	if !ok {
		return "0", true
	}
	if n.Field == kql.TimeField {
		if t, ok := kql.ParseTime(n.Value); ok {
			return "(e.ts " + op + " " + c.bind(nanos(t)) + ")", true
		}
	}
	if f, isNum := kql.ParseNumber(n.Value); isNum {
		p := c.bind(f)
		return c.field(n.Field, func(typ, val string) string {
			return "(" + typ + " IN ('integer', 'real') AND CAST(" + val + " AS REAL) " + op + " " + p + ")"
		})
	}
	p := c.bind(n.Value)
	return c.field(n.Field, func(typ, val string) string {
		return "(" + typ + " = 'text' AND " + val + " " + op + " " + p + ")"
	})
}

// text compiles free text to an FTS5 query. The FTS table uses the "ascii"
// tokenizer, which splits and folds text exactly as kql.Words does.
func (c *compiler) text(n kql.Text) (string, bool) {
	match := func(q string) string {
		return "(e.rowid IN (SELECT rowid FROM " + c.fts + " WHERE " + c.fts + " MATCH " + c.bind(q) + "))"
	}
	if !n.Wildcard {
		words := kql.Words(n.Value)
		if len(words) == 0 {
			return "0", true
		}
		return match(`"` + strings.Join(words, " ") + `"`), true
	}
	// A pattern's leading literal is a word prefix: exact for "lit*", a
	// superset otherwise.
	lit := n.Value
	if i := strings.IndexAny(lit, "*?"); i >= 0 {
		lit = lit[:i]
	}
	if lit == "" {
		return "1", false
	}
	if ws := kql.Words(lit); len(ws) != 1 || len(ws[0]) != len(lit) {
		// Words never contain separators: no word matches.
		return "0", true
	}
	exact := strings.Trim(n.Value[len(lit):], "*") == "" && len(lit) < len(n.Value)
	return match(`"` + lit + `"*`), exact
}

// jsonString quotes s as a JSON string, which is how SQLite's JSON path
// quotes an object label (a dotted ECS name is one label).
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// globPattern converts a kql wildcard pattern to an SQLite GLOB pattern
// for lower(value), folding ASCII letters as kql does.
func globPattern(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 == len(p) {
				b.WriteByte('\\')
				continue
			}
			i++
			c = p[i]
			switch c {
			case '*', '?', '[':
				b.WriteString("[" + string(c) + "]")
				continue
			}
		case '*', '?':
			b.WriteByte(c)
			continue
		case '[':
			b.WriteString("[[]")
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Bounds of the times a store can hold: unix nanoseconds fit an int64, and
// day table names have four-digit years.
var (
	minTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// nanos returns t as unix nanoseconds, clamped to the storable range (all
// stored times compare with a clamped bound as with t).
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return minTime.UnixNano() - 1
	case !t.Before(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

// timeBounds returns the event-time window [from, to) that n restricts
// matches to through top-level @timestamp ranges; zero means unbounded.
func timeBounds(n kql.Node) (from, to time.Time) {
	var walk func(kql.Node)
	walk = func(n kql.Node) {
		switch n := n.(type) {
		case kql.And:
			for _, c := range n.Nodes {
				walk(c)
			}
		case kql.Range:
			if n.Field != kql.TimeField {
				return
			}
			t, ok := kql.ParseTime(n.Value)
			if !ok {
				return
			}
			switch n.Op {
			case kql.Gt:
				t = t.Add(time.Nanosecond)
				fallthrough
			case kql.Gte:
				if from.IsZero() || t.After(from) {
					from = t
				}
			case kql.Lte:
				t = t.Add(time.Nanosecond)
				fallthrough
			case kql.Lt:
				if to.IsZero() || t.Before(to) {
					to = t
				}
			}
		}
	}
	walk(n)
	return from, to
}
