package ioc

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

// feed1M returns a CSV of one million indicators of every type.
func feed1M(tb testing.TB) []byte {
	tb.Helper()
	var b bytes.Buffer
	b.WriteString("type,value,source,confidence\n")
	for i := range 1_000_000 {
		switch i % 6 {
		case 0:
			fmt.Fprintf(&b, "ip,%d.%d.%d.%d,bench,80\n", 11+i>>24&0x3f, i>>16&0xff, i>>8&0xff, i&0xff)
		case 1:
			fmt.Fprintf(&b, "cidr,%d.%d.%d.0/24,bench,80\n", 100+i>>24&0x3f, i>>16&0xff, i>>8&0xff)
		case 2:
			fmt.Fprintf(&b, "domain,host%d.bad%d.example,bench,80\n", i, i%1000)
		case 3:
			fmt.Fprintf(&b, "url,http://u%d.example/p/%d,bench,80\n", i%5000, i)
		case 4:
			fmt.Fprintf(&b, "sha256,%064x,bench,80\n", i)
		case 5:
			fmt.Fprintf(&b, "md5,%032x,bench,80\n", i)
		}
	}
	return b.Bytes()
}

func BenchmarkLoad1M(b *testing.B) {
	data := feed1M(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rules, err := Load("bench.csv", data)
		if err != nil || len(rules) != 1 {
			b.Fatal(len(rules), err)
		}
	}
}

// BenchmarkMatch is the per-event cost against a 1M-indicator set of a
// Sysmon network event (two IPs, a host name) and a process event with a
// Hashes field; neither matches, the common case.
func BenchmarkMatch(b *testing.B) {
	rules, err := Load("bench.csv", feed1M(b))
	if err != nil {
		b.Fatal(err)
	}
	r := rules[0]
	net := &event.Event{}
	net.Set("DestinationIp", event.StringValue("8.8.8.8"))
	net.Set("SourceIp", event.StringValue("10.0.0.5"))
	net.Set("DestinationHostname", event.StringValue("www.google.com"))
	proc := &event.Event{}
	proc.Set("Hashes", event.StringValue("SHA1=0DC3F9C4F4B5B2E6C5F1E9A64E7F9D43C3C7C0F1,MD5=4DEB1A5C5D5E4B3E1F2A0B9C8D7E6F5A,SHA256=9F8E7D6C5B4A39281706F5E4D3C2B1A09F8E7D6C5B4A39281706F5E4D3C2B1A0,IMPHASH=1234"))
	proc.Set("url.full", event.StringValue("https://cdn.example.org/lib.js"))
	ctx := context.Background()
	hits := 0
	emit := func(detections.Finding) { hits++ }
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Eval(ctx, net, emit)
		_ = r.Eval(ctx, proc, emit)
	}
	if hits != 0 {
		b.Fatalf("%d unexpected hits", hits)
	}
}
