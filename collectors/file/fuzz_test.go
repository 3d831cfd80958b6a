package file

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mangrove-soc/mangrove/collectors"
)

// FuzzLines feeds arbitrary content through the line splitter: every event
// sits at an increasing offset, its message is the content there (cut at
// max_line_bytes, without the newline and a trailing CR), and the end
// offset covers the whole input.
func FuzzLines(f *testing.F) {
	for _, s := range []string{"a\nb\n", "no newline", "\r\n\n\n", strings.Repeat("x", 700) + "\nshort\n", "ü\xff\n"} {
		f.Add([]byte(s), uint16(300))
	}
	f.Fuzz(func(t *testing.T, content []byte, max uint16) {
		if len(content) > 1<<20 {
			return
		}
		m, _ := collectors.NewMetrics(nil, "file", "fuzz")
		s := testSpec("/x")
		s.MaxLineBytes = 256 + int(max)%2048
		s.BatchSize = 7
		c := &Collector{spec: *s, name: "fuzz", metrics: m, lagBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})}
		tr := &tracked{id: "1:1", gz: true, r: bytes.NewReader(content)}
		last := int64(-1)
		var end int64
		for range len(content) + 2 {
			evs, e, eof, err := c.readBatch(tr)
			if err != nil {
				t.Fatal(err)
			}
			end = e
			for i := range evs {
				off, _ := evs[i].Get("log.offset")
				o := int64(off.Num)
				if o <= last || o >= int64(len(content)) {
					t.Fatalf("offset %d after %d (len %d)", o, last, len(content))
				}
				last = o
				raw := content[o:]
				if j := bytes.IndexByte(raw, '\n'); j >= 0 {
					raw = raw[:j]
				}
				if len(raw) > s.MaxLineBytes {
					raw = raw[:s.MaxLineBytes]
				} else {
					raw = bytes.TrimSuffix(raw, []byte{'\r'})
				}
				if utf8.Valid(raw) && evs[i].Message() != string(raw) {
					t.Fatalf("at %d: message %q, content %q", o, evs[i].Message(), raw)
				}
			}
			if eof && len(evs) == 0 {
				break
			}
		}
		if end != int64(len(content)) {
			t.Fatalf("end offset %d, content %d bytes", end, len(content))
		}
	})
}
