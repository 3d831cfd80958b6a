package esbulk

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseBulk checks that the bulk parser never panics and keeps its
// limits: never more items than MaxItems, no document line over
// MaxLineBytes, a source line for every index/create item it accepts.
func FuzzParseBulk(f *testing.F) {
	for _, name := range []string{"filebeat.ndjson", "winlogbeat.ndjson", "errors.ndjson"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
	}
	f.Add([]byte("{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n"), "idx")
	f.Add([]byte("{\"create\":null}\n{}"), "")
	f.Add([]byte("{\"index\":{\"_id\":7}}\n{}\n"), "")
	lim := Limits{MaxBodyBytes: 1 << 16, MaxLineBytes: 512, MaxItems: 16}
	f.Fuzz(func(t *testing.T, body []byte, index string) {
		items, err := parseBulk(body, index, lim)
		if err != nil {
			if items != nil {
				t.Fatal("items with an error")
			}
			return
		}
		if len(items) == 0 || len(items) > lim.MaxItems {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if len(it.source) > lim.MaxLineBytes {
				t.Fatalf("source of %d bytes", len(it.source))
			}
			if it.op != opDelete && it.source == nil && it.err == nil {
				t.Fatalf("%s item without source or error", it.op)
			}
			if it.source != nil && !bytes.Contains(body, it.source) {
				t.Fatal("source not from the body")
			}
		}
	})
}

// FuzzBulkHandler sends arbitrary bodies through the whole handler: the
// answer is always Elasticsearch-shaped JSON, a 200 has one item per action
// and every published event has an ID, a tenant and a dataset.
func FuzzBulkHandler(f *testing.F) {
	for _, name := range []string{"filebeat.ndjson", "errors.ndjson"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg := testConfig()
		cfg.Limits = Limits{MaxBodyBytes: 1 << 16, MaxLineBytes: 1024, MaxItems: 64}
		bus := &fakeBus{}
		h, _ := newTestHandler(t, cfg, bus)
		w := do(h, http.MethodPost, "/idx/_bulk", body)
		if w.Code != http.StatusOK {
			var e struct {
				Status int `json:"status"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Status != w.Code {
				t.Fatalf("%d: %v %s", w.Code, err, w.Body)
			}
			return
		}
		var resp bulkResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%v: %s", err, w.Body)
		}
		items, err := parseBulk(body, "idx", cfg.Limits)
		if err != nil || len(items) != len(resp.Items) {
			t.Fatalf("%d answers for %d items (%v)", len(resp.Items), len(items), err)
		}
		for _, ev := range bus.events {
			if ev.ID == "" || ev.Tenant == "" || ev.Dataset == "" {
				t.Fatalf("event %+v", ev)
			}
		}
	})
}
