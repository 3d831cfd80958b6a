package ioc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

type stixObject struct {
	Type         string       `json:"type"`
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Pattern      string       `json:"pattern"`
	PatternType  string       `json:"pattern_type"`
	ValidUntil   string       `json:"valid_until"`
	Confidence   *int         `json:"confidence"`
	Revoked      bool         `json:"revoked"`
	CreatedByRef string       `json:"created_by_ref"`
	Objects      []stixObject `json:"objects"`
}

// ParseSTIX reads a STIX 2.1 bundle (or a single indicator object, or a
// JSON array of objects). Each indicator object with pattern_type stix (or
// none) contributes the comparisons of its pattern: observation expressions
// joined by OR, each holding comparisons joined by OR, of the form
// `<path> = '<value>'` (or ISSUBSET for an address block) on ipv4-addr:value,
// ipv6-addr:value, domain-name:value, url:value, email-addr:value,
// email-message:from_ref.value, file:hashes.MD5 / 'SHA-1' / 'SHA-256'.
// Patterns using AND, other operators, other objects or qualifiers are
// reported with errors.ErrUnsupported and skipped. Revoked indicators are
// skipped; valid_until is the expiry; confidence (0..100) is kept; the
// source is the name of the identity in created_by_ref, else source.
func ParseSTIX(r io.Reader, source string, lim Limits) (*Set, error) {
	lim = lim.withDefaults()
	data, err := readLimited(r, lim)
	if err != nil {
		return nil, err
	}
	return parseSTIX(data, source, lim)
}

func parseSTIX(data []byte, source string, lim Limits) (*Set, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	var (
		objs []stixObject
		err  error
	)
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(trimmed, &objs)
	} else {
		var top stixObject
		err = json.Unmarshal(trimmed, &top)
		if top.Type == "bundle" {
			objs = top.Objects
		} else {
			objs = []stixObject{top}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stix: %w", err)
	}
	names := map[string]string{}
	for _, o := range objs {
		if o.Type == "identity" && o.Name != "" {
			names[o.ID] = o.Name
		}
	}
	b := newBuilder(lim, source, len(objs))
	found := false
	for i, o := range objs {
		if o.Type != "indicator" {
			continue
		}
		found = true
		where := fmt.Sprintf("objects[%d] %s", i, o.ID)
		if o.Revoked {
			continue
		}
		if o.PatternType != "" && o.PatternType != "stix" {
			b.problem(fmt.Errorf("%s: pattern_type %q: %w", where, o.PatternType, errors.ErrUnsupported))
			continue
		}
		in := Indicator{Source: names[o.CreatedByRef]}
		if o.Confidence != nil {
			if *o.Confidence < 0 || *o.Confidence > 100 {
				b.problem(fmt.Errorf("%s: confidence %d: want 0..100", where, *o.Confidence))
				continue
			}
			in.Confidence = *o.Confidence
		}
		if o.ValidUntil != "" {
			t, err := time.Parse(time.RFC3339Nano, o.ValidUntil)
			if err != nil {
				b.problem(fmt.Errorf("%s: valid_until: %w", where, err))
				continue
			}
			in.Expires = t
		}
		cmps, err := parsePattern(o.Pattern)
		if err != nil {
			b.problem(fmt.Errorf("%s: pattern %q: %w", where, o.Pattern, err))
			continue
		}
		for _, c := range cmps {
			in.Type, in.Value = c.t, c.v
			b.add(where, in)
		}
	}
	if !found && len(objs) > 0 && b.set.Len() == 0 && len(b.problems) == 0 {
		return b.set, nil
	}
	return b.result()
}

type comparison struct {
	t Type
	v string
}

// maxPatternLen bounds one STIX pattern.
const maxPatternLen = 64 << 10

