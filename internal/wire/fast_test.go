package wire

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// TestFastDecoderAcceptsCanonical checks that the fast path takes what
// event.AppendJSON writes (but \u escapes) and agrees with event.Decoder.
func TestFastDecoderAcceptsCanonical(t *testing.T) {
	evs := testEvents(20)
	odd := event.Event{ID: "x", Tenant: "t"}
	odd.Set("", event.StringValue("empty name"))
	odd.Set("path", event.StringValue(`C:\Windows\System32 "quoted" line1`+"\n\tline2 é 😀"))
	odd.Set("tags", event.Value{Kind: event.List, List: []event.Value{
		event.StringValue("a"), event.NumberValue(-1.5e3), event.BoolValue(false), {},
	}})
	odd.Set("empty", event.Value{Kind: event.List})
	odd.Set("big", event.Value{Kind: event.Number, Str: "1e999"})
	evs = append(evs, odd, event.Event{})
	for i := range evs {
		line := string(event.AppendJSON(nil, &evs[i]))
		var fd fastDecoder
		fd.reset(1, len(line))
		var got event.Event
		if !fd.decode(line, &got) {
			t.Errorf("fast path declined canonical line %s", line)
			continue
		}
		checkSameAsDecoder(t, line, &got)
	}
}

func TestFastDecoderDeclines(t *testing.T) {
	for _, line := range []string{
		``, `{`, `{}x`, ` {}`, `{"a":1 }`, `{"b":1,"a":2}`, `{"a":1,"a":2}`,
		`{"a":{"b":1}}`, `{"a":[[1]]}`, `{"a":[{"b":1}]}`, `{"a":"\u00e9"}`, `{"a\"b":1}`,
		`{"a":1,"mangrove.id":"x"}`, `{"mangrove.id":"x","@timestamp":"2026-01-01T00:00:00Z"}`,
		`{"@timestamp":1700000000000}`, `{"@timestamp":"2026-01-01 00:00:00"}`, `{"mangrove.id":1}`,
		`{"a":01}`, `{"a":tru}`, `{"a":"x` + "\x01" + `"}`, "{\"a\":\"\xff\"}", `{"a":-}`, `{"a":1.}`,
	} {
		var fd fastDecoder
		fd.reset(1, len(line))
		var ev event.Event
		if fd.decode(line, &ev) {
			t.Errorf("fast path accepted %q", line)
		}
		if len(fd.slab) != 0 {
			t.Errorf("%q: declined line left %d fields in the slab", line, len(fd.slab))
		}
	}
}

// FuzzFastDecoder checks that whatever the fast path accepts, event.Decoder
// decodes to the same Event.
func FuzzFastDecoder(f *testing.F) {
	for _, ev := range testEvents(3) {
		f.Add(string(event.AppendJSON(nil, &ev)))
	}
	for _, s := range []string{
		`{}`, `{"a":[]}`, `{"a":[1,"x",true,null]}`, `{"":"",".":"."}`, `{"a":"\\\"\/\b\f\n\r\t"}`,
		`{"@timestamp":"2026-11-25T10:00:00.5+07:00","event.dataset":"d","z":-0.0e-1}`,
		`{"mangrove.tenant":"t","mangrove.source":"s","a":1e999}`, `{"event.dataset":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.Contains(line, "\n") {
			return
		}
		var fd fastDecoder
		fd.reset(1, len(line))
		var got event.Event
		if fd.decode(line, &got) {
			checkSameAsDecoder(t, line, &got)
		}
	})
}

func checkSameAsDecoder(t *testing.T, line string, got *event.Event) {
	t.Helper()
	d := NewDecoder(1 << 20).slow
	var want event.Event
	if err := d.Decode([]byte(line), &want); err != nil {
		t.Fatalf("fast path accepted %q, event.Decoder: %v", line, err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("%q:\nfast    %+v\nDecoder %+v", line, *got, want)
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	const n = 1000
	data := payload(testEvents(n))
	b.Run("wire", func(b *testing.B) {
		d := NewDecoder(1 << 20)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if evs, bad := d.Decode(data); bad != 0 || len(evs) != n {
				b.Fatal(len(evs), bad)
			}
		}
	})
	b.Run("event.Decoder", func(b *testing.B) {
		d := NewDecoder(1 << 20).slow
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			evs := make([]event.Event, n)
			rest := data
			for i := range evs {
				line := rest
				if j := bytes.IndexByte(rest, '\n'); j >= 0 {
					line, rest = rest[:j], rest[j+1:]
				}
				if err := d.Decode(line, &evs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// testEvents returns n firewall and process events, half of them with
// texts that need escapes (Windows paths, quotes, line breaks).
func testEvents(n int) []event.Event {
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	evs := make([]event.Event, n)
	for i := range evs {
		raw := fmt.Sprintf("ev-%d", i)
		ev := event.Event{
			ID:      event.NewID("so-tttt", []byte(raw)),
			Time:    base.Add(time.Duration(i) * time.Millisecond),
			Tenant:  "so-tttt",
			Source:  "syslog-fw",
			Dataset: "fortinet.firewall",
		}
		ev.Set("seq", event.NumberValue(float64(i)))
		ev.Set("source.ip", event.StringValue(fmt.Sprintf("10.0.%d.%d", i/250, i%250)))
		ev.Set("destination.port", event.NumberValue(443))
		ev.Set("event.action", event.StringValue("accept"))
		if i%2 == 1 {
			ev.Dataset = "windows.sysmon"
			ev.Set("Image", event.StringValue(fmt.Sprintf(`C:\Windows\System32\tool%d.exe`, i)))
			ev.Set("CommandLine", event.StringValue(fmt.Sprintf(`"C:\Windows\System32\tool%d.exe" /c "echo %d"`, i, i)))
			ev.Set("Message", event.StringValue("Process Create:\r\n\tRuleName: -\r\n\tUser: NT AUTHORITY\\SYSTEM"))
		}
		evs[i] = ev
	}
	return evs
}

// payload encodes events as one message payload.
func payload(evs []event.Event) []byte {
	var b []byte
	for i := range evs {
		if i > 0 {
			b = append(b, '\n')
		}
		b = event.AppendJSON(b, &evs[i])
	}
	return b
}

// TestDecodeRoundTrip decodes a payload of many events, half with escaped
// texts (built in the message's arena), and checks every event, so that no
// text overwrote another; then decodes a second payload and checks that
// the first events did not change.
func TestDecodeRoundTrip(t *testing.T) {
	d := NewDecoder(1 << 20)
	check := func(got, want []event.Event) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("decoded %d events, want %d", len(got), len(want))
		}
		for i := range want {
			w, g := want[i], got[i]
			if !w.Time.Equal(g.Time) {
				t.Errorf("event %d: time %v, want %v", i, g.Time, w.Time)
			}
			w.Time, g.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("event %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
	}
	first := testEvents(300)
	got1, bad := d.Decode(payload(first))
	if bad != 0 {
		t.Fatalf("%d bad", bad)
	}
	check(got1, first)
	second := testEvents(301)[1:]
	got2, _ := d.Decode(payload(second))
	check(got2, second)
	check(got1, first)
}
