package event

import (
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// AppendJSON appends the event as one flat JSON object (dotted keys, no
// newline): @timestamp, event.dataset and the mangrove.* metadata first, then
// the fields in name order. Elasticsearch accepts this form as is, and a
// trusted Decoder reads it back to an equal Event.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, '{')
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, k)
		dst = append(dst, ':')
	}
	if !e.Time.IsZero() {
		key(KeyTime)
		dst = append(dst, '"')
		dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	for _, m := range [...]struct{ k, v string }{
		{KeyDataset, e.Dataset}, {KeyID, e.ID}, {KeyTenant, e.Tenant}, {KeySource, e.Source},
	} {
		if m.v != "" {
			key(m.k)
			dst = appendString(dst, m.v)
		}
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		if shadowed(e, f.Name) {
			continue
		}
		key(f.Name)
		dst = appendValue(dst, &f.Value)
	}
	return append(dst, '}')
}

// shadowed reports whether a field has the name of metadata written for e, so
// that the encoding never holds a key twice.
func shadowed(e *Event, name string) bool {
	switch name {
	case KeyTime:
		return !e.Time.IsZero()
	case KeyDataset:
		return e.Dataset != ""
	case KeyID:
		return e.ID != ""
	case KeyTenant:
		return e.Tenant != ""
	case KeySource:
		return e.Source != ""
	}
	return false
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e Event) MarshalJSON() ([]byte, error) { return AppendJSON(nil, &e), nil }

func appendValue(dst []byte, v *Value) []byte {
	switch v.Kind {
	case String:
		return appendString(dst, v.Str)
	case Number:
		if v.Str != "" {
			return append(dst, v.Str...)
		}
		return strconv.AppendFloat(dst, v.Num, 'g', -1, 64)
	case Bool:
		return strconv.AppendBool(dst, v.Bool)
	case List:
		dst = append(dst, '[')
		for i := range v.List {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, &v.List[i])
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the bytes JSON takes as they are: printable ASCII
// other than '"' and '\\'.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainASCII8 reports whether the first 8 bytes of s (it must have them)
// need no escaping in JSON:
// each is in 0x20..0x7f and neither '"' nor '\\' (SWAR: a byte is flagged
// by its high bit in each test word).
func plainASCII8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8))
	quote, bslash := w^(ones*'"'), w^(ones*'\\')
	bad := w | // bytes ≥ 0x80
		(w - ones*0x20) | // bytes < 0x20 borrow into their high bit
		((quote - ones) &^ quote) | ((bslash - ones) &^ bslash) // zero bytes of the xors
	return bad&highs == 0
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Runs of eight printable ASCII bytes other than '"' and '\\' (nearly
		// all of a log line) are skipped a word at a time.
		for i+8 <= len(s) && plainASCII8(s[i:i+8]) {
			i += 8
		}
		for i < len(s) && plainASCII[s[i]] {
			i++
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
