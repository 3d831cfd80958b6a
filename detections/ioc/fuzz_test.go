package ioc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

var fuzzLimits = Limits{MaxBytes: 1 << 16, MaxIndicators: 1000}

func seed(f *testing.F, name string) {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
}

// checkSet looks up every indicator of a parsed set: a value that was
// accepted must be found again.
func checkSet(t *testing.T, s *Set) {
	if s == nil {
		return
	}
	for i := range s.Indicators() {
		in := &s.Indicators()[i]
		var got *Indicator
		switch in.Type {
		case Domain:
			got = s.LookupDomain(in.Value)
		case URL:
			got = s.LookupURL(in.Value)
		case MD5, SHA1, SHA256:
			got = s.LookupHash(in.Value)
		case Email:
			got = s.LookupEmail(in.Value)
		default:
			continue
		}
		if got == nil {
			t.Fatalf("indicator %+v not found again", *in)
		}
	}
	r := NewRule(detections.Meta{ID: "x"}, s)
	ev := &event.Event{}
	ev.Set("url.full", event.StringValue("http://a.b/c"))
	ev.Set("Hashes", event.StringValue("MD5=00,SHA256="))
	_ = r.Eval(context.Background(), ev, func(detections.Finding) {})
}

func FuzzParseCSV(f *testing.F) {
	seed(f, "feed.csv")
	f.Add([]byte("value\n\"a,b\",x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := ParseCSV(bytes.NewReader(data), "fuzz", fuzzLimits)
		checkSet(t, s)
	})
}

func FuzzParseMISP(f *testing.F) {
	seed(f, "event.misp")
	f.Add([]byte(`{"response":[{"Event":{"Attribute":[{"type":"domain|ip","value":"a|b"}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := ParseMISP(bytes.NewReader(data), "fuzz", fuzzLimits)
		checkSet(t, s)
	})
}

func FuzzParseSTIX(f *testing.F) {
	seed(f, "bundle.stix")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := ParseSTIX(bytes.NewReader(data), "fuzz", fuzzLimits)
		checkSet(t, s)
	})
}

func FuzzPattern(f *testing.F) {
	for _, p := range []string{
		"[ipv4-addr:value = '1.2.3.4']", "[file:hashes.'SHA-256' = 'ab'] OR [url:value = 'x\\'y']",
		"[a:b = 'c' AND d:e = 'f']", "[ipv4-addr:value ISSUBSET '10.0.0.0/8']", "[", "['",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		cmps, err := parsePattern(p)
		if err == nil && len(cmps) == 0 {
			t.Fatalf("%q: no comparisons and no error", p)
		}
	})
}
