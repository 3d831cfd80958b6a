package esbulk

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeBus records published events and completes batches with fail (nil:
// stored), failing only batches whose index is in failOnly when it is set.
type fakeBus struct {
	mu       sync.Mutex
	events   []event.Event
	fail     error
	failOnly map[int]bool
	n        int
	refuse   error // Publish itself refuses
}

func (b *fakeBus) Publish(ctx context.Context, bt *event.Batch) error {
	if b.refuse != nil {
		return b.refuse
	}
	b.mu.Lock()
	i := b.n
	b.n++
	var err error
	if b.fail != nil && (b.failOnly == nil || b.failOnly[i]) {
		err = b.fail
	} else {
		b.events = append(b.events, bt.Events...)
	}
	b.mu.Unlock()
	go bt.Done(err)
	return nil
}

const (
	keyID  = "agency-a"
	keyVal = "s3cret-key-value"
)

func testConfig() *Config {
	sum := sha256.Sum256([]byte(keyVal))
	c := NewConfig()
	c.Listen = "127.0.0.1:0"
	c.Keys = []Key{{ID: keyID, KeySHA256: hex.EncodeToString(sum[:]), Tenant: "agency-a"},
		{ID: "agency-b", KeySHA256: hex.EncodeToString(sum[:]), Tenant: "agency-b"}}
	return c
}

func mustMetrics(tb testing.TB) *collectors.Metrics {
	m, err := collectors.NewMetrics(nil, TypeName, "es")
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func newTestHandler(t *testing.T, cfg *Config, bus collectors.Publisher) (*handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := collectors.NewMetrics(reg, TypeName, "es")
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(*cfg, "es", m)
	if err != nil {
		t.Fatal(err)
	}
	h.pub = bus
	h.nowFn = func() time.Time { return time.Date(2024, 12, 20, 9, 0, 0, 0, time.UTC) }
	return h, reg
}

func apiKey(id, key string) string {
	return "ApiKey " + base64.StdEncoding.EncodeToString([]byte(id+":"+key))
}

func do(h http.Handler, method, target string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Authorization", apiKey(keyID, keyVal))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got (indented) with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, got)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	pretty = append(pretty, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, pretty, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(pretty, want) {
		t.Errorf("%s differs:\n%s", name, pretty)
	}
}

// TestBulkRecorded replays request bodies shaped like the Beats, Logstash and
// Fluent Bit Elasticsearch outputs and compares the answers with golden
// responses.
func TestBulkRecorded(t *testing.T) {
	for _, tc := range []struct {
		file, path string
		gzip       bool
		events     int
		errors     bool
	}{
		{file: "filebeat.ndjson", path: "/_bulk", events: 3},
		{file: "winlogbeat.ndjson", path: "/_bulk?filter_path=errors,items.*.error,items.*.status", gzip: true, events: 2},
		{file: "errors.ndjson", path: "/_bulk", events: 2, errors: true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			bus := &fakeBus{}
			h, reg := newTestHandler(t, testConfig(), bus)
			body := readTestdata(t, tc.file)
			var hdr []string
			if tc.gzip {
				var zb bytes.Buffer
				zw := gzip.NewWriter(&zb)
				zw.Write(body)
				zw.Close()
				body = zb.Bytes()
				hdr = []string{"Content-Encoding", "gzip"}
			}
			w := do(h, http.MethodPost, tc.path, body, hdr...)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if w.Header().Get("X-Elastic-Product") != "Elasticsearch" {
				t.Error("missing X-Elastic-Product")
			}
			var resp bulkResponse
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Errors != tc.errors {
				t.Errorf("errors = %v, want %v", resp.Errors, tc.errors)
			}
			if len(bus.events) != tc.events {
				t.Errorf("published %d events, want %d", len(bus.events), tc.events)
			}
			for _, ev := range bus.events {
				if ev.Tenant != "agency-a" || ev.Source != "es" || ev.ID == "" || ev.Dataset == "" || ev.Time.IsZero() {
					t.Errorf("event metadata: %+v", ev)
				}
			}
			if got := testutil.ToFloat64(counterOf(t, reg, collectors.MetricIn)); got == 0 {
				t.Error("messages counter not incremented")
			}
			golden(t, strings.TrimSuffix(tc.file, ".ndjson")+".response.golden", w.Body.Bytes())
		})
	}
}

func counterOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	m, err := collectors.NewMetrics(reg, TypeName, "es")
	if err != nil {
		t.Fatal(err)
	}
	switch name {
	case collectors.MetricIn:
		return m.In
	case collectors.MetricParseErrors:
		return m.ParseErrors
	case collectors.MetricDropped:
		return m.Dropped
	}
	t.Fatalf("no metric %s", name)
	return nil
}

