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
		p := newParser(true, "auto", nil)
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

// FuzzTimestampFastPath checks that reading RFC 5424 timestamps outside
// go-syslog changes nothing: every message yields the same event, the same
// verdict and the same instant with the fast path on and off.
func FuzzTimestampFastPath(f *testing.F) {
	for _, s := range []string{
		"<134>1 2026-11-25T10:00:00.000000+07:00 h sshd 4242 - - Failed password",
		"<134>1 2026-11-25T10:00:00+07:00 h sshd - - - m",
		"<134>1 2024-02-29T23:59:59.1-00:30 h - - - - m",
		"<134>1 2025-02-29T23:59:59Z h - - - - m",
		"<134>1 2026-11-25T10:00:00.1234567Z h - - - - m",
		"<134>1 2026-11-25T24:00:00Z h - - - - m",
		"<134>1 2026-11-25t10:00:00z h - - - - m",
		"<134>1 2026-11-25T10:00:00Z",
		"<134>1 2026-11-25T10:00:00Z h a p m [x@1 a=\"b\"] m",
		"<134>1 2026-11-25T10:00:00Z h a p m [x@1 a=b] m",
		"<01>1 2026-11-25T10:00:00Z h - - - - m",
		"<999>1 2026-11-25T10:00:00Z h - - - - m",
		"<13>10 2026-11-25T10:00:00+23:59 h - - - - m",
		"<13>1 1999-12-31T23:59:59.999999-23:59 h - - - - m",
		"<38>Nov 25 10:00:00 web01 sudo[991]: alice : TTY=pts/0",
	} {
		f.Add([]byte(s))
	}
	fast, slow := newParser(true, "auto", nil), newParser(true, "auto", nil)
	slow.slowTimestamps = true
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 4096 {
			return
		}
		a, okA := parseOne(fast, raw, time.UTC, testMeta)
		b, okB := parseOne(slow, raw, time.UTC, testMeta)
		if okA != okB || !a.Time.Equal(b.Time) {
			t.Fatalf("%q: fast path ok=%v time=%v, go-syslog ok=%v time=%v", raw, okA, a.Time, okB, b.Time)
		}
		ja, jb := event.AppendJSON(nil, &a), event.AppendJSON(nil, &b)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("%q:\nfast path %s\ngo-syslog %s", raw, ja, jb)
		}
	})
}
