package esbulk

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/eventid"
	"github.com/mangrove-soc/mangrove/collectors/parse"
)

// esVersion is the Elasticsearch version the endpoint claims to be; Beats 8
// refuse to ship to a major version other than their own.
const esVersion = "8.17.0"

// batchSize is the most events in one bus batch.
const batchSize = 1000

// Collector is a running esbulk endpoint.
type Collector struct {
	cfg Config
	tls *tls.Config
	h   *handler
	log zerolog.Logger

	// addr is the bound address once Run listens (tests listen on :0).
	addr atomic.Pointer[string]
}

// Addr returns the address the listener is bound to, "" before Run listens.
func (c *Collector) Addr() string {
	if a := c.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// Run serves until ctx is done, then stops accepting and waits up to ten
// seconds for requests in flight. It returns only fatal errors (the address
// cannot be bound).
func (c *Collector) Run(ctx context.Context, p collectors.Publisher) error {
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.cfg.Listen, err)
	}
	if c.tls != nil {
		ln = tls.NewListener(ln, c.tls)
	}
	a := ln.Addr().String()
	c.addr.Store(&a)
	c.h.pub = p
	srv := &http.Server{
		Handler:           c.h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(debugWriter{c.log}, "", 0), // TLS handshakes of scanners, ...
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	c.log.Info().Str("addr", a).Bool("tls", c.tls != nil).Msg("elasticsearch bulk endpoint listening")
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still waiting for the bus: closing their connections
		// cancels them; their senders retry.
		srv.Close()
		c.log.Warn().Err(err).Msg("bulk requests still in flight at shutdown were cut")
	}
	<-errc
	return nil
}

// debugWriter sends the HTTP server's own error log to the logger at debug
// level: client-side failures (bad TLS handshakes) are not Mangrove's.
type debugWriter struct{ l zerolog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.l.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// handler answers the Elasticsearch API subset.
type handler struct {
	cfg    Config
	lim    Limits
	name   string
	m      *collectors.Metrics
	keys   map[string]Key
	pub    collectors.Publisher
	seqNo  atomic.Int64
	uuid   string
	nowFn  func() time.Time
	decLim event.Limits
	// ids keys the IDs of documents sent without an _id; nil gives
	// event.NewID's.
	ids   *eventid.Key
	slots chan struct{} // one per bulk request in flight
}

func newHandler(cfg Config, name string, m *collectors.Metrics) (*handler, error) {
	h := &handler{cfg: cfg, lim: cfg.Limits.withDefaults(), name: name, m: m, keys: map[string]Key{},
		uuid: event.NewID("esbulk", []byte(name))[:22], nowFn: time.Now}
	for _, k := range cfg.Keys {
		h.keys[k.ID] = k
	}
	h.decLim = event.Limits{MaxBytes: h.lim.MaxLineBytes}
	h.slots = make(chan struct{}, h.lim.MaxInFlight)
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	tenant, ok := h.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `ApiKey, Basic realm="security", charset="UTF-8"`)
		writeError(w, r, http.StatusUnauthorized, esError{Type: "security_exception",
			Reason: "unable to authenticate with provided credentials and anonymous access is not allowed for this request"})
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	seg := strings.Split(path, "/")
	switch {
	case path == "":
		h.get(w, r, h.info())
	case path == "_bulk" || (len(seg) == 2 && seg[1] == "_bulk" && !strings.HasPrefix(seg[0], "_")):
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			methodNotAllowed(w, r)
			return
		}
		index := ""
		if len(seg) == 2 {
			index = seg[0]
		}
		select {
		case h.slots <- struct{}{}:
			defer func() { <-h.slots }()
		default:
			writeError(w, r, http.StatusTooManyRequests, esError{Type: "es_rejected_execution_exception",
				Reason: fmt.Sprintf("rejected execution: more than %d bulk requests in flight; retry", h.lim.MaxInFlight)})
			return
		}
		h.bulk(w, r, tenant, index)
	case path == "_license":
		h.get(w, r, h.license())
	case path == "_xpack":
		h.get(w, r, map[string]any{
			"build":    map[string]any{"hash": "mangrove", "date": "2024-12-11T12:08:05.663969764Z"},
			"license":  h.license()["license"],
			"features": map[string]any{"ilm": map[string]any{"available": true, "enabled": true}},
		})
	case seg[0] == "_cat" && len(seg) >= 2:
		h.cat(w, r, seg)
	case path == "_cluster/health":
		h.get(w, r, map[string]any{"cluster_name": h.cfg.ClusterName, "status": "green", "timed_out": false,
			"number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 1, "active_shards": 1})
	case len(seg) == 2 && (seg[0] == "_index_template" || seg[0] == "_component_template" || seg[0] == "_template" || seg[0] == "_data_stream" || seg[0] == "_ingest"),
		len(seg) == 3 && (seg[0] == "_ilm" && seg[1] == "policy" || seg[0] == "_ingest" && seg[1] == "pipeline"),
		len(seg) == 3 && seg[0] == "_data_stream" && seg[2] == "_lifecycle":
		h.setup(w, r, seg)
	default:
		writeError(w, r, http.StatusBadRequest, esError{Type: "illegal_argument_exception",
			Reason: fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.Path, r.Method)})
	}
}

