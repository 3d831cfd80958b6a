package wire

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// The consumer's hot path. event.Decoder reads any JSON object; a bus line
// is a much narrower thing, the canonical output of event.AppendJSON: one
// flat object without whitespace, metadata keys first in a fixed order, then
// field names strictly increasing, values scalars or arrays of scalars.
// fastDecoder reads exactly that form about three times faster, taking
// strings as substrings of the message (one allocation per message instead
// of one per event) and fields from a shared slab. For anything else it
// declines and event.Decoder decodes the line, so event.Decoder alone
// defines the result: FuzzFastDecoder checks that whenever fastDecoder
// accepts a line, event.Decoder{Trusted: true} yields an equal Event.

// minArena is the size of the first block of a message's arena.
const minArena = 4 << 10

// metaKeys are the metadata keys in the order AppendJSON writes them.
var metaKeys = [...]string{event.KeyTime, event.KeyDataset, event.KeyID, event.KeyTenant, event.KeySource}

// fastDecoder decodes canonical lines. It is not safe for concurrent use.
type fastDecoder struct {
	slab []event.Field // fields handed out as sub-slices
	// arena holds the texts that had escapes, one after the other, in
	// blocks that double (from minArena, up to the message's size) instead
	// of an allocation per text, so that an event's texts lie near each
	// other. A text is built at the end of the block, which must have room
	// for the rest of its line (unescaping only shortens). It is
	// append-only and never reused: the strings point into it.
	arena    []byte
	size     int // of the message
	perEvent int // fields per event in the previous message
	events   int // events expected in the current message
	names    event.NameCache
}

// decode decodes line, a substring of the message, into ev (which must be
// zero). It returns false when line is not in canonical form; ev is then
// unspecified.
func (d *fastDecoder) decode(line string, ev *event.Event) bool {
	start := len(d.slab)
	if !d.parse(line, ev) {
		d.slab = d.slab[:start]
		return false
	}
	ev.Fields = d.slab[start:len(d.slab):len(d.slab)]
	return true
}

func (d *fastDecoder) parse(line string, ev *event.Event) bool {
	if !utf8.ValidString(line) {
		return false
	}
	p := fastParser{s: line, d: d}
	if !p.eat('{') {
		return false
	}
	start := len(d.slab)
	meta := 0 // index into metaKeys of the next allowed metadata key
	prev := ""
	ok := p.eat('}')
	for !ok {
		key, good := p.key()
		if !good {
			return false
		}
		if m := metaIndex(key); m >= 0 {
			// Metadata: only before any field, in order, as a string.
			if m < meta || len(d.slab) > start {
				return false
			}
			meta = m + 1
			s, good := p.str()
			if !good || !setMeta(ev, m, s) {
				return false
			}
		} else {
			if len(d.slab) > start && key <= prev {
				return false
			}
			prev = key
			v, good := p.value()
			if !good {
				return false
			}
			// Interned like event.Decoder's: equal names of different
			// events share one string.
			d.slab = append(d.slab, event.Field{Name: d.names.Intern(key), Value: v})
		}
		switch {
		case p.eat(','):
		case p.eat('}'):
			ok = true
		default:
			return false
		}
	}
	return p.i == len(p.s)
}

// reset prepares the slab for a message of n lines and size bytes, sized by
// the previous message but never beyond what size bytes can hold (a field
// takes at least 5 bytes). Fields handed out earlier stay valid: the slab is
// replaced, never overwritten.
func (d *fastDecoder) reset(n, size int) {
	if d.events > 0 {
		d.perEvent = len(d.slab)/d.events + 1
	}
	d.slab = make([]event.Field, 0, min(n*max(d.perEvent, 4), size/5+1))
	d.events = n
	d.arena, d.size = nil, size
}

func metaIndex(key string) int {
	for i, k := range metaKeys {
		if key == k {
			return i
		}
	}
	return -1
}