func TestBulkEventContents(t *testing.T) {
	bus := &fakeBus{}
	h, reg := newTestHandler(t, testConfig(), bus)
	if w := do(h, http.MethodPost, "/_bulk", readTestdata(t, "filebeat.ndjson")); w.Code != 200 {
		t.Fatal(w.Code, w.Body)
	}
	if w := do(h, http.MethodPost, "/_bulk", readTestdata(t, "errors.ndjson")); w.Code != 200 {
		t.Fatal(w.Code, w.Body)
	}
	byMsg := map[string]event.Event{}
	for _, ev := range bus.events {
		byMsg[ev.GetString("message")+ev.GetString("log")] = ev
	}
	for _, tc := range []struct{ msg, dataset, host, time string }{
		{"Dec 20 08:15:02 web01 sshd[1234]: Failed password for root from 203.0.113.5 port 52211 ssh2", "filebeat", "web01", "2024-12-20T08:15:02.123Z"},
		{"10.20.1.9 - - [20/Dec/2024:08:15:04 +0700] \"GET /index.html HTTP/1.1\" 200 612 \"-\" \"curl/8.5.0\"", "nginx.access", "web01", "2024-12-20T01:15:04Z"},
		{"kept: index with an _id", "logstash", "fw01", "2024-12-20T02:00:00Z"},
		{"kept: fluent bit record", "fluent-bit", "", "2024-12-20T02:00:02Z"},
	} {
		ev, ok := byMsg[tc.msg]
		if !ok {
			t.Errorf("no event %q", tc.msg)
			continue
		}
		if ev.Dataset != tc.dataset || ev.GetString("host.name") != tc.host || ev.Time.Format(time.RFC3339Nano) != tc.time {
			t.Errorf("%q: dataset %q host %q time %s", tc.msg, ev.Dataset, ev.GetString("host.name"), ev.Time.Format(time.RFC3339Nano))
		}
	}
	if got := testutil.ToFloat64(counterOf(t, reg, collectors.MetricParseErrors)); got != 2 {
		t.Errorf("parse errors = %v, want 2", got)
	}
}

// TestEventIDs: an _id gives the same event ID on a resend and a different
// one in another tenant; without _id the ID hashes the document.
func TestEventIDs(t *testing.T) {
	bus := &fakeBus{}
	h, _ := newTestHandler(t, testConfig(), bus)
	withID := []byte("{\"index\":{\"_index\":\"logs\",\"_id\":\"x1\"}}\n{\"message\":\"a\"}\n")
	noID := []byte("{\"create\":{\"_index\":\"logs\"}}\n{\"message\":\"b\"}\n")
	other := apiKey("agency-b", keyVal)
	do(h, http.MethodPost, "/_bulk", withID)
	do(h, http.MethodPost, "/_bulk", withID)
	do(h, http.MethodPost, "/_bulk", withID, "Authorization", other)
	w := do(h, http.MethodPost, "/_bulk", noID)
	do(h, http.MethodPost, "/_bulk", noID)
	ids := make([]string, len(bus.events))
	for i, ev := range bus.events {
		ids[i] = ev.ID
	}
	if len(ids) != 5 || ids[0] != ids[1] || ids[0] == ids[2] || ids[3] != ids[4] || ids[3] == ids[0] {
		t.Errorf("ids = %v", ids)
	}
	if bus.events[2].Tenant != "agency-b" {
		t.Errorf("tenant %q, want agency-b", bus.events[2].Tenant)
	}
	var resp bulkResponse
	json.Unmarshal(w.Body.Bytes(), &resp)
	if got := resp.Items[0]["create"].ID; got != ids[3] {
		t.Errorf("answered _id %q, want the event id %q", got, ids[3])
	}
}

