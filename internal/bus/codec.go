package bus

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// A bus message's payload is the events of (part of) one batch, each encoded
// with event.AppendJSON and separated by '\n' (no trailing newline).
// AppendJSON escapes control characters inside strings, so a line is exactly
// one event. The consumer reads it back with a wire.Decoder.

// chunk is one encoded bus message.
type chunk struct {
	data   []byte
	id     string // Nats-Msg-Id
	events int
}

// encodeBatch splits events into chunks whose payloads are at most maxPayload
// bytes, keeping the events' order. It fails with ErrEventTooLarge when one
// event alone does not fit. getBuf, when not nil, supplies empty buffers to
// encode into (a pool's); the returned chunks own them.
func encodeBatch(events []event.Event, maxPayload int, getBuf func() []byte) ([]chunk, error) {
	var out []chunk
	newBuf := func(remaining int) []byte {
		if getBuf != nil {
			return getBuf()
		}
		// ~400 bytes per event is typical; cap the guess at one message.
		return make([]byte, 0, min(maxPayload, 400*remaining+1024))
	}
	buf := newBuf(len(events))
	first := 0
	for i := range events {
		start := len(buf)
		if start > 0 {
			buf = append(buf, '\n')
		}
		buf = event.AppendJSON(buf, &events[i])
		if len(buf) <= maxPayload {
			continue
		}
		line := buf[start:]
		if start > 0 {
			line = line[1:]
			out = append(out, newChunk(events[first:i], buf[:start]))
		}
		if len(line) > maxPayload {
			return nil, fmt.Errorf("%w: event %d (id %q) encodes to %d bytes, limit %d",
				ErrEventTooLarge, i, events[i].ID, len(line), maxPayload)
		}
		next := newBuf(len(events) - i)
		buf = append(next, line...)
		first = i
	}
	if first < len(events) {
		out = append(out, newChunk(events[first:], buf))
	}
	return out, nil
}

func newChunk(events []event.Event, data []byte) chunk {
	return chunk{data: data, id: msgID(events, data), events: len(events)}
}

// msgID identifies a message for the stream's duplicate window: a hash of its
// events' IDs (the same events re-published give the same ID), or of its
// payload when an event has no ID.
func msgID(events []event.Event, data []byte) string {
	// The IDs are gathered and hashed in one call: per-event Writes cost
	// more than the hashing itself.
	buf := make([]byte, 0, len(events)*33)
	for i := range events {
		if events[i].ID == "" {
			h := sha256.New()
			io.WriteString(h, "payload\x00")
			h.Write(data)
			return hex.EncodeToString(h.Sum(nil)[:16])
		}
		buf = append(append(buf, events[i].ID...), '\n')
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}
