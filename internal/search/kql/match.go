package kql

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// Match reports whether every node matches.
func (n And) Match(ev *event.Event) bool {
	for _, c := range n.Nodes {
		if !c.Match(ev) {
			return false
		}
	}
	return true
}

// Match reports whether any node matches.
func (n Or) Match(ev *event.Event) bool {
	for _, c := range n.Nodes {
		if c.Match(ev) {
			return true
		}
	}
	return false
}

// Match reports whether Node does not match.
func (n Not) Match(ev *event.Event) bool { return !n.Node.Match(ev) }

// Match returns true.
func (MatchAll) Match(*event.Event) bool { return true }

// Match reports whether the field has a non-null value.
func (n Exists) Match(ev *event.Event) bool {
	return anyValue(ev, n.Field, func(e event.Value) bool { return e.Kind != event.Null })
}

// Match reports whether a value of the field equals Value.
func (n Term) Match(ev *event.Event) bool {
	var num float64
	parsed, isNum := false, false
	return anyValue(ev, n.Field, func(e event.Value) bool {
		switch e.Kind {
		case event.String:
			return e.Str == n.Value
		case event.Number:
			if !parsed {
				num, isNum = ParseNumber(n.Value)
				parsed = true
			}
			return isNum && e.Num == num
		case event.Bool:
			return n.Value == strconv.FormatBool(e.Bool)
		}
		return false
	})
}

// Match reports whether a string value of the field matches Pattern.
func (n Wildcard) Match(ev *event.Event) bool {
	return anyValue(ev, n.Field, func(e event.Value) bool {
		return e.Kind == event.String && globMatch(n.Pattern, e.Str)
	})
}

// Match reports whether a value of the field compares to Value by Op.
func (n Range) Match(ev *event.Event) bool {
	if n.Field == TimeField {
		if t, ok := ParseTime(n.Value); ok {
			return !ev.Time.IsZero() && n.Op.holds(ev.Time.Compare(t))
		}
	}
	num, isNum := ParseNumber(n.Value)
	return anyValue(ev, n.Field, func(e event.Value) bool {
		switch {
		case isNum && e.Kind == event.Number:
			c := 0
			if e.Num < num {
				c = -1
			} else if e.Num > num {
				c = 1
			}
			return n.Op.holds(c)
		case !isNum && e.Kind == event.String:
			return n.Op.holds(strings.Compare(e.Str, n.Value))
		}
		return false
	})
}

// holds reports whether a comparison result c (-1, 0, 1) satisfies o.
func (o Op) holds(c int) bool {
	switch o {
	case Gt:
		return c > 0
	case Gte:
		return c >= 0
	case Lt:
		return c < 0
	case Lte:
		return c <= 0
	}
	return false
}

// Match reports whether the message contains the word or phrase, or a word
// matching the pattern.
func (n Text) Match(ev *event.Event) bool {
	v, ok := lookup(ev, MessageField)
	if !ok {
		return false
	}
	text := messageText(v)
	if !n.Wildcard {
		return containsPhrase(text, n.Value)
	}
	for s, e := nextWord(text, 0); s >= 0; s, e = nextWord(text, e) {
		if globMatch(n.Value, text[s:e]) {
			return true
		}
	}
	return false
}

// messageText returns the text that free text searches in a message value:
// a string, or the strings of a list joined by spaces. Other values have
// no text.
func messageText(v event.Value) string {
	switch v.Kind {
	case event.String:
		return v.Str
	case event.List:
		var b strings.Builder
		for _, e := range v.List {
			if e.Kind == event.String {
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(e.Str)
			}
		}
		return b.String()
	}
	return ""
}

// anyValue reports whether fn is true for the field's value or one of its list
// elements.
func anyValue(ev *event.Event, field string, fn func(event.Value) bool) bool {
	v, ok := lookup(ev, field)
	if !ok {
		return false
	}
	found := false
	v.Each(func(e event.Value) bool {
		found = fn(e)
		return !found
	})
	return found
}

// lookup returns a field by name, reading the metadata names from the
// Event's own fields as its JSON form does.
func lookup(ev *event.Event, name string) (event.Value, bool) {
	switch name {
	case event.KeyTime:
		if !ev.Time.IsZero() {
			return event.StringValue(ev.Time.UTC().Format(time.RFC3339Nano)), true
		}
	case event.KeyDataset:
		if ev.Dataset != "" {
			return event.StringValue(ev.Dataset), true
		}
	case event.KeyID:
		if ev.ID != "" {
			return event.StringValue(ev.ID), true
		}
	case event.KeyTenant:
		if ev.Tenant != "" {
			return event.StringValue(ev.Tenant), true
		}
	case event.KeySource:
		if ev.Source != "" {
			return event.StringValue(ev.Source), true
		}
	}
	return ev.Get(name)
}

// ParseNumber reads a value as a number if it is written as a JSON number;
// numbers too large for a float64 are not numbers.
func ParseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return 0, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// isWordByte reports bytes that belong to words: ASCII letters and digits,
// and every byte of a non-ASCII character.
func isWordByte(c byte) bool {
	return c >= utf8.RuneSelf || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// nextWord returns the bounds of the first word in s at or after i, or -1.
func nextWord(s string, i int) (start, end int) {
	for i < len(s) && !isWordByte(s[i]) {
		i++
	}
	if i >= len(s) {
		return -1, -1
	}
	start = i
	for i < len(s) && isWordByte(s[i]) {
		i++
	}
	return start, i
}

// Words splits free text into its words, with ASCII letters lowercased.
// Free-text matching compares these words; a store's full-text index must
// split text the same way (SQLite FTS5's "ascii" tokenizer does).
func Words(s string) []string {
	var ws []string
	for a, b := nextWord(s, 0); a >= 0; a, b = nextWord(s, b) {
		ws = append(ws, foldASCII(s[a:b]))
	}
	return ws
}

// containsPhrase reports whether the words of phrase occur consecutively in
// text, ignoring ASCII case. A phrase without words matches nothing.
func containsPhrase(text, phrase string) bool {
	qs, qe := nextWord(phrase, 0)
	if qs < 0 {
		return false
	}
	for ts, te := nextWord(text, 0); ts >= 0; ts, te = nextWord(text, te) {
		a, b, x, y := qs, qe, ts, te
		for equalFoldASCII(text[x:y], phrase[a:b]) {
			if a, b = nextWord(phrase, b); a < 0 {
				return true
			}
			if x, y = nextWord(text, y); x < 0 {
				return false
			}
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// globMatch reports whether s matches the wildcard pattern p, ignoring ASCII
// case: * matches any run of characters, ? one character, a backslash makes
// the next character literal. It backtracks only to the last *, so it runs
// in O(len(p)·len(s)).
func globMatch(p, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for {
		if px < len(p) {
			switch p[px] {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			default:
				q := px
				if p[q] == '\\' && q+1 < len(p) {
					q++
				}
				pr, pn := utf8.DecodeRuneInString(p[q:])
				if sx < len(s) {
					sr, sn := utf8.DecodeRuneInString(s[sx:])
					if foldRune(sr) == foldRune(pr) {
						px = q + pn
						sx += sn
						continue
					}
				}
			}
		} else if sx == len(s) {
			return true
		}
		if starP < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		px, sx = starP+1, starS
	}
}

func foldRune(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}
