package syslog

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// FuzzParse feeds arbitrary bytes through the framer (both framings) and the
// parser: no panic, every event has an ID, a time and a valid JSON form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"<134>1 2026-11-25T10:00:00.000000+07:00 h sshd 4242 - - Failed password",
		`<165>1 2026-11-25T03:04:05.123Z fw1 app - ID47 [a@1 b="c\"d"] m`,
		"<38>Nov 25 10:00:00 web01 sudo[991]: alice : TTY=pts/0",
		"12 <13>1 - - - - - -",
		"<13>hello\nworld\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		p := newParser(true, "auto")
		fr := newFramer(bytes.NewReader(data), 1024)
		for range 1000 {
			msg, err := fr.next()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errFraming) {
				break
			}
			if errors.Is(err, errTooLong) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(msg) > 1024 {
				t.Fatalf("message of %d bytes exceeds the maximum", len(msg))
			}
			ev, _ := parseOne(p, msg, time.UTC, testMeta)
			if ev.ID == "" || ev.Time.IsZero() {
				t.Fatalf("event without ID or time: %+v", ev)
			}
			var d event.Decoder
			var back event.Event
			if err := d.Decode(event.AppendJSON(nil, &ev), &back); err != nil {
				t.Fatalf("event does not round-trip: %v", err)
			}
		}
	})
}
