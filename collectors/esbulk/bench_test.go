package esbulk

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// ackBus acknowledges every batch at once.
type ackBus struct{}

func (ackBus) Publish(_ context.Context, b *event.Batch) error { b.Done(nil); return nil }

// filebeatBody is a request like Filebeat's default batch (1,600 events) of
// sshd lines.
func filebeatBody(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "{\"create\":{\"_index\":\"filebeat-8.17.0\"}}\n"+
			"{\"@timestamp\":\"2024-12-20T08:15:02.123Z\",\"log\":{\"offset\":%d,\"file\":{\"path\":\"/var/log/auth.log\"}},"+
			"\"message\":\"Dec 20 08:15:02 web01 sshd[1234]: Failed password for root from 203.0.113.%d port %d ssh2\","+
			"\"input\":{\"type\":\"filestream\"},\"ecs\":{\"version\":\"8.0.0\"},\"host\":{\"name\":\"web01\"},"+
			"\"agent\":{\"type\":\"filebeat\",\"version\":\"8.17.0\",\"name\":\"web01\"}}\n", i*120, i%250, 40000+i%20000)
	}
	return b.Bytes()
}

func benchBulk(b *testing.B, parser string) {
	cfg := testConfig()
	cfg.Parser = parser
	h, err := newHandler(*cfg, "es", mustMetrics(b))
	if err != nil {
		b.Fatal(err)
	}
	h.pub = ackBus{}
	const n = 1600
	body := filebeatBody(n)
	auth := apiKey(keyID, keyVal)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/_bulk", bytes.NewReader(body))
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkBulk measures one Filebeat-sized request end to end in the
// handler: auth, parse, decode, normalize (sshd), publish, answer.
func BenchmarkBulk(b *testing.B) { benchBulk(b, "auto") }

// BenchmarkBulkNoParser is the same without ECS normalization.
func BenchmarkBulkNoParser(b *testing.B) { benchBulk(b, ParserNone) }

func BenchmarkParseBulk(b *testing.B) {
	body := filebeatBody(1600)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseBulk(body, "", DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}
