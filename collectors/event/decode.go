package event

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Limits bound what one encoded event may hold. Zero fields take defaults.
type Limits struct {
	MaxBytes  int // size of one encoded event; default 1 MiB
	MaxDepth  int // nesting of objects and arrays; default 32
	MaxFields int // flattened fields after decoding; default 2048
}

// DefaultLimits are the limits used where none are given.
var DefaultLimits = Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxFields: 2048}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultLimits.MaxFields
	}
	return l
}

// Sentinel errors for callers that count rejections by cause.
var (
	ErrTooLarge    = errors.New("event too large")
	ErrTooDeep     = errors.New("event nested too deep")
	ErrTooMany     = errors.New("event has too many fields")
	ErrInvalidUTF8 = errors.New("event is not valid UTF-8")
	ErrNotObject   = errors.New("event is not a JSON object")
)

// SyntaxError is a malformed JSON input.
type SyntaxError struct {
	Offset int // byte offset in the input
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Decoder decodes JSON objects into Events, flattening nested objects into
// dotted field names. Nested arrays are flattened into one List; the fields of
// objects inside arrays become Lists under the object's path (as Elasticsearch
// does). Keys that occur more than once are merged into a List, so no value can
// hide behind a duplicate key. Field names come from InternName's table, so
// equal names of different events share one string.
//
// A Decoder is not safe for concurrent use; it reuses its buffers.
type Decoder struct {
	// Limits applies to every Decode call.
	Limits Limits
	// Trusted makes Decode read the mangrove.* metadata keys (the bus's own
	// encoding). When false, those keys are dropped: metadata of untrusted
	// input comes from the caller, never from the content.
	Trusted bool
	// TimeFields are tried in order for the event time when @timestamp is
	// absent; a field that parses stays in Fields.
	TimeFields []string

	entries []entry
	order   []int32  // build: entries by name, as indexes
	sorted  []*entry // build: entries by name
	names   []byte
	interns NameCache
}

type entry struct {
	name string
	v    Value
	list bool // came from an array: always a List
}

// Decode parses one JSON object into ev, replacing its fields. On untrusted
// input, ID, Tenant and Source keep the values the caller set before the call.
// Time is @timestamp when present, else the first TimeFields entry that parses,
// else left as the caller set it.
func (d *Decoder) Decode(data []byte, ev *Event) error {
	lim := d.Limits.withDefaults()
	if len(data) > lim.MaxBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	if !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	p := parser{s: string(data), lim: lim, d: d}
	d.entries = d.entries[:0]
	p.skipWS()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		if p.i >= len(p.s) {
			return &SyntaxError{Offset: p.i, Msg: "empty input"}
		}
		return ErrNotObject
	}
	p.i++
	if err := p.object(0, 1); err != nil {
		return err
	}
	p.skipWS()
	if p.i != len(p.s) {
		return &SyntaxError{Offset: p.i, Msg: "data after the object"}
	}
	return d.build(ev)
}

// build sorts and merges entries into ev.Fields and extracts metadata.
func (d *Decoder) build(ev *Event) error {
	// The entries are put in order of name (stable) through a permutation:
	// an entry is about 90 bytes, and sorting them moved kilobytes per
	// event.
	d.order = d.order[:0]
	for i := range d.entries {
		d.order = append(d.order, int32(i))
	}
	slices.SortFunc(d.order, func(a, b int32) int {
		if c := cmp.Compare(d.entries[a].name, d.entries[b].name); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	es := d.sorted[:0]
	for _, i := range d.order {
		es = append(es, &d.entries[i])
	}
	d.sorted = es
	n := 0
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].name == es[i].name {
			j++
		}
		n++
		i = j
	}
	if n > d.Limits.withDefaults().MaxFields {
		return fmt.Errorf("%w: %d, limit %d", ErrTooMany, n, d.Limits.withDefaults().MaxFields)
	}
	fields := make([]Field, 0, n)
	var tsSet bool
	for i := 0; i < len(es); {
		j := i + 1
		list := es[i].list
		for j < len(es) && es[j].name == es[i].name {
			list = list || es[j].list
			j++
		}
		var v Value
		if j-i == 1 && !list {
			v = es[i].v
		} else {
			v = Value{Kind: List}
			for _, e := range es[i:j] {
				if e.v.Kind == List {
					v.List = append(v.List, e.v.List...)
				} else {
					v.List = append(v.List, e.v)
				}
			}
		}
		name := es[i].name
		i = j
		switch name {
		case KeyTime:
			if t, ok := parseTime(v); ok {
				ev.Time, tsSet = t, true
				continue
			}
		case KeyDataset:
			if v.Kind == String {
				ev.Dataset = v.Str
				continue
			}
		case KeyID, KeyTenant, KeySource:
			if !d.Trusted {
				continue
			}
			switch name {
			case KeyID:
				ev.ID = v.Text()
			case KeyTenant:
				ev.Tenant = v.Text()
			case KeySource:
				ev.Source = v.Text()
			}
			continue
		}
		// Nested names were interned as they were built.
		fields = append(fields, Field{Name: d.interns.Intern(name), Value: v})
	}
	ev.Fields = fields
	if !tsSet {
		for _, f := range d.TimeFields {
			if v, ok := ev.Get(f); ok {
				if t, ok := parseTime(v); ok {
					ev.Time = t
					break
				}
			}
		}
	}
	return nil
}

