package parse

import (
	"errors"
	"strings"
	"sync"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

var decoders = sync.Pool{New: func() any {
	return &event.Decoder{TimeFields: []string{"timestamp", "time", "EventTime", "TimeCreated", "Event.System.TimeCreated.#attributes.SystemTime"}}
}}

// parseJSON reads a message that is a JSON object (the event.Decoder's
// limits apply): its fields are added to the event, replacing fields of the
// same name; its time, when it has one, becomes the event time. The raw
// object moves to event.original and message becomes the object's own
// message field, if any. A Windows event in any of its shapes is then
// normalized as the windows parser does, and a text message inside the
// object in a format Detect knows is parsed by that parser. An event whose message is not a
// JSON object passes through (Windows shapes are still normalized). Metadata keys (mangrove.*) of the
// input are dropped.
func parseJSON(ev *event.Event, msg string) error {
	raw := strings.TrimSpace(msg)
	if !strings.HasPrefix(raw, "{") {
		// Already structured (an HTTP or bulk input): pass through.
		if isWindows(ev) {
			return parseWindows(ev, "")
		}
		return nil
	}
	d := decoders.Get().(*event.Decoder)
	defer decoders.Put(d)
	var in event.Event
	if err := d.Decode([]byte(raw), &in); err != nil {
		return err
	}
	ev.Delete("message")
	ev.Set("event.original", event.StringValue(raw))
	for _, f := range in.Fields {
		ev.Set(f.Name, f.Value)
	}
	if !in.Time.IsZero() {
		ev.Time = in.Time
	}
	if in.Dataset != "" && ev.Dataset == "" {
		ev.Dataset = in.Dataset
	}
	if isWindows(ev) {
		return parseWindows(ev, "")
	}
	// A shipper's JSON around a text line (Filebeat, Fluent Bit): parse the
	// inner message too when its format is recognized.
	if name := Detect(ev); name != "" && name != "json" {
		if err := parsers[name](ev, ev.Message()); err != nil && !errors.Is(err, ErrNoMatch) {
			return err
		}
	}
	return nil
}
