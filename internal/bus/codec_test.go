package bus

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/wire"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	evs := makeEvents(3, 5)
	odd := event.Event{ID: "odd", Tenant: "t", Source: "http", Dataset: "x"} // no time
	odd.Set("message", event.StringValue("line one\nline two\r\n\"quoted\" \\ tab\t é 😀"))
	odd.Set("tags", event.Value{Kind: event.List, List: []event.Value{event.StringValue("a"), event.NumberValue(2)}})
	odd.Set("empty", event.Value{Kind: event.List})
	odd.Set("flag", event.BoolValue(true))
	odd.Set("nothing", event.Value{})
	evs = append(evs, odd)

	chunks, err := encodeBatch(evs, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 1 || chunks[0].events != len(evs) {
		t.Fatalf("got %d chunks, want 1 with %d events", len(chunks), len(evs))
	}
	got, bad := wire.NewDecoder(1 << 20).Decode(chunks[0].data)
	if bad != 0 || len(got) != len(evs) {
		t.Fatalf("decoded %d events, %d bad; want %d, 0", len(got), bad, len(evs))
	}
	for i := range evs {
		w, g := evs[i], got[i]
		if !w.Time.Equal(g.Time) {
			t.Errorf("event %d: time %v, want %v", i, g.Time, w.Time)
		}
		w.Time, g.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(w, g) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestEncodeSplits(t *testing.T) {
	evs := makeEvents(1, 1000)
	const max = 16 << 10
	chunks, err := encodeBatch(evs, max, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 10 {
		t.Fatalf("got %d chunks, want many", len(chunks))
	}
	var all []event.Event
	ids := map[string]bool{}
	dec := wire.NewDecoder(max)
	for i, c := range chunks {
		if len(c.data) > max {
			t.Errorf("chunk %d: %d bytes > %d", i, len(c.data), max)
		}
		if ids[c.id] {
			t.Errorf("chunk %d: repeated message ID", i)
		}
		ids[c.id] = true
		got, bad := dec.Decode(c.data)
		if bad != 0 || len(got) != c.events {
			t.Errorf("chunk %d: %d events, %d bad; want %d", i, len(got), bad, c.events)
		}
		all = append(all, got...)
	}
	if len(all) != len(evs) {
		t.Fatalf("got %d events back, want %d", len(all), len(evs))
	}
	for i := range evs {
		if all[i].ID != evs[i].ID {
			t.Fatalf("event %d: ID %s, want %s (order lost)", i, all[i].ID, evs[i].ID)
		}
	}
	again, _ := encodeBatch(evs, max, nil)
	for i := range chunks {
		if again[i].id != chunks[i].id {
			t.Fatalf("chunk %d: message ID not deterministic", i)
		}
	}
}

func TestEncodeTooLarge(t *testing.T) {
	evs := makeEvents(1, 3)
	evs[1].Set("message", event.StringValue(strings.Repeat("x", 20000)))
	if _, err := encodeBatch(evs, 16<<10, nil); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("err = %v, want ErrEventTooLarge", err)
	}
	if _, err := encodeBatch(evs[1:2], 16<<10, nil); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("single event: err = %v, want ErrEventTooLarge", err)
	}
}

func TestMsgID(t *testing.T) {
	a := makeEvents(1, 3)
	b := makeEvents(1, 3)
	b[0].Set("message", event.StringValue("changed")) // same IDs: same event
	if msgID(a, []byte("x")) != msgID(b, []byte("y")) {
		t.Error("same event IDs gave different message IDs")
	}
	if msgID(a, nil) == msgID(a[:2], nil) {
		t.Error("different event sets gave the same message ID")
	}
	noID := []event.Event{{}, {}}
	if msgID(noID, []byte("p1")) == msgID(noID, []byte("p2")) {
		t.Error("events without IDs: message ID must depend on the payload")
	}
}

func TestDecodeMessageSkipsBadLines(t *testing.T) {
	good := event.AppendJSON(nil, &makeEvents(1, 1)[0])
	tests := []struct {
		name      string
		data      []byte
		wantEvent int
		wantBad   int
	}{
		{"empty", nil, 0, 0},
		{"garbage", []byte("not json at all"), 0, 1},
		{"binary", []byte{0xff, 0xfe, 0, 1}, 0, 1},
		{"one good", good, 1, 0},
		{"bad line in the middle", bytes.Join([][]byte{good, []byte("{oops"), good}, []byte("\n")), 2, 1},
		{"trailing newline", append(append([]byte{}, good...), '\n'), 1, 1},
		{"non-finite number", []byte(`{"n":NaN}`), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, bad := wire.NewDecoder(1 << 20).Decode(tt.data)
			if len(evs) != tt.wantEvent || bad != tt.wantBad {
				t.Errorf("got %d events, %d bad; want %d, %d", len(evs), bad, tt.wantEvent, tt.wantBad)
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	chunks, _ := encodeBatch(makeEvents(1, 3), 1<<20, nil)
	f.Add(chunks[0].data)
	f.Add([]byte(`{"a":1}` + "\n" + `{"b":[1,{"c":2}]}`))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"mangrove.id":"x","@timestamp":"2026-01-01T00:00:00Z"}`))
	dec := wire.NewDecoder(1 << 20)
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, bad := dec.Decode(data)
		lines := 0
		if len(data) > 0 {
			lines = bytes.Count(data, []byte{'\n'}) + 1
		}
		if len(evs)+bad != lines {
			t.Fatalf("%d events + %d bad != %d lines", len(evs), bad, lines)
		}
		// What decodes re-encodes into a message that decodes the same.
		if len(evs) == 0 {
			return
		}
		cs, err := encodeBatch(evs, 1<<20, nil)
		if err != nil {
			return // re-encoding may grow past the limit
		}
		var again []event.Event
		for _, c := range cs {
			got, bad := dec.Decode(c.data)
			if bad != 0 {
				t.Fatalf("re-encoded events do not decode: %q", c.data)
			}
			again = append(again, got...)
		}
		if len(again) != len(evs) {
			t.Fatalf("re-encoded %d events, decoded %d", len(evs), len(again))
		}
	})
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		base      time.Duration
		delivered uint64
		want      time.Duration
	}{
		{time.Second, 0, time.Second},
		{time.Second, 1, time.Second},
		{time.Second, 2, 2 * time.Second},
		{time.Second, 4, 8 * time.Second},
		{time.Second, 7, time.Minute},
		{time.Second, 1 << 40, time.Minute},
		{10 * time.Millisecond, 3, 40 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := retryDelay(tt.base, tt.delivered); got != tt.want {
			t.Errorf("retryDelay(%s, %d) = %s, want %s", tt.base, tt.delivered, got, tt.want)
		}
	}
}