func TestBulkBusFailure(t *testing.T) {
	errBus := errors.New("bus down")
	t.Run("all rejected", func(t *testing.T) {
		h, _ := newTestHandler(t, testConfig(), &fakeBus{fail: errBus})
		w := do(h, http.MethodPost, "/_bulk", readTestdata(t, "filebeat.ndjson"))
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", w.Code)
		}
		golden(t, "rejected.response.golden", w.Body.Bytes())
	})
	t.Run("publish refused", func(t *testing.T) {
		h, _ := newTestHandler(t, testConfig(), &fakeBus{refuse: context.Canceled})
		if w := do(h, http.MethodPost, "/_bulk", readTestdata(t, "filebeat.ndjson")); w.Code != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", w.Code)
		}
	})
	t.Run("second batch rejected", func(t *testing.T) {
		bus := &fakeBus{fail: errBus, failOnly: map[int]bool{1: true}}
		h, _ := newTestHandler(t, testConfig(), bus)
		var body bytes.Buffer
		for i := range batchSize + 10 {
			fmt.Fprintf(&body, "{\"create\":{\"_index\":\"filebeat-8.17.0\"}}\n{\"message\":\"line %d\"}\n", i)
		}
		w := do(h, http.MethodPost, "/_bulk", body.Bytes())
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		var resp bulkResponse
		json.Unmarshal(w.Body.Bytes(), &resp)
		if !resp.Errors || len(resp.Items) != batchSize+10 {
			t.Fatalf("errors %v, %d items", resp.Errors, len(resp.Items))
		}
		if it := resp.Items[0]["create"]; it.Status != 201 {
			t.Errorf("first item %+v", it)
		}
		if it := resp.Items[batchSize]["create"]; it.Status != 429 || it.Error == nil || it.Error.Type != "es_rejected_execution_exception" {
			t.Errorf("item in the failed batch %+v", it)
		}
		if len(bus.events) != batchSize {
			t.Errorf("stored %d, want %d", len(bus.events), batchSize)
		}
	})
}

