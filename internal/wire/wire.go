// Package wire decodes the payloads of bus messages: events encoded with
// event.AppendJSON, one per line, separated by '\n' (no trailing newline).
// AppendJSON escapes control characters inside strings, so a line is exactly
// one event.
//
// A consumer decodes each message with a Decoder. Its events are laid out
// for evaluation: their fields in one slab, their texts in one copy of the
// payload (escaped ones in one arena per message), so that an engine
// reading the events in order reads memory in order.
package wire

import (
	"strings"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// Decoder decodes message payloads. It is not safe for concurrent use.
type Decoder struct {
	fast fastDecoder
	slow event.Decoder
}

// NewDecoder returns the decoder for the payloads of messages of at most
// maxMsgBytes: trusted (the bus wrote the metadata) and with limits no
// smaller than what a message can hold, so that every event the publisher
// accepted decodes.
func NewDecoder(maxMsgBytes int) *Decoder {
	return &Decoder{slow: event.Decoder{
		Trusted: true,
		Limits:  event.Limits{MaxBytes: maxMsgBytes, MaxDepth: 64, MaxFields: maxMsgBytes},
	}}
}

// Decode decodes the events of one message payload. Lines that do not
// decode are skipped and counted in bad; a message without any decodable
// event is poison. The events' strings share one copy of data.
func (d *Decoder) Decode(data []byte) (events []event.Event, bad int) {
	if len(data) == 0 {
		return nil, 0
	}
	s := string(data)
	n := strings.Count(s, "\n") + 1
	events = make([]event.Event, 0, n)
	d.fast.reset(n, len(data))
	for start := 0; start <= len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		events = append(events, event.Event{})
		ev := &events[len(events)-1]
		if !d.fast.decode(s[start:end], ev) {
			*ev = event.Event{}
			if err := d.slow.Decode(data[start:end], ev); err != nil {
				events = events[:len(events)-1]
				bad++
			}
		}
		start = end + 1
	}
	return events, bad
}