// setMeta sets metadata m of ev from s as event.Decoder does.
func setMeta(ev *event.Event, m int, s string) bool {
	switch metaKeys[m] {
	case event.KeyTime:
		// event.Decoder tries RFC 3339 first; AppendJSON writes it.
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return false
		}
		ev.Time = t.UTC()
	case event.KeyDataset:
		ev.Dataset = s
	case event.KeyID:
		ev.ID = s
	case event.KeyTenant:
		ev.Tenant = s
	case event.KeySource:
		ev.Source = s
	}
	return true
}

type fastParser struct {
	s string
	i int
	d *fastDecoder // its arena
}

func (p *fastParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// key reads `"name":`; names with escapes are declined.
func (p *fastParser) key() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	j := strings.IndexByte(p.s[p.i:], '"')
	if j < 0 {
		return "", false
	}
	k := p.s[p.i : p.i+j]
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] == '\\' {
			return "", false
		}
	}
	p.i += j + 1
	return k, p.eat(':')
}

// str reads a string value. Simple escapes are decoded into a new string;
// \u escapes are declined.
func (p *fastParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for j := start; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			return p.s[start:j], true
		case c == '\\':
			return p.strEscaped(start, j)
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

func (p *fastParser) strEscaped(start, j int) (string, bool) {
	d := p.d
	if need := len(p.s) - start; cap(d.arena)-len(d.arena) < need {
		// A new block, twice the last (the strings keep the old one):
		// the escaped texts of a message are usually a small part of it.
		d.arena = make([]byte, 0, max(need, min(2*cap(d.arena), d.size), minArena))
	}
	b := d.arena[len(d.arena):len(d.arena)]
	b = append(b, p.s[start:j]...)
	for j < len(p.s) {
		// The run up to the next quote, backslash or control byte, whole.
		k := j
		for k < len(p.s) && p.s[k] != '"' && p.s[k] != '\\' && p.s[k] >= 0x20 {
			k++
		}
		b = append(b, p.s[j:k]...)
		if j = k; j >= len(p.s) {
			return "", false
		}
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			d.arena = d.arena[:len(d.arena)+len(b)]
			return unsafe.String(unsafe.SliceData(b), len(b)), true
		case c < 0x20:
			return "", false
		}
		if j+1 >= len(p.s) {
			return "", false
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
		default:
			return "", false
		}
		j += 2
	}
	return "", false
}

// value reads a scalar or an array of scalars.
func (p *fastParser) value() (event.Value, bool) {
	if !p.eat('[') {
		return p.scalar()
	}
	v := event.Value{Kind: event.List}
	if p.eat(']') {
		return v, true
	}
	for {
		e, ok := p.scalar()
		if !ok {
			return event.Value{}, false
		}
		v.List = append(v.List, e)
		switch {
		case p.eat(','):
		case p.eat(']'):
			return v, true
		default:
			return event.Value{}, false
		}
	}
}

func (p *fastParser) scalar() (event.Value, bool) {
	if p.i >= len(p.s) {
		return event.Value{}, false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		s, ok := p.str()
		return event.Value{Kind: event.String, Str: s}, ok
	case c == '-' || c >= '0' && c <= '9':
		lit, ok := p.number()
		if !ok {
			return event.Value{}, false
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			f = 0 // out of range: event.Decoder keeps the literal only
		}
		return event.Value{Kind: event.Number, Num: f, Str: lit}, true
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		return event.Value{Kind: event.Bool, Bool: true}, true
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		return event.Value{Kind: event.Bool}, true
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		return event.Value{Kind: event.Null}, true
	}
	return event.Value{}, false
}

// number scans a JSON number literal.
func (p *fastParser) number() (string, bool) {
	start, j := p.i, p.i
	digits := func() int {
		k := j
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		return j - k
	}
	if j < len(p.s) && p.s[j] == '-' {
		j++
	}
	if j < len(p.s) && p.s[j] == '0' {
		j++
	} else if digits() == 0 {
		return "", false
	}
	if j < len(p.s) && p.s[j] == '.' {
		j++
		if digits() == 0 {
			return "", false
		}
	}
	if j < len(p.s) && (p.s[j] == 'e' || p.s[j] == 'E') {
		j++
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		if digits() == 0 {
			return "", false
		}
	}
	p.i = j
	return p.s[start:j], true
}
