package ioc

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits bound what a parser accepts. Zero fields take the defaults.
type Limits struct {
	MaxBytes      int // input size; default 512 MiB
	MaxIndicators int // indicators per set; default 5,000,000
	MaxValueLen   int // bytes of one value; default 4096
	MaxProblems   int // problems reported one by one before a summary; default 20
}

// DefaultLimits are the limits used when a field is zero.
var DefaultLimits = Limits{MaxBytes: 512 << 20, MaxIndicators: 5_000_000, MaxValueLen: 4096, MaxProblems: 20}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxIndicators <= 0 {
		l.MaxIndicators = DefaultLimits.MaxIndicators
	}
	if l.MaxValueLen <= 0 {
		l.MaxValueLen = DefaultLimits.MaxValueLen
	}
	if l.MaxProblems <= 0 {
		l.MaxProblems = DefaultLimits.MaxProblems
	}
	return l
}

// ErrTooLarge is returned for input beyond Limits.
var ErrTooLarge = errors.New("indicator set too large")

// builder adds indicators to a set and collects problems, reporting the
// first MaxProblems one by one and the rest as a count.
type builder struct {
	set      *Set
	lim      Limits
	src      string // default source
	problems []error
	more     int
	full     bool
}

func newBuilder(lim Limits, src string, sizeHint int) *builder {
	lim = lim.withDefaults()
	return &builder{set: NewSet(min(sizeHint, lim.MaxIndicators)), lim: lim, src: src}
}

func (b *builder) problem(err error) {
	if len(b.problems) < b.lim.MaxProblems {
		b.problems = append(b.problems, err)
		return
	}
	b.more++
}

// add adds in, naming where in a problem.
func (b *builder) add(where string, in Indicator) {
	if b.full {
		return
	}
	if len(in.Value) > b.lim.MaxValueLen {
		b.problem(fmt.Errorf("%s: %w: value of %d bytes, limit %d", where, ErrInvalid, len(in.Value), b.lim.MaxValueLen))
		return
	}
	if b.set.Len() >= b.lim.MaxIndicators {
		b.full = true
		b.problem(fmt.Errorf("%s: %w: more than %d indicators; the rest are ignored", where, ErrTooLarge, b.lim.MaxIndicators))
		return
	}
	if in.Source == "" {
		in.Source = b.src
	}
	if err := b.set.Add(in); err != nil {
		b.problem(fmt.Errorf("%s: %w", where, err))
	}
}

func (b *builder) result() (*Set, error) {
	if b.more > 0 {
		b.problems = append(b.problems, fmt.Errorf("%d more problems not shown", b.more))
	}
	return b.set, errors.Join(b.problems...)
}

// Infer guesses the type of a bare value: an address or CIDR block, a hex
// digest by its length, an e-mail address, a URL, else a domain.
func Infer(v string) Type {
	v = strings.TrimSpace(v)
	if _, err := netip.ParseAddr(v); err == nil {
		return IP
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		return IP
	}
	if strings.Trim(strings.ToLower(v), "0123456789abcdef") == "" {
		switch len(v) {
		case 32:
			return MD5
		case 40:
			return SHA1
		case 64:
			return SHA256
		}
	}
	if strings.Contains(v, "://") || strings.ContainsAny(v, "/?") {
		return URL
	}
	if strings.Contains(v, "@") {
		return Email
	}
	return Domain
}

// ParseCSV reads a CSV indicator set. The first non-comment row is a header
// naming the columns, in any order: value (or indicator, ioc), type, source,
// confidence (0..100), expires (RFC 3339 or YYYY-MM-DD; or expiry,
// valid_until). Only value is required; an empty or absent type is inferred
// from the value. Lines starting with # are comments. source is the default
// source for rows without one. Bad rows are reported (the first
// Limits.MaxProblems one by one, with their line) and skipped; the returned
// set holds every good row.
func ParseCSV(r io.Reader, source string, lim Limits) (*Set, error) {
	lim = lim.withDefaults()
	data, err := readLimited(r, lim)
	if err != nil {
		return nil, err
	}
	return parseCSV(data, source, lim)
}