// parsePattern reads the supported subset of the STIX patterning language.
func parsePattern(p string) ([]comparison, error) {
	if len(p) > maxPatternLen {
		return nil, fmt.Errorf("%d bytes, limit %d", len(p), maxPatternLen)
	}
	s := scanner{s: p}
	var out []comparison
	for {
		s.ws()
		if !s.eat("[") {
			return nil, fmt.Errorf("offset %d: want '['", s.i)
		}
		for {
			c, err := s.comparison()
			if err != nil {
				return nil, err
			}
			out = append(out, c)
			s.ws()
			if s.eat("]") {
				break
			}
			if s.word("OR") {
				continue
			}
			if s.word("AND") {
				return nil, fmt.Errorf("AND: %w", errors.ErrUnsupported)
			}
			return nil, fmt.Errorf("offset %d: want OR or ']'", s.i)
		}
		s.ws()
		if s.i == len(s.s) {
			return out, nil
		}
		if s.word("OR") {
			continue
		}
		w := s.s[s.i:]
		if i := strings.IndexAny(w, " \t\r\n["); i > 0 {
			w = w[:i]
		}
		return nil, fmt.Errorf("%q: %w", w, errors.ErrUnsupported)
	}
}

type scanner struct {
	s string
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.s) && strings.IndexByte(" \t\r\n", s.s[s.i]) >= 0 {
		s.i++
	}
}

func (s *scanner) eat(tok string) bool {
	s.ws()
	if strings.HasPrefix(s.s[s.i:], tok) {
		s.i += len(tok)
		return true
	}
	return false
}

func (s *scanner) word(w string) bool {
	s.ws()
	if len(s.s)-s.i >= len(w) && strings.EqualFold(s.s[s.i:s.i+len(w)], w) {
		end := s.i + len(w)
		if end == len(s.s) || strings.IndexByte(" \t\r\n[('", s.s[end]) >= 0 {
			s.i = end
			return true
		}
	}
	return false
}

func (s *scanner) comparison() (comparison, error) {
	s.ws()
	start := s.i
	// The object path runs to the operator; quoted parts may hold spaces.
	for s.i < len(s.s) {
		c := s.s[s.i]
		if c == '\'' {
			j := strings.IndexByte(s.s[s.i+1:], '\'')
			if j < 0 {
				return comparison{}, fmt.Errorf("offset %d: unterminated quote", s.i)
			}
			s.i += j + 2
			continue
		}
		if c == ' ' || c == '\t' || c == '=' || c == '!' || c == '<' || c == '>' || c == ']' {
			break
		}
		s.i++
	}
	path := strings.ReplaceAll(s.s[start:s.i], `"`, `'`)
	s.ws()
	subset := false
	switch {
	case s.eat("="):
	case s.word("ISSUBSET"):
		subset = true
	default:
		op := s.s[s.i:]
		if i := strings.IndexAny(op, " \t'"); i > 0 {
			op = op[:i]
		}
		return comparison{}, fmt.Errorf("operator %q: %w", op, errors.ErrUnsupported)
	}
	s.ws()
	if !s.eat("'") {
		return comparison{}, fmt.Errorf("offset %d: want a quoted string", s.i)
	}
	var v strings.Builder
	for {
		if s.i >= len(s.s) {
			return comparison{}, errors.New("unterminated string")
		}
		c := s.s[s.i]
		s.i++
		if c == '\\' && s.i < len(s.s) {
			v.WriteByte(s.s[s.i])
			s.i++
			continue
		}
		if c == '\'' {
			break
		}
		v.WriteByte(c)
	}
	var t Type
	switch strings.ToLower(path) {
	case "ipv4-addr:value", "ipv6-addr:value", "network-traffic:dst_ref.value", "network-traffic:src_ref.value":
		t = IP
	case "domain-name:value":
		t = Domain
	case "url:value":
		t = URL
	case "email-addr:value", "email-message:from_ref.value", "email-message:sender_ref.value":
		t = Email
	case "file:hashes.md5", "file:hashes.'md5'":
		t = MD5
	case "file:hashes.'sha-1'", "file:hashes.sha1", "file:hashes.'sha1'":
		t = SHA1
	case "file:hashes.'sha-256'", "file:hashes.sha256", "file:hashes.'sha256'":
		t = SHA256
	default:
		return comparison{}, fmt.Errorf("object path %s: %w", path, errors.ErrUnsupported)
	}
	if subset != (t == IP && strings.Contains(v.String(), "/")) && subset {
		return comparison{}, fmt.Errorf("ISSUBSET on %s: %w", path, errors.ErrUnsupported)
	}
	return comparison{t: t, v: v.String()}, nil
}
