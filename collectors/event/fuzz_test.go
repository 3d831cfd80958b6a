package event

import (
	"bytes"
	"encoding/json"
	"testing"
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