func parseCSV(data []byte, source string, lim Limits) (*Set, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	b := newBuilder(lim, source, bytes.Count(data, []byte{'\n'}))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err == io.EOF {
		return b.result()
	}
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	cols := map[string]int{"value": -1, "type": -1, "source": -1, "confidence": -1, "expires": -1}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "indicator", "ioc":
			h = "value"
		case "expiry", "valid_until", "expiration":
			h = "expires"
		case "indicator_type", "kind":
			h = "type"
		}
		if c, ok := cols[h]; ok && c < 0 {
			cols[h] = i
		}
	}
	if cols["value"] < 0 {
		return nil, fmt.Errorf("csv header %q: no value column (value, indicator or ioc)", strings.Join(head, ","))
	}
	get := func(rec []string, col string) string {
		if i := cols[col]; i >= 0 && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A csv.ParseError names its line; it may be followed by good
			// rows. Anything else ends the input.
			b.problem(err)
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		where := "line " + strconv.Itoa(line)
		v := get(rec, "value")
		if v == "" {
			continue
		}
		in := Indicator{Value: v, Source: get(rec, "source")}
		if t := get(rec, "type"); t != "" {
			if in.Type, err = ParseType(t); err != nil {
				b.problem(fmt.Errorf("%s: %w", where, err))
				continue
			}
		} else {
			in.Type = Infer(v)
		}
		if c := get(rec, "confidence"); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil || n < 0 || n > 100 {
				b.problem(fmt.Errorf("%s: confidence %q: want an integer 0..100", where, c))
				continue
			}
			in.Confidence = n
		}
		if e := get(rec, "expires"); e != "" {
			if in.Expires, err = parseTime(e); err != nil {
				b.problem(fmt.Errorf("%s: expires: %w", where, err))
				continue
			}
		}
		b.add(where, in)
	}
	return b.result()
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or YYYY-MM-DD", s)
}

func readLimited(r io.Reader, lim Limits) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(lim.MaxBytes)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	return data, nil
}

// flexString accepts a JSON string or number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	*f = flexString(bytes.Trim(b, " "))
	return nil
}

// flexBool accepts true/false, "1"/"0", "true"/"false" and 1/0.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(string(b), `" `) {
	case "true", "1":
		*f = true
	default:
		*f = false
	}
	return nil
}

type mispTag struct {
	Name string `json:"name"`
}

type mispAttr struct {
	Type    string     `json:"type"`
	Value   string     `json:"value"`
	ToIDs   *flexBool  `json:"to_ids"`
	Deleted flexBool   `json:"deleted"`
	Tag     []mispTag  `json:"Tag"`
	EventID flexString `json:"event_id"`
}

type mispEvent struct {
	Info          string     `json:"info"`
	ThreatLevelID flexString `json:"threat_level_id"`
	Orgc          struct {
		Name string `json:"name"`
	} `json:"Orgc"`
	Tag       []mispTag  `json:"Tag"`
	Attribute []mispAttr `json:"Attribute"`
	Object    []struct {
		Attribute []mispAttr `json:"Attribute"`
	} `json:"Object"`
}

type mispWrap struct {
	Event     *mispEvent `json:"Event"`
	Attribute []mispAttr `json:"Attribute"`
}

// ParseMISP reads a MISP JSON export: one event ({"Event": {...}}), a list
// of them, the REST search response ({"response": [...]}) or an attribute
// search ({"response": {"Attribute": [...]}}). Attributes with to_ids false
// or deleted are skipped, as are attribute types that are not indicators of
// a supported type (text, comment, ...). Source is the event's creator
// organisation (Orgc), else source. Confidence comes from a
// misp:confidence-level tag on the attribute or event, else from the
// event's threat level (high 90, medium 60, low 30). MISP exports carry no
// expiry: the indicators never expire.
func ParseMISP(r io.Reader, source string, lim Limits) (*Set, error) {
	lim = lim.withDefaults()
	data, err := readLimited(r, lim)
	if err != nil {
		return nil, err
	}
	return parseMISP(data, source, lim)
}