func TestRequestErrors(t *testing.T) {
	cfg := testConfig()
	cfg.Limits = Limits{MaxBodyBytes: 4096, MaxLineBytes: 256, MaxItems: 3}
	for _, tc := range []struct {
		name, method, path string
		body               string
		hdr                []string
		status             int
		errType            string
	}{
		{"no credentials", "POST", "/_bulk", "", []string{"Authorization", ""}, 401, "security_exception"},
		{"wrong key", "GET", "/", "", []string{"Authorization", apiKey(keyID, "nope")}, 401, "security_exception"},
		{"unknown id", "GET", "/", "", []string{"Authorization", apiKey("ghost", keyVal)}, 401, "security_exception"},
		{"bearer", "GET", "/", "", []string{"Authorization", "Bearer " + keyVal}, 401, "security_exception"},
		{"malformed action", "POST", "/_bulk", "{\"create\":\n{}\n", nil, 400, "illegal_argument_exception"},
		{"two actions in a line", "POST", "/_bulk", "{\"create\":{},\"index\":{}}\n{}\n", nil, 400, "illegal_argument_exception"},
		{"unknown action", "POST", "/_bulk", "{\"upsert\":{}}\n{}\n", nil, 400, "illegal_argument_exception"},
		{"missing source", "POST", "/_bulk", "{\"create\":{\"_index\":\"a\"}}\n", nil, 400, "illegal_argument_exception"},
		{"empty", "POST", "/_bulk", "\n\n", nil, 400, "action_request_validation_exception"},
		{"too many items", "POST", "/_bulk", strings.Repeat("{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n", 4), nil, 413, "illegal_argument_exception"},
		{"body too large", "POST", "/_bulk", strings.Repeat(" ", 5000), nil, 413, "content_too_long_exception"},
		{"bad gzip", "POST", "/_bulk", "not gzip", []string{"Content-Encoding", "gzip"}, 400, "parse_exception"},
		{"GET bulk", "GET", "/_bulk", "", nil, 405, "illegal_argument_exception"},
		{"unknown endpoint", "GET", "/_search", "", nil, 400, "illegal_argument_exception"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHandler(t, cfg, &fakeBus{})
			w := do(h, tc.method, tc.path, []byte(tc.body), tc.hdr...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if w.Header().Get("X-Elastic-Product") != "Elasticsearch" {
				t.Error("missing X-Elastic-Product")
			}
			var e struct {
				Error struct {
					RootCause []esError `json:"root_cause"`
					Type      string    `json:"type"`
					Reason    string    `json:"reason"`
				} `json:"error"`
				Status int `json:"status"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
			if e.Error.Type != tc.errType || e.Status != tc.status || len(e.Error.RootCause) != 1 || e.Error.Reason == "" {
				t.Errorf("error body %s", w.Body)
			}
		})
	}
}

func TestOversizeDocumentIsItsOwnItem(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.MaxLineBytes = 64
	bus := &fakeBus{}
	h, reg := newTestHandler(t, cfg, bus)
	body := "{\"create\":{\"_index\":\"a\"}}\n{\"message\":\"" + strings.Repeat("x", 100) + "\"}\n{\"create\":{\"_index\":\"a\"}}\n{\"message\":\"ok\"}\n"
	w := do(h, http.MethodPost, "/_bulk", []byte(body))
	var resp bulkResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != 200 {
		t.Fatal(w.Code, w.Body)
	}
	if resp.Items[0]["create"].Status != 400 || resp.Items[1]["create"].Status != 201 || len(bus.events) != 1 {
		t.Errorf("response %s", w.Body)
	}
	if got := testutil.ToFloat64(counterOf(t, reg, collectors.MetricDropped)); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
}

// TestStartupProbes answers what Filebeat 8 calls before shipping.
func TestStartupProbes(t *testing.T) {
	h, _ := newTestHandler(t, testConfig(), &fakeBus{})
	for _, tc := range []struct {
		method, path, body string
		check              func(t *testing.T, v map[string]any)
	}{
		{"GET", "/", "", func(t *testing.T, v map[string]any) {
			ver := v["version"].(map[string]any)
			if ver["number"] != esVersion || ver["build_flavor"] != "default" || v["tagline"] != "You Know, for Search" {
				t.Errorf("info %v", v)
			}
		}},
		{"HEAD", "/", "", nil},
		{"GET", "/_license?human=false", "", func(t *testing.T, v map[string]any) {
			l := v["license"].(map[string]any)
			if l["status"] != "active" || l["type"] != "basic" {
				t.Errorf("license %v", l)
			}
		}},
		{"GET", "/_xpack", "", func(t *testing.T, v map[string]any) {
			ilm := v["features"].(map[string]any)["ilm"].(map[string]any)
			if ilm["available"] != true || ilm["enabled"] != true {
				t.Errorf("xpack %v", v)
			}
		}},
		{"GET", "/_ilm/policy/filebeat", "", func(t *testing.T, v map[string]any) {
			if _, ok := v["filebeat"]; !ok {
				t.Errorf("policy %v", v)
			}
		}},
		{"PUT", "/_ilm/policy/filebeat", `{"policy":{"phases":{}}}`, func(t *testing.T, v map[string]any) {
			if v["acknowledged"] != true {
				t.Errorf("put %v", v)
			}
		}},
		{"HEAD", "/_index_template/filebeat-8.17.0", "", nil},
		{"PUT", "/_index_template/filebeat-8.17.0", `{"index_patterns":["filebeat-8.17.0"],"data_stream":{}}`, nil},
		{"GET", "/_index_template/filebeat-8.17.0", "", nil},
		{"GET", "/_data_stream/filebeat-8.17.0", "", func(t *testing.T, v map[string]any) {
			if len(v["data_streams"].([]any)) != 1 {
				t.Errorf("data stream %v", v)
			}
		}},
		{"PUT", "/_data_stream/filebeat-8.17.0", "", nil},
		{"GET", "/_ingest/pipeline/filebeat-8.17.0-system-auth-pipeline", "", nil},
		{"GET", "/_cat/templates/filebeat", "", nil},
		{"HEAD", "/_component_template/filebeat-settings", "", nil},
		{"GET", "/_cluster/health", "", nil},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := do(h, tc.method, tc.path, []byte(tc.body), "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(keyID+":"+keyVal)))
			if w.Code != 200 || w.Header().Get("X-Elastic-Product") != "Elasticsearch" {
				t.Fatalf("status %d headers %v", w.Code, w.Header())
			}
			if tc.method == "HEAD" {
				if w.Body.Len() != 0 {
					t.Error("HEAD has a body")
				}
				return
			}
			if tc.check != nil {
				var v map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
					t.Fatal(err)
				}
				tc.check(t, v)
			}
		})
	}
}

func TestDatasetFromIndex(t *testing.T) {
	for in, want := range map[string]string{
		"filebeat-8.17.0":                "filebeat",
		"logs-nginx.access-default":      "nginx.access",
		".ds-logs-system.auth-prod-2024": "system.auth-prod",
		"logstash-2024.12.20":            "logstash",
		"fluent-bit":                     "fluent-bit",
		"winlogbeat-8.17.0-2024.12.20":   "winlogbeat",
		"vector-2024":                    "vector",
		"app":                            "app",
		"-0":                             "-0",
		"logs--default":                  "logs--default",
	} {
		if got := datasetFromIndex(in); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	c := &Config{Listen: "nope", TLS: TLSConfig{CertFile: "c.pem"}, Keys: []Key{{ID: "a", KeySHA256: "xyz"}, {ID: "a", KeySHA256: strings.Repeat("0", 64), Tenant: "t"}},
		Limits: Limits{MaxItems: -1}}
	err := c.Validate()
	for _, want := range []string{"listen:", "tls:", "keys[0].key_sha256", "keys[0].tenant", "keys[1].id", "limits.max_items"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if err := testConfig().Validate(); err != nil {
		t.Error(err)
	}
	if err := NewConfig().Validate(); err == nil {
		t.Error("a config without keys validated")
	}
}

// TestRun serves over a real listener and answers a bulk request.
func TestRun(t *testing.T) {
	c, err := testConfig().Build("es", collectors.Env{Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	col := c.(*Collector)
	bus := &fakeBus{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, bus) }()
	deadline := time.Now().Add(5 * time.Second)
	for col.Addr() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+col.Addr()+"/filebeat-8.17.0/_bulk",
		strings.NewReader("{\"create\":{}}\n{\"message\":\"over the wire\"}\n"))
	req.Header.Set("Authorization", apiKey(keyID, keyVal))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"status":201`) || len(bus.events) != 1 || bus.events[0].Dataset != "filebeat" {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestNormalization: documents go through collectors/parse (Windows event
// shapes, sshd lines, ...) unless the parser is "none".
func TestNormalization(t *testing.T) {
	for _, parser := range []string{"", ParserNone} {
		t.Run("parser="+parser, func(t *testing.T) {
			cfg := testConfig()
			if parser != "" {
				cfg.Parser = parser
			}
			bus := &fakeBus{}
			h, _ := newTestHandler(t, cfg, bus)
			do(h, http.MethodPost, "/_bulk", readTestdata(t, "filebeat.ndjson"))
			do(h, http.MethodPost, "/_bulk", readTestdata(t, "winlogbeat.ndjson"))
			if len(bus.events) != 5 {
				t.Fatalf("%d events", len(bus.events))
			}
			want := []map[string]string{
				{"source.ip": "203.0.113.5", "user.name": "root", "event.outcome": "failure"},
				{"source.ip": "10.20.1.2", "user.name": "deploy"},
				{"http.response.status_code": "200", "source.ip": "10.20.1.9"},
				{"source.ip": "198.51.100.23", "user.name": "administrator", "event.category": "authentication"},
				{"process.command_line": "cmd.exe /c whoami", "user.name": "nguyenvana"},
			}
			for i, fields := range want {
				for f, v := range fields {
					got := bus.events[i].GetString(f)
					if parser == ParserNone {
						v = ""
					}
					if got != v {
						t.Errorf("event %d %s = %q, want %q", i, f, got, v)
					}
				}
			}
		})
	}
}

// TestCatTemplates: Beats 7 check a template with /_cat/templates/<name> and
// look for the name in the body.
func TestCatTemplates(t *testing.T) {
	h, _ := newTestHandler(t, testConfig(), &fakeBus{})
	if w := do(h, "GET", "/_cat/templates/filebeat-7.17.0", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "filebeat-7.17.0") {
		t.Errorf("%d %q", w.Code, w.Body)
	}
	w := do(h, "GET", "/_cat/templates/filebeat-7.17.0?format=json", nil)
	var rows []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &rows); err != nil || len(rows) != 1 || rows[0]["name"] != "filebeat-7.17.0" {
		t.Errorf("%v %s", err, w.Body)
	}
	if w := do(h, "GET", "/_cat/indices?format=json", nil); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("%d %q", w.Code, w.Body)
	}
}

// blockBus holds every batch until release is closed.
type blockBus struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockBus) Publish(_ context.Context, bt *event.Batch) error {
	b.started <- struct{}{}
	go func() { <-b.release; bt.Done(nil) }()
	return nil
}

// TestInFlightLimit: a bulk request over max_in_flight is answered 429
// while the others wait for the bus.
func TestInFlightLimit(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.MaxInFlight = 1
	bus := &blockBus{started: make(chan struct{}, 1), release: make(chan struct{})}
	h, _ := newTestHandler(t, cfg, nil)
	h.pub = bus
	body := []byte("{\"create\":{\"_index\":\"a\"}}\n{\"message\":\"x\"}\n")
	first := make(chan int)
	go func() { first <- do(h, http.MethodPost, "/_bulk", body).Code }()
	<-bus.started
	if w := do(h, http.MethodPost, "/_bulk", body); w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "es_rejected_execution_exception") {
		t.Errorf("second request: %d %s", w.Code, w.Body)
	}
	close(bus.release)
	if code := <-first; code != 200 {
		t.Errorf("first request: %d", code)
	}
	go func() { <-bus.started }()
	if w := do(h, http.MethodPost, "/_bulk", body); w.Code != 200 {
		t.Errorf("after release: %d", w.Code)
	}
}
