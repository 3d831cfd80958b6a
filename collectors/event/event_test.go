package event

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeFlattens(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]any // field name → Text() or []string for lists
	}{
		{"flat", `{"message":"hi","source.ip":"10.0.0.5"}`, map[string]any{"message": "hi", "source.ip": "10.0.0.5"}},
		{"nested", `{"source":{"ip":"10.0.0.5","port":22}}`, map[string]any{"source.ip": "10.0.0.5", "source.port": "22"}},
		{"nested equals dotted", `{"a":{"b":"x"},"c.d":"y"}`, map[string]any{"a.b": "x", "c.d": "y"}},
		{"list of scalars", `{"tags":["a","b"]}`, map[string]any{"tags": []string{"a", "b"}}},
		{"one element list stays list", `{"tags":["a"]}`, map[string]any{"tags": []string{"a"}}},
		{"nested lists flatten", `{"x":[1,[2,[3]]]}`, map[string]any{"x": []string{"1", "2", "3"}}},
		{"objects in lists", `{"dns":{"answers":[{"data":"1.1.1.1"},{"data":"8.8.8.8"}]}}`, map[string]any{"dns.answers.data": []string{"1.1.1.1", "8.8.8.8"}}},
		{"duplicate keys merge", `{"user":"a","user":"b"}`, map[string]any{"user": []string{"a", "b"}}},
		{"escapes", `{"m":"a\"b\\c\n\u00e9\ud83d\ude00"}`, map[string]any{"m": "a\"b\\c\né😀"}},
		{"literals", `{"t":true,"f":false,"n":null,"e":[]}`, map[string]any{"t": "true", "f": "false", "n": "", "e": []string{}}},
		{"numbers keep literal", `{"n":-1.50e3}`, map[string]any{"n": "-1.50e3"}},
		{"untrusted drops metadata", `{"mangrove.tenant":"evil","mangrove":{"id":"x"},"m":"ok"}`, map[string]any{"m": "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			ev := Event{Tenant: "t1"}
			if err := d.Decode([]byte(tt.in), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Tenant != "t1" {
				t.Errorf("tenant = %q, want caller's t1", ev.Tenant)
			}
			got := map[string]any{}
			for _, f := range ev.Fields {
				if f.Value.Kind == List {
					l := []string{}
					for _, e := range f.Value.List {
						l = append(l, e.Text())
					}
					got[f.Name] = l
				} else {
					got[f.Name] = f.Value.Text()
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error // nil means any *SyntaxError
	}{
		{"truncated", `{"a":"b`, Limits{}, nil},
		{"trailing", `{"a":1} x`, Limits{}, nil},
		{"not object", `[1,2]`, Limits{}, ErrNotObject},
		{"bare string", `"x"`, Limits{}, ErrNotObject},
		{"empty", ``, Limits{}, nil},
		{"bad number", `{"a":01}`, Limits{}, nil},
		{"bad literal", `{"a":tru}`, Limits{}, nil},
		{"control char", "{\"a\":\"x\x01\"}", Limits{}, nil},
		{"bad escape", `{"a":"\x"}`, Limits{}, nil},
		{"invalid utf8", "{\"a\":\"\xff\"}", Limits{}, ErrInvalidUTF8},
		{"too large", `{"a":"0123456789"}`, Limits{MaxBytes: 10}, ErrTooLarge},
		{"too deep", `{"a":{"b":{"c":1}}}`, Limits{MaxDepth: 2}, ErrTooDeep},
		{"too many", `{"a":1,"b":2,"c":3}`, Limits{MaxFields: 2}, ErrTooMany},
		{"missing colon", `{"a" 1}`, Limits{}, nil},
		{"missing comma", `{"a":1 "b":2}`, Limits{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decoder{Limits: tt.lim}
			var ev Event
			err := d.Decode([]byte(tt.in), &ev)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want *SyntaxError", err, err)
			}
		})
	}
}

func TestTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{`{"@timestamp":"2026-11-25T10:00:00.5+07:00"}`, time.Date(2026, 11, 25, 3, 0, 0, 5e8, time.UTC)},
		{`{"@timestamp":1764064800000}`, time.UnixMilli(1764064800000).UTC()},
		{`{"EventTime":"2020-09-22 01:07:24"}`, time.Date(2020, 9, 22, 1, 7, 24, 0, time.UTC)},
		{`{"Event":{"System":{"TimeCreated":{"SystemTime":"2021-04-20T09:10:11.123Z"}}}}`, time.Date(2021, 4, 20, 9, 10, 11, 123e6, time.UTC)},
	}
	for _, tt := range tests {
		d := Decoder{TimeFields: []string{"EventTime", "Event.System.TimeCreated.SystemTime"}}
		var ev Event
		if err := d.Decode([]byte(tt.in), &ev); err != nil {
			t.Fatal(err)
		}
		if !ev.Time.Equal(tt.want) {
			t.Errorf("%s: time = %v, want %v", tt.in, ev.Time, tt.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	in := `{"@timestamp":"2026-11-25T10:00:00Z","event.dataset":"windows.sysmon","host":{"name":"ws-01"},"process":{"command_line":"powershell -enc \"AA==\"\t","pid":4242},"tags":["x"],"n":null,"ok":true,"msg":"ti\u1ebfng Vi\u1ec7t \u0001"}`
	var d Decoder
	ev := Event{ID: "id1", Tenant: "so-tttt", Source: "http"}
	if err := d.Decode([]byte(in), &ev); err != nil {
		t.Fatal(err)
	}
	out := AppendJSON(nil, &ev)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	td := Decoder{Trusted: true}
	var back Event
	if err := td.Decode(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ev, back) {
		t.Errorf("round trip changed the event:\n got %+v\nwant %+v", back, ev)
	}
	if got := back.GetString("process.command_line"); got != "powershell -enc \"AA==\"\t" {
		t.Errorf("command line = %q", got)
	}
	if back.Dataset != "windows.sysmon" || back.Tenant != "so-tttt" {
		t.Errorf("metadata = %q %q", back.Dataset, back.Tenant)
	}
}

func TestSetGetDelete(t *testing.T) {
	var ev Event
	ev.Set("b", StringValue("2"))
	ev.Set("a", NumberValue(1))
	ev.Set("b", StringValue("3"))
	if len(ev.Fields) != 2 || ev.Fields[0].Name != "a" || ev.GetString("b") != "3" || ev.GetString("a") != "1" {
		t.Fatalf("fields = %+v", ev.Fields)
	}
	ev.Delete("a")
	if _, ok := ev.Get("a"); ok {
		t.Fatal("a still present")
	}
}

func TestBatchDoneOnce(t *testing.T) {
	var calls int
	var got error
	b := NewBatch(nil, func(err error) { calls++; got = err })
	first := errors.New("first")
	b.Done(first)
	b.Done(nil)
	if calls != 1 || got != first {
		t.Fatalf("calls = %d, err = %v", calls, got)
	}
}

func TestNewIDDeterministic(t *testing.T) {
	a, b := NewID("t", []byte("x")), NewID("t", []byte("x"))
	if a != b || len(a) != 32 {
		t.Fatalf("ids %q %q", a, b)
	}
	if NewID("t2", []byte("x")) == a || NewID("t", []byte("y")) == a {
		t.Fatal("id ignores tenant or content")
	}
	if strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("id %q not hex", a)
	}
}

func TestEncodeNeverDuplicatesMetadataKeys(t *testing.T) {
	// event.dataset that is not a string stays a field; the Dataset set by
	// the caller wins in the encoding.
	var d Decoder
	ev := Event{Dataset: "app", Time: time.Unix(1, 0)}
	if err := d.Decode([]byte(`{"event.dataset":5,"@timestamp":"not a time","a":1}`), &ev); err != nil {
		t.Fatal(err)
	}
	out := string(AppendJSON(nil, &ev))
	if strings.Count(out, `"event.dataset"`) != 1 || strings.Count(out, `"@timestamp"`) != 1 {
		t.Fatalf("duplicate keys: %s", out)
	}
}

func TestNewIDLongInput(t *testing.T) {
	// The stack-buffer and streaming paths hash the same bytes.
	long := []byte(strings.Repeat("x", 5000))
	h := sha256.Sum256(append([]byte("t\x00"), long...))
	if got, want := NewID("t", long), hex.EncodeToString(h[:16]); got != want {
		t.Fatalf("long input: %s, want %s", got, want)
	}
	short := []byte("short line")
	h = sha256.Sum256(append([]byte("t\x00"), short...))
	if got, want := NewID("t", short), hex.EncodeToString(h[:16]); got != want {
		t.Fatalf("short input: %s, want %s", got, want)
	}
}

// TestPlainASCII8 checks the word-at-a-time test against the byte-wise
// rule on every byte value in every position and on random words.
func TestPlainASCII8(t *testing.T) {
	plain := func(s string) bool {
		for i := range len(s) {
			if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	base := []byte("abcdefgh")
	for pos := range 8 {
		for c := range 256 {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			if got, want := plainASCII8(string(b)), plain(string(b)); got != want {
				t.Fatalf("%q: got %v, want %v", b, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		var b [8]byte
		for i := range b {
			// Mostly printable ASCII, sometimes anything.
			if rng.IntN(8) == 0 {
				b[i] = byte(rng.IntN(256))
			} else {
				b[i] = byte(0x20 + rng.IntN(0x60))
			}
		}
		if got, want := plainASCII8(string(b[:])), plain(string(b[:])); got != want {
			t.Fatalf("%q: got %v, want %v", b, got, want)
		}
	}
}

// TestFieldSlab checks that slices carved from one block stay independent:
// growing one never changes its neighbours, across block boundaries, for
// slices grown beyond their room and for requests too large for a block.
func TestFieldSlab(t *testing.T) {
	var s FieldSlab
	var got [][]Field
	for i := range 3 * SlabFields / 4 {
		n := 1 + i%5
		if i%97 == 0 {
			n = SlabFields/4 + 1 // its own slice
		}
		f := s.Room(n)
		for j := range n {
			f = append(f, Field{Name: fmt.Sprintf("f%03d", j), Value: StringValue(fmt.Sprint(i))})
		}
		if i%13 == 0 {
			f = append(f, make([]Field, SlabFields)...) // beyond the room: moves out
			f = f[:n]
		}
		got = append(got, s.Claim(f))
	}
	for i := range got {
		ev := Event{Fields: got[i]}
		ev.Set("zzz", StringValue(fmt.Sprint(i)))
	}
	for i, f := range got {
		for _, x := range f {
			if x.Value.Str != fmt.Sprint(i) {
				t.Fatalf("slice %d: field %s = %q, overwritten by a neighbour", i, x.Name, x.Value.Str)
			}
		}
	}
}

// TestPrefetch runs the prefetches on events of every kind of value, a
// text longer than their bound and an event without fields: they must not
// fault and must leave the events as they were.
func TestPrefetch(t *testing.T) {
	long := strings.Repeat("x", maxPrefetch+100)
	events := []Event{
		{},
		{Fields: []Field{}},
		{Fields: []Field{
			{Name: "a", Value: Value{Kind: String, Str: ""}},
			{Name: "b", Value: Value{Kind: String, Str: long}},
			{Name: "c", Value: Value{Kind: Number, Num: 3, Str: "3"}},
			{Name: "d", Value: Value{Kind: List, List: []Value{{Kind: String, Str: "x"}, {Kind: List}}}},
			{Name: "e", Value: Value{Kind: List, List: []Value{}}},
			{Name: "f", Value: Value{Kind: Null}},
		}},
	}
	var dec Decoder
	var ev Event
	if err := dec.Decode([]byte(`{"Event":{"System":{"EventID":1},"EventData":{"Image":"C:\\x.exe","List":[1,"a",[2]]}}}`), &ev); err != nil {
		t.Fatal(err)
	}
	events = append(events, ev)
	var before []string
	for i := range events {
		before = append(before, string(AppendJSON(nil, &events[i])))
	}
	for i := -3; i <= len(events); i++ {
		PrefetchAhead(events, i)
	}
	for i := range events {
		events[i].PrefetchFields()
		events[i].PrefetchValues()
	}
	for i := range events {
		if after := string(AppendJSON(nil, &events[i])); after != before[i] {
			t.Errorf("event %d changed: %s, was %s", i, after, before[i])
		}
	}
}
