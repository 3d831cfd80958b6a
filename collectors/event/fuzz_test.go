package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks that the decoder never panics, accepts exactly the JSON
// objects encoding/json accepts (within limits, for valid UTF-8), and that
// what it decodes survives an encode/decode round trip.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `{"a":{"b":[1,"x",{"c":null}]}}`, `{"m":"\u00e9\ud83d\ude00"}`,
		`{"@timestamp":"2026-11-25T10:00:00Z","event.dataset":"x"}`, `{}`, `[]`, `{"a":1e999}`,
		`{"a":"\ud800"}`, `{"a":-0.0e-1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		var ev Event
		err := d.Decode(data, &ev)
		var v map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdOK := dec.Decode(&v) == nil && v != nil && !dec.More()
		if err == nil && !stdOK {
			t.Fatalf("decoder accepted what encoding/json rejects: %q", data)
		}
		if err != nil {
			return
		}
		out := AppendJSON(nil, &ev)
		if !json.Valid(out) {
			t.Fatalf("encoder produced invalid JSON %q from %q", out, data)
		}
		td := Decoder{Trusted: true}
		var back Event
		if err := td.Decode(out, &back); err != nil {
			t.Fatalf("re-decoding %q: %v", out, err)
		}
		if len(back.Fields) != len(ev.Fields) {
			t.Fatalf("round trip changed field count %d → %d: %q", len(ev.Fields), len(back.Fields), out)
		}
	})
}

// FuzzAppendString checks the JSON string encoder against encoding/json:
// the output is valid JSON that decodes to s, with invalid UTF-8 as U+FFFD.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text long enough", `C:\Windows\System32\cmd.exe "quoted"`,
		"tab\there\nnewline\x00nul\x1f", "tiếng Việt có dấu", "bad \xff\xfe utf8", "\u2028\u2029", "12345678\"12345678\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, out, err)
		}
		var want strings.Builder // each invalid byte is one U+FFFD
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r)
			i += n
		}
		if back != want.String() {
			t.Fatalf("%q encodes to %s, which decodes to %q", s, out, back)
		}
	})
}