// setup answers the index-management calls clients make at start-up: every
// template, policy, pipeline and data stream "exists" and every PUT is
// acknowledged, so clients go on to ship. Mangrove keeps its own storage
// layout; what they send is read and discarded.
func (h *handler) setup(w http.ResponseWriter, r *http.Request, seg []string) {
	name := seg[len(seg)-1]
	switch r.Method {
	case http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case http.MethodPut, http.MethodPost:
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, h.lim.MaxBodyBytes))
		writeJSON(w, r, http.StatusOK, map[string]any{"acknowledged": true})
	case http.MethodGet:
		switch seg[0] {
		case "_index_template":
			writeJSON(w, r, http.StatusOK, map[string]any{"index_templates": []any{map[string]any{
				"name": name, "index_template": map[string]any{"index_patterns": []string{name + "-*"}, "data_stream": map[string]any{}, "composed_of": []string{}}}}})
		case "_ilm":
			writeJSON(w, r, http.StatusOK, map[string]any{name: map[string]any{"version": 1,
				"modified_date": "2024-01-01T00:00:00.000Z", "policy": map[string]any{"phases": map[string]any{"hot": map[string]any{"min_age": "0ms", "actions": map[string]any{}}}}}})
		case "_data_stream":
			writeJSON(w, r, http.StatusOK, map[string]any{"data_streams": []any{map[string]any{
				"name": name, "timestamp_field": map[string]any{"name": "@timestamp"}, "generation": 1, "status": "GREEN", "template": name}}})
		default:
			writeJSON(w, r, http.StatusOK, map[string]any{name: map[string]any{}})
		}
	default:
		methodNotAllowed(w, r)
	}
}

// cat answers the _cat tables: /_cat/templates/<name> lists the named
// template as existing (what Beats 7 check before loading one); other
// tables are empty.
func (h *handler) cat(w http.ResponseWriter, r *http.Request, seg []string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r)
		return
	}
	var rows []map[string]any
	if seg[1] == "templates" && len(seg) == 3 && seg[2] != "" {
		rows = append(rows, map[string]any{"name": seg[2], "index_patterns": "[" + seg[2] + "-*]", "order": "0", "version": nil, "composed_of": "[]"})
	}
	if r.URL.Query().Get("format") == "json" {
		if rows == nil {
			rows = []map[string]any{}
		}
		writeJSON(w, r, http.StatusOK, rows)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		for _, row := range rows {
			fmt.Fprintf(w, "%s %s %s  %s\n", row["name"], row["index_patterns"], row["order"], row["composed_of"])
		}
	}
}

func (h *handler) info() map[string]any {
	return map[string]any{
		"name":         "mangrove",
		"cluster_name": h.cfg.ClusterName,
		"cluster_uuid": h.uuid,
		"version": map[string]any{
			"number": esVersion, "build_flavor": "default", "build_type": "docker",
			"build_hash": "mangrove", "build_date": "2024-12-11T12:08:05.663969764Z", "build_snapshot": false,
			"lucene_version": "9.12.0", "minimum_wire_compatibility_version": "7.17.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	}
}

func (h *handler) license() map[string]any {
	return map[string]any{"license": map[string]any{
		"status": "active", "uid": h.uuid, "type": "basic", "issue_date": "2024-01-01T00:00:00.000Z",
		"issue_date_in_millis": 1704067200000, "max_nodes": 1000, "max_resource_units": nil,
		"issued_to": h.cfg.ClusterName, "issuer": "elasticsearch", "start_date_in_millis": -1,
	}}
}

// get answers GET with v and HEAD with the status alone.
func (h *handler) get(w http.ResponseWriter, r *http.Request, v any) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, r, http.StatusOK, v)
	default:
		methodNotAllowed(w, r)
	}
}

