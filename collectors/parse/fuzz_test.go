package parse

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// FuzzParse runs every parser and detection on arbitrary messages: no
// panic, the message field is kept (or moved to event.original by json),
// every string field stays valid UTF-8 when the input was, and the event
// still encodes to JSON that decodes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.input"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f.Add(sc.Text())
		}
	}
	names := append(Names(), Auto)
	f.Fuzz(func(t *testing.T, msg string) {
		for _, name := range names {
			ev := msgEvent(msg)
			err := Parse(name, ev)
			if err == nil && ev.Message() != msg && ev.GetString("event.original") != strings.TrimSpace(msg) {
				t.Fatalf("%s lost the message %q", name, msg)
			}
			if !utf8.ValidString(msg) {
				continue
			}
			for _, fl := range ev.Fields {
				fl.Value.Each(func(v event.Value) bool {
					if !utf8.ValidString(v.Str) {
						t.Fatalf("%s: field %s is not UTF-8: %q", name, fl.Name, v.Str)
					}
					return true
				})
			}
			var d event.Decoder
			var back event.Event
			if err := d.Decode(event.AppendJSON(nil, ev), &back); err != nil {
				t.Fatalf("%s: encoded event does not decode: %v", name, err)
			}
		}
	})
}
