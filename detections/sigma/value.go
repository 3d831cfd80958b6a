package sigma

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// partKind is the kind of one piece of a Sigma string value.
type partKind uint8

const (
	partLit         partKind = iota // literal bytes
	partStar                        // * : any run of characters
	partOne                         // ? : exactly one character
	partPlaceholder                 // %name% under the expand modifier
)

// part is one piece of a Sigma string value.
type part struct {
	kind partKind
	text string // the literal bytes, or the placeholder name
}

// sstring is a Sigma string value after wildcard and escape processing:
// literal runs, wildcards and placeholders. Adjacent literals are merged and
// runs of * collapse to one.
type sstring []part

// parseString reads a plain Sigma string value. * and ? are wildcards; \*, \?
// and \\ stand for the literal characters; a backslash before anything else
// is itself literal (so Windows paths need no escaping). With placeholders,
// %name% is a placeholder and \% a literal percent sign, as under the expand
// modifier.
func parseString(s string, placeholders bool) sstring {
	var out sstring
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = out.appendPart(part{kind: partLit, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\' || (placeholders && s[i+1] == '%')):
			lit.WriteByte(s[i+1])
			i++
		case c == '*':
			flush()
			out = out.appendPart(part{kind: partStar})
		case c == '?':
			flush()
			out = out.appendPart(part{kind: partOne})
		case c == '%' && placeholders:
			end := strings.IndexByte(s[i+1:], '%')
			if end <= 0 {
				lit.WriteByte(c)
				continue
			}
			flush()
			out = out.appendPart(part{kind: partPlaceholder, text: s[i+1 : i+1+end]})
			i += end + 1
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// literal returns s as a plain string when it is a literal (possibly empty).
func literal(text string) sstring {
	if text == "" {
		return sstring{}
	}
	return sstring{{kind: partLit, text: text}}
}

// appendPart appends p, merging literals and collapsing stars. It never
// modifies the parts s shares with other values.
func (s sstring) appendPart(p part) sstring {
	if n := len(s); n > 0 {
		last := s[n-1]
		switch {
		case p.kind == partLit && last.kind == partLit:
			out := append(s[:n-1:n-1], part{kind: partLit, text: last.text + p.text})
			return out
		case p.kind == partStar && last.kind == partStar:
			return s
		}
	}
	if p.kind == partLit && p.text == "" {
		return s
	}
	return append(s[:len(s):len(s)], p)
}

// plain returns the value as one string when it has no wildcards or
// placeholders.
func (s sstring) plain() (string, bool) {
	var b strings.Builder
	for _, p := range s {
		if p.kind != partLit {
			return "", false
		}
		b.WriteString(p.text)
	}
	return b.String(), true
}

// wrap puts * before and/or after s (contains, startswith, endswith).
func (s sstring) wrap(before, after bool) sstring {
	var out sstring
	if before {
		out = out.appendPart(part{kind: partStar})
	}
	for _, p := range s {
		out = out.appendPart(p)
	}
	if after {
		out = out.appendPart(part{kind: partStar})
	}
	return out
}

// String renders s back in Sigma syntax, for messages and tests.
func (s sstring) String() string {
	var b strings.Builder
	for _, p := range s {
		switch p.kind {
		case partStar:
			b.WriteByte('*')
		case partOne:
			b.WriteByte('?')
		case partPlaceholder:
			b.WriteString("%" + p.text + "%")
		default:
			r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)
			b.WriteString(r.Replace(p.text))
		}
	}
	return b.String()
}

// errTooManyVariants is returned when an expansion exceeds MaxVariants.
var errTooManyVariants = fmt.Errorf("expands to more than %d values", MaxVariants)

// windashChars are the characters the windash modifier makes interchangeable:
// hyphen, slash, en dash, em dash and horizontal bar.
var windashChars = []sstring{literal("-"), literal("/"), literal("\u2013"), literal("\u2014"), literal("\u2015")}

func isWindash(r rune) bool {
	return r == '-' || r == '/' || r == '\u2013' || r == '\u2014' || r == '\u2015'
}

// choice is one position of a value being expanded: a fixed part, or a set
// of alternative values.
type choice struct {
	fixed part
	alts  []sstring
}

// expandChoices enumerates every combination of the choices, checking the
// count against MaxVariants first.
func expandChoices(cs []choice) ([]sstring, error) {
	total := 1
	for _, c := range cs {
		if c.alts != nil {
			if len(c.alts) == 0 {
				return nil, nil
			}
			total *= len(c.alts)
			if total > MaxVariants {
				return nil, errTooManyVariants
			}
		}
	}
	out := make([]sstring, 0, total)
	idx := make([]int, len(cs))
	for {
		var v sstring
		for i, c := range cs {
			if c.alts == nil {
				v = v.appendPart(c.fixed)
				continue
			}
			for _, p := range c.alts[idx[i]] {
				v = v.appendPart(p)
			}
		}
		if v == nil {
			v = sstring{}
		}
		out = append(out, v)
		// advance the odometer
		i := len(cs) - 1
		for ; i >= 0; i-- {
			if cs[i].alts == nil {
				continue
			}
			idx[i]++
			if idx[i] < len(cs[i].alts) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out, nil
		}
	}
}

// windash returns every variant of s in which each hyphen, slash or dash
// character is replaced by each of windashChars. Unlike pySigma, which only
// replaces a dash that starts a word, every occurrence is varied, as the
// specification describes; the result is a superset of pySigma's.
func windash(s sstring) ([]sstring, error) {
	var cs []choice
	for _, p := range s {
		if p.kind != partLit {
			cs = append(cs, choice{fixed: p})
			continue
		}
		start := 0
		for i, r := range p.text {
			if !isWindash(r) {
				continue
			}
			if i > start {
				cs = append(cs, choice{fixed: part{kind: partLit, text: p.text[start:i]}})
			}
			cs = append(cs, choice{alts: windashChars})
			start = i + utf8.RuneLen(r)
		}
		if start < len(p.text) {
			cs = append(cs, choice{fixed: part{kind: partLit, text: p.text[start:]}})
		}
	}
	return expandChoices(cs)
}

// expand replaces each placeholder of s by each of its values. A value may
// hold wildcards, which keep their meaning.
func expand(s sstring, values map[string][]string) ([]sstring, error) {
	var cs []choice
	var missing []string
	for _, p := range s {
		if p.kind != partPlaceholder {
			cs = append(cs, choice{fixed: p})
			continue
		}
		vs, ok := values[p.text]
		if !ok {
			missing = append(missing, "%"+p.text+"%")
			continue
		}
		alts := make([]sstring, len(vs))
		for i, v := range vs {
			alts[i] = parseString(v, false)
		}
		cs = append(cs, choice{alts: alts})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("placeholder %s has no values in the pipeline", strings.Join(missing, ", "))
	}
	return expandChoices(cs)
}

// errWildcards is returned by encodings that cannot carry wildcards.
var errWildcards = errors.New("value must not contain wildcards or placeholders")

// encodeBase64 returns the standard base64 form of a literal value.
func encodeBase64(s sstring) (sstring, error) {
	v, ok := s.plain()
	if !ok {
		return nil, errWildcards
	}
	return literal(base64.StdEncoding.EncodeToString([]byte(v))), nil
}

// encodeBase64Offset returns the three forms a literal takes inside a longer
// base64 text, at byte offsets 0, 1 and 2, with the characters that depend on
// the surrounding bytes cut off (as pySigma does).
func encodeBase64Offset(s sstring) ([]sstring, error) {
	v, ok := s.plain()
	if !ok {
		return nil, errWildcards
	}
	starts := [3]int{0, 2, 3}
	endCuts := [3]int{0, 3, 2}
	var out []sstring
	for i := range 3 {
		enc := base64.StdEncoding.EncodeToString(append([]byte(strings.Repeat(" ", i)), v...))
		lo, hi := starts[i], len(enc)-endCuts[(len(v)+i)%3]
		if lo < hi {
			out = append(out, literal(enc[lo:hi]))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("value is too short for base64offset")
	}
	return out, nil
}

// utf16Mode selects an encoding of the utf16 modifiers.
type utf16Mode uint8

const (
	utf16LE utf16Mode = iota
	utf16BE
	utf16BOM // byte order mark FF FE, then little endian
)

// encodeUTF16 encodes the literal runs of s as UTF-16, keeping wildcards.
func encodeUTF16(s sstring, mode utf16Mode) sstring {
	var out sstring
	first := true
	for _, p := range s {
		if p.kind != partLit {
			out = out.appendPart(p)
			continue
		}
		var b []byte
		if first && mode == utf16BOM {
			b = append(b, 0xFF, 0xFE)
		}
		first = false
		for _, u := range utf16.Encode([]rune(p.text)) {
			if mode == utf16BE {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
		out = out.appendPart(part{kind: partLit, text: string(b)})
	}
	if out == nil {
		out = sstring{}
	}
	return out
}