// bulkResponse is the body of a _bulk answer: items are {"<op>": result}.
type bulkResponse struct {
	Took   int64                   `json:"took"`
	Errors bool                    `json:"errors"`
	Items  []map[string]itemResult `json:"items"`
}

// appendBulkResponse encodes the answer without a map per item.
func appendBulkResponse(dst []byte, took int64, errs bool, items []item, results []itemResult) ([]byte, error) {
	dst = append(dst, `{"took":`...)
	dst = strconv.AppendInt(dst, took, 10)
	dst = append(dst, `,"errors":`...)
	dst = strconv.AppendBool(dst, errs)
	dst = append(dst, `,"items":[`...)
	for i := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"`...)
		dst = append(dst, items[i].op...)
		dst = append(dst, `":`...)
		b, err := json.Marshal(&results[i])
		if err != nil {
			return nil, err
		}
		dst = append(dst, b...)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), nil
}

type itemResult struct {
	Index       string   `json:"_index"`
	ID          string   `json:"_id"`
	Version     int      `json:"_version,omitempty"`
	Result      string   `json:"result,omitempty"`
	Shards      *shards  `json:"_shards,omitempty"`
	SeqNo       *int64   `json:"_seq_no,omitempty"`
	PrimaryTerm int      `json:"_primary_term,omitempty"`
	Status      int      `json:"status"`
	Error       *esError `json:"error,omitempty"`
}

type shards struct {
	Total      int `json:"total"`
	Successful int `json:"successful"`
	Failed     int `json:"failed"`
}

var errRejected = esError{Type: "es_rejected_execution_exception",
	Reason: "rejected execution: the event bus did not store the documents; retry"}