// timeLayouts are the textual time formats found in the logs a SOC receives.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05",
}

// parseTime reads an RFC 3339-like string or a number of epoch milliseconds.
// Times without a zone are UTC.
func parseTime(v Value) (time.Time, bool) {
	switch v.Kind {
	case String:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, v.Str); err == nil {
				return t.UTC(), true
			}
		}
	case Number:
		if v.Num > 0 && v.Num < 1e15 {
			return time.UnixMilli(int64(v.Num)).UTC(), true
		}
	}
	return time.Time{}, false
}

type parser struct {
	s   string
	i   int
	lim Limits
	d   *Decoder
}

func (p *parser) errf(msg string) error { return &SyntaxError{Offset: p.i, Msg: msg} }

func (p *parser) skipWS() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) emit(name string, v Value, list bool) error {
	if len(p.d.entries) >= p.lim.MaxFields*4 {
		return fmt.Errorf("%w: more than %d values", ErrTooMany, p.lim.MaxFields*4)
	}
	p.d.entries = append(p.d.entries, entry{name: name, v: v, list: list})
	return nil
}

// object parses members after '{'. prefixLen is the length of the dotted
// prefix in d.names (0 at top level).
func (p *parser) object(prefixLen, depth int) error {
	if depth > p.lim.MaxDepth {
		return fmt.Errorf("%w: limit %d", ErrTooDeep, p.lim.MaxDepth)
	}
	p.skipWS()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.skipWS()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return p.errf("expected a string key")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.skipWS()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return p.errf("expected ':' after key")
		}
		p.i++
		names := p.d.names[:prefixLen]
		if prefixLen > 0 {
			names = append(names, '.')
		}
		names = append(names, key...)
		p.d.names = names
		name := "" // top-level keys need no copy: they are substrings of the input
		if prefixLen == 0 {
			name = key
		}
		if err := p.value(name, len(names), depth, false); err != nil {
			return err
		}
		p.skipWS()
		if p.i >= len(p.s) {
			return p.errf("unterminated object")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errf("expected ',' or '}'")
		}
	}
}

// value parses one value named d.names[:nameLen], or name when not empty.
func (p *parser) value(name string, nameLen, depth int, inList bool) error {
	p.skipWS()
	if p.i >= len(p.s) {
		return p.errf("unexpected end of input")
	}
	c := p.s[p.i]
	var v Value
	switch {
	case c == '{':
		p.i++
		return p.object(nameLen, depth+1)
	case c == '[':
		p.i++
		return p.array(name, nameLen, depth+1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		v = Value{Kind: String, Str: s}
	case c == '-' || (c >= '0' && c <= '9'):
		lit, err := p.number()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			// Only out-of-range values get here; keep the literal.
			f = 0
		}
		v = Value{Kind: Number, Num: f, Str: lit}
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		v = Value{Kind: Bool, Bool: true}
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		v = Value{Kind: Bool}
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		v = Value{Kind: Null}
	default:
		return p.errf("unexpected character " + strconv.QuoteRune(rune(c)))
	}
	if name == "" {
		name = p.d.interns.internBytes(p.d.names[:nameLen])
	}
	return p.emit(name, v, inList)
}

