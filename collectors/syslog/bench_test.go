package syslog

import (
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/eventid"
	"github.com/mangrove-soc/mangrove/collectors/parse"
)

// testIDKey keys event IDs in benchmarks, as `mangrove serve`'s key does.
var testIDKey, _ = eventid.NewKey([]byte("mangrove-benchmark-event-id-key!"))

// BenchmarkParse measures parse + normalize of one message (framing
// excluded), the figure behind the ≥ 1,000,000 lines/s per core target.
// Events are parsed into batches of DefaultBatchSize, as the collector
// does, so the batches' allocation is counted.
func BenchmarkParse(b *testing.B) {
	const sshd5424 = "<134>1 2026-11-25T10:00:00.000000+07:00 web01.camau.gov.vn sshd 4242 - - Failed password for invalid user admin from 203.0.113.9 port 22022 ssh2"
	for _, bc := range []struct{ name, msg, ecs string }{
		{"rfc5424", sshd5424, ParserNone},
		{"rfc5424_sd", `<165>1 2026-11-25T03:04:05.123Z fw1 app - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`, ParserNone},
		{"rfc3164", "<38>Nov 25 10:00:00 web01 sshd[991]: Failed password for invalid user admin from 203.0.113.9 port 22022 ssh2", ParserNone},
		// The default configuration: the sshd line is also normalized by
		// the OpenSSH parser (user, source, outcome).
		{"rfc5424_openssh", sshd5424, parse.Auto},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newParser(false, bc.ecs, testIDKey) // keyed IDs, as serve's
			raw := []byte(bc.msg)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			var batch []event.Event
			for b.Loop() {
				if len(batch) == cap(batch) {
					batch = make([]event.Event, 0, DefaultBatchSize)
				}
				batch = append(batch, event.Event{})
				ev := &batch[len(batch)-1]
				p.parse(ev, raw, time.UTC, testMeta)
				if ev.ID == "" {
					b.Fatal("no ID")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkFrame measures octet-counting framing alone.
func BenchmarkFrame(b *testing.B) {
	msg := "<134>1 2026-11-25T10:00:00.000000+07:00 web01 sshd 4242 - - Failed password"
	var stream []byte
	for range 1000 {
		stream = strconv.AppendInt(stream, int64(len(msg)), 10)
		stream = append(stream, ' ')
		stream = append(stream, msg...)
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		fr := newFramer(&onceReader{b: stream}, DefaultMaxMessageSize)
		for {
			if _, err := fr.next(); err != nil {
				break
			}
		}
	}
}

type onceReader struct {
	b    []byte
	done bool
}

func (r *onceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