func parseMISP(data []byte, source string, lim Limits) (*Set, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	var top struct {
		mispWrap
		Response json.RawMessage `json:"response"`
	}
	var list []mispWrap
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("misp: %w", err)
		}
	default:
		if err := json.Unmarshal(trimmed, &top); err != nil {
			return nil, fmt.Errorf("misp: %w", err)
		}
		list = append(list, top.mispWrap)
		resp := bytes.TrimSpace(top.Response)
		if len(resp) > 0 && resp[0] == '[' {
			var more []mispWrap
			if err := json.Unmarshal(resp, &more); err != nil {
				return nil, fmt.Errorf("misp response: %w", err)
			}
			list = append(list, more...)
		} else if len(resp) > 0 && resp[0] == '{' {
			var one mispWrap
			if err := json.Unmarshal(resp, &one); err != nil {
				return nil, fmt.Errorf("misp response: %w", err)
			}
			list = append(list, one)
		}
	}
	if len(list) == 0 || (len(list) == 1 && list[0].Event == nil && list[0].Attribute == nil) {
		return nil, errors.New("misp: no Event or Attribute found (want a MISP JSON export)")
	}
	b := newBuilder(lim, source, len(data)/200)
	for ei, w := range list {
		if w.Attribute != nil {
			for ai, a := range w.Attribute {
				addMISP(b, fmt.Sprintf("attribute %d", ai), a, source, 0)
			}
		}
		if w.Event == nil {
			continue
		}
		ev := w.Event
		src := ev.Orgc.Name
		if src == "" {
			src = source
		}
		conf := tagConfidence(ev.Tag)
		if conf == 0 {
			conf = map[string]int{"1": 90, "2": 60, "3": 30}[string(ev.ThreatLevelID)]
		}
		for ai, a := range ev.Attribute {
			addMISP(b, fmt.Sprintf("event %d attribute %d", ei, ai), a, src, conf)
		}
		for oi, o := range ev.Object {
			for ai, a := range o.Attribute {
				addMISP(b, fmt.Sprintf("event %d object %d attribute %d", ei, oi, ai), a, src, conf)
			}
		}
	}
	return b.result()
}

func tagConfidence(tags []mispTag) int {
	levels := map[string]int{
		"completely-confident": 100, "usually-confident": 75, "fairly-confident": 50,
		"rarely-confident": 25, "unconfident": 10, "confidence-cannot-be-evaluated": 0,
	}
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t.Name, "misp:confidence-level="); ok {
			return levels[strings.Trim(v, `"`)]
		}
	}
	return 0
}

func addMISP(b *builder, where string, a mispAttr, src string, conf int) {
	if bool(a.Deleted) || (a.ToIDs != nil && !bool(*a.ToIDs)) {
		return
	}
	if c := tagConfidence(a.Tag); c > 0 {
		conf = c
	}
	left, right, pair := strings.Cut(a.Value, "|")
	add := func(t Type, v string) { b.add(where, Indicator{Type: t, Value: v, Source: src, Confidence: conf}) }
	switch a.Type {
	case "ip-src", "ip-dst":
		add(IP, a.Value)
	case "ip-src|port", "ip-dst|port", "hostname|port":
		if !pair {
			b.problem(fmt.Errorf("%s: %s value %q: want value|port", where, a.Type, a.Value))
			return
		}
		if a.Type == "hostname|port" {
			add(Domain, left)
		} else {
			add(IP, left)
		}
	case "domain", "hostname":
		add(Domain, a.Value)
	case "domain|ip":
		if !pair {
			b.problem(fmt.Errorf("%s: domain|ip value %q: want domain|ip", where, a.Value))
			return
		}
		add(Domain, left)
		add(IP, right)
	case "url":
		add(URL, a.Value)
	case "md5":
		add(MD5, a.Value)
	case "sha1":
		add(SHA1, a.Value)
	case "sha256":
		add(SHA256, a.Value)
	case "filename|md5", "filename|sha1", "filename|sha256":
		if !pair {
			b.problem(fmt.Errorf("%s: %s value %q: want filename|hash", where, a.Type, a.Value))
			return
		}
		t, _ := ParseType(strings.TrimPrefix(a.Type, "filename|"))
		add(t, right)
	case "email", "email-src", "email-dst", "email-reply-to", "whois-registrant-email":
		add(Email, a.Value)
	}
}