func (p *parser) array(name string, nameLen, depth int) error {
	if depth > p.lim.MaxDepth {
		return fmt.Errorf("%w: limit %d", ErrTooDeep, p.lim.MaxDepth)
	}
	p.skipWS()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		// An empty array is still a List, so it survives a round trip.
		if name == "" {
			name = p.d.interns.internBytes(p.d.names[:nameLen])
		}
		return p.emit(name, Value{Kind: List}, true)
	}
	for {
		// Element values may grow d.names; keep our prefix.
		p.d.names = p.d.names[:nameLen]
		if err := p.value(name, nameLen, depth, true); err != nil {
			return err
		}
		p.skipWS()
		if p.i >= len(p.s) {
			return p.errf("unterminated array")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.errf("expected ',' or ']'")
		}
	}
}

// str parses a string starting at '"'. Without escapes it returns a substring
// of the input, which costs no allocation.
func (p *parser) str() (string, error) {
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			return p.s[start:j], nil
		case c == '\\':
			return p.strEscaped(start, j)
		case c < 0x20:
			p.i = j
			return "", p.errf("control character in string")
		}
	}
	p.i = len(p.s)
	return "", p.errf("unterminated string")
}

// strEscaped parses the rest of a string from its first escape at j. The
// result is built in its own buffer, which becomes the string without a
// second copy; the runs between escapes are copied whole.
func (p *parser) strEscaped(start, j int) (string, error) {
	b := make([]byte, 0, j-start+16)
	b = append(b, p.s[start:j]...)
	for j < len(p.s) {
		// The run up to the next quote, backslash or control byte.
		k := j
		for k < len(p.s) && p.s[k] != '"' && p.s[k] != '\\' && p.s[k] >= 0x20 {
			k++
		}
		b = append(b, p.s[j:k]...)
		if j = k; j >= len(p.s) {
			break
		}
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			if len(b) == 0 {
				return "", nil
			}
			return unsafe.String(&b[0], len(b)), nil
		case c < 0x20:
			p.i = j
			return "", p.errf("control character in string")
		}
		if j+1 >= len(p.s) {
			break
		}
		switch e := p.s[j+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n, ok := hex4(p.s, j+2)
			if !ok {
				p.i = j
				return "", p.errf("invalid \\u escape")
			}
			j += n
			if utf16.IsSurrogate(r) {
				r2, n2, ok2 := -1, 0, false
				if j+2 < len(p.s) && p.s[j+2] == '\\' && j+3 < len(p.s) && p.s[j+3] == 'u' {
					var rr rune
					rr, n2, ok2 = hex4(p.s, j+4)
					r2 = int(rr)
				}
				if dec := utf16.DecodeRune(r, rune(r2)); ok2 && dec != utf8.RuneError {
					r = dec
					j += 2 + n2
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			p.i = j
			return "", p.errf("invalid escape")
		}
		j += 2
	}
	p.i = len(p.s)
	return "", p.errf("unterminated string")
}

// hex4 reads four hex digits at s[i:]; n is how many bytes past the "\u"
// prefix were consumed beyond the two of the escape itself.
func hex4(s string, i int) (rune, int, bool) {
	if i+4 > len(s) {
		return 0, 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, 0, false
		}
	}
	return r, 4, true
}

// number scans a JSON number and returns its literal.
func (p *parser) number() (string, error) {
	start := p.i
	j := p.i
	if j < len(p.s) && p.s[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		return j - k
	}
	if j < len(p.s) && p.s[j] == '0' {
		j++
	} else if digits() == 0 {
		p.i = j
		return "", p.errf("invalid number")
	}
	if j < len(p.s) && p.s[j] == '.' {
		j++
		if digits() == 0 {
			p.i = j
			return "", p.errf("invalid number")
		}
	}
	if j < len(p.s) && (p.s[j] == 'e' || p.s[j] == 'E') {
		j++
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		if digits() == 0 {
			p.i = j
			return "", p.errf("invalid number")
		}
	}
	p.i = j
	return p.s[start:j], nil
}