// bulk handles one _bulk request: it decodes the body, publishes the good
// documents and answers once the bus has acknowledged or refused them.
func (h *handler) bulk(w http.ResponseWriter, r *http.Request, tenant, index string) {
	start := h.nowFn()
	body, rerr := h.readBody(w, r)
	if rerr != nil {
		writeError(w, r, rerr.status, rerr.esError)
		return
	}
	h.m.Bytes.Add(float64(len(body)))
	items, err := parseBulk(body, index, h.lim)
	if err != nil {
		var re *requestError
		if errors.As(err, &re) {
			writeError(w, r, re.status, re.esError)
			return
		}
		writeError(w, r, http.StatusBadRequest, esError{Type: "parse_exception", Reason: err.Error()})
		return
	}
	h.m.In.Add(float64(len(items)))
	h.m.Seen(start)

	results := make([]itemResult, len(items))
	dec := event.Decoder{Limits: h.decLim, TimeFields: []string{"event.created", "timestamp"}}
	type pendingBatch struct {
		idx    []int
		events []event.Event
	}
	var batches []pendingBatch
	cur := pendingBatch{}
	for i, it := range items {
		res := &results[i]
		res.Index, res.ID = it.index, it.id
		switch {
		case it.op == opUpdate || it.op == opDelete:
			res.Status, res.Error = http.StatusBadRequest, &esError{Type: "illegal_argument_exception",
				Reason: fmt.Sprintf("[%s] is not supported: mangrove accepts only index and create actions, events are immutable", it.op)}
			continue
		case it.err != nil:
			h.m.Dropped.Inc()
			res.Status, res.Error = http.StatusBadRequest, it.err
			continue
		case it.index == "":
			res.Status, res.Error = http.StatusBadRequest, &esError{Type: "action_request_validation_exception",
				Reason: "Validation Failed: 1: index is missing;"}
			continue
		}
		ev := event.Event{Tenant: tenant, Source: h.name, Time: start.UTC()}
		if derr := dec.Decode(it.source, &ev); derr != nil {
			h.m.ParseErrors.Inc()
			res.Status, res.Error = http.StatusBadRequest, &esError{Type: "mapper_parsing_exception",
				Reason: "failed to parse: " + derr.Error()}
			continue
		}
		if it.id != "" {
			ev.ID = event.NewID(tenant, []byte("esbulk\x00"+it.index+"\x00"+it.id))
		} else {
			ev.ID = h.ids.ID(tenant, it.source)
			res.ID = ev.ID
		}
		if ev.Dataset == "" {
			ev.Dataset = ev.GetString("data_stream.dataset")
		}
		if ev.Dataset == "" {
			ev.Dataset = datasetFromIndex(it.index)
		}
		if h.cfg.Parser != ParserNone {
			if perr := parse.Parse(h.cfg.Parser, &ev); perr != nil {
				h.m.ParseErrors.Inc()
				ev.Set("error.message", event.StringValue(perr.Error()))
			}
		}
		cur.idx = append(cur.idx, i)
		cur.events = append(cur.events, ev)
		if len(cur.events) == batchSize {
			batches = append(batches, cur)
			cur = pendingBatch{}
		}
	}
	if len(cur.events) > 0 {
		batches = append(batches, cur)
	}

	// Publish every batch, then wait for every outcome.
	failed := make([]bool, len(batches))
	var wg sync.WaitGroup
	for bi, pb := range batches {
		wg.Add(1)
		b := event.NewBatch(pb.events, func(err error) {
			failed[bi] = err != nil
			wg.Done()
		})
		if err := h.pub.Publish(r.Context(), b); err != nil {
			failed[bi] = true
			wg.Done()
		}
	}
	wg.Wait()
	h.m.Lag.Set(h.nowFn().Sub(start).Seconds())

	nFailed, nEvents := 0, 0
	for bi, pb := range batches {
		nEvents += len(pb.idx)
		for _, i := range pb.idx {
			res := &results[i]
			if failed[bi] {
				nFailed++
				res.Status, res.Error = http.StatusTooManyRequests, &errRejected
				continue
			}
			seq := h.seqNo.Add(1) - 1
			res.Status, res.Version, res.Result = http.StatusCreated, 1, "created"
			res.Shards, res.SeqNo, res.PrimaryTerm = &shards{Total: 1, Successful: 1}, &seq, 1
		}
	}
	if nFailed > 0 && nFailed == nEvents {
		// Nothing was stored: the whole request is retried.
		writeError(w, r, http.StatusTooManyRequests, errRejected)
		return
	}
	errs := false
	for i := range results {
		errs = errs || results[i].Error != nil
	}
	out, err := appendBulkResponse(make([]byte, 0, 160*len(items)), h.nowFn().Sub(start).Milliseconds(), errs, items, results)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, esError{Type: "exception", Reason: "encoding the response: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// readBody reads the request body, gzip-decoded when so encoded, within the
// body limit.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *requestError) {
	tooLarge := &requestError{status: http.StatusRequestEntityTooLarge, esError: esError{Type: "content_too_long_exception",
		Reason: fmt.Sprintf("request body is larger than %d bytes", h.lim.MaxBodyBytes)}}
	var in io.Reader = http.MaxBytesReader(w, r.Body, h.lim.MaxBodyBytes)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, &requestError{status: http.StatusBadRequest, esError: esError{Type: "parse_exception", Reason: "reading gzip body: " + err.Error()}}
		}
		defer zr.Close()
		in = zr
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(in, h.lim.MaxBodyBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, &requestError{status: http.StatusBadRequest, esError: esError{Type: "parse_exception", Reason: "reading body: " + err.Error()}}
	}
	if n > h.lim.MaxBodyBytes {
		return nil, tooLarge
	}
	return buf.Bytes(), nil
}

// datasetFromIndex derives event.dataset from an index name: the dataset
// part of a data stream (logs-nginx.access-default → nginx.access), else the
// name without its trailing version or date parts (filebeat-8.17.0 →
// filebeat, logstash-2024.06.01 → logstash).
func datasetFromIndex(index string) string {
	name := strings.TrimPrefix(index, ".ds-")
	parts := strings.Split(name, "-")
	ds := ""
	if len(parts) >= 3 {
		switch parts[0] {
		case "logs", "metrics", "traces", "synthetics":
			ds = strings.Join(parts[1:len(parts)-1], "-")
		}
	}
	if ds == "" {
		for len(parts) > 1 && parts[len(parts)-1] != "" && parts[len(parts)-1][0] >= '0' && parts[len(parts)-1][0] <= '9' {
			parts = parts[:len(parts)-1]
		}
		ds = strings.Join(parts, "-")
	}
	if ds == "" {
		ds = index // nothing but version-like parts: keep the name
	}
	return ds
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusMethodNotAllowed, esError{Type: "illegal_argument_exception",
		Reason: fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s]", r.URL.Path, r.Method)})
}

// writeError writes Elasticsearch's error shape.
func writeError(w http.ResponseWriter, r *http.Request, status int, e esError) {
	writeJSON(w, r, status, map[string]any{
		"error":  map[string]any{"root_cause": []esError{e}, "type": e.Type, "reason": e.Reason},
		"status": status,
	})
}

// writeJSON writes v; HEAD gets the status and headers only.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"type":"exception","reason":"encoding the response"},"status":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
