package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// ingestBatch is how many events go to the bus in one Batch.
const ingestBatch = 1000

// maxReportedErrors bounds the per-line errors echoed back.
const maxReportedErrors = 100

// IngestResult answers POST /api/v1/events.
type IngestResult struct {
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Errors   []LineError `json:"errors,omitempty"`
}

// LineError is a rejected input line.
type LineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// timeFields are tried for the event time when @timestamp is absent: the
// Windows shapes (evtx dump, NXLog, Winlogbeat) and common log shippers.
var timeFields = []string{"Event.System.TimeCreated.SystemTime", "EventTime", "UtcTime", "timestamp", "time"}

// reasonOf names a decode error for the rejected-events metric.
func reasonOf(err error) string {
	var se *event.SyntaxError
	switch {
	case errors.As(err, &se):
		return "syntax"
	case errors.Is(err, event.ErrTooLarge), errors.Is(err, errTooLong):
		return "too_large"
	case errors.Is(err, event.ErrInvalidUTF8):
		return "utf8"
	case errors.Is(err, event.ErrTooDeep), errors.Is(err, event.ErrTooMany):
		return "limits"
	case errors.Is(err, event.ErrNotObject):
		return "not_object"
	}
	return "other"
}

var errTooLong = errors.New("line too long")

// handleIngest reads NDJSON (optionally gzip), publishes the good lines in
// batches and answers once every batch is durably on the bus: 202 when at
// least one line was accepted (or the body was empty), 400 when every line
// was rejected, 413 when the body exceeds its limit, 503 when the bus failed
// (the sender retries; deterministic IDs absorb the duplicates).
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	tenant := p.Tenant
	if tenant == "" {
		tenant = s.deps.DefaultTenant
	}
	dataset := r.URL.Query().Get("dataset")
	if dataset == "" {
		dataset = "generic"
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	var in io.Reader = body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "reading gzip body: "+err.Error())
			return
		}
		defer zr.Close()
		in = &limitedReader{r: zr, n: s.cfg.MaxDecodedBytes}
	}

	const source = "http"
	res := IngestResult{}
	dec := event.Decoder{Limits: event.Limits{MaxBytes: s.cfg.MaxLineBytes}, TimeFields: timeFields}
	var pending sync.WaitGroup
	var mu sync.Mutex
	var busErr error
	now := time.Now().UTC()
	batch := make([]event.Event, 0, ingestBatch)
	flush := func(ctx context.Context) error {
		if len(batch) == 0 {
			return nil
		}
		n := len(batch)
		pending.Add(1)
		b := event.NewBatch(batch, func(err error) {
			defer pending.Done()
			if err != nil {
				s.metrics.eventsRejected.WithLabelValues(source, "bus").Add(float64(n))
				mu.Lock()
				busErr = errors.Join(busErr, err)
				mu.Unlock()
				return
			}
			s.metrics.eventsAcked.WithLabelValues(source).Add(float64(n))
		})
		if err := s.deps.Publisher.Publish(ctx, b); err != nil {
			pending.Done()
			return err
		}
		batch = make([]event.Event, 0, ingestBatch)
		return nil
	}
	reject := func(line int, err error) {
		res.Rejected++
		s.metrics.eventsRejected.WithLabelValues(source, reasonOf(err)).Inc()
		if len(res.Errors) < maxReportedErrors {
			res.Errors = append(res.Errors, LineError{Line: line, Error: err.Error()})
		}
	}

	br := bufio.NewReaderSize(in, 64<<10)
	var readErr error
	for line := 1; ; line++ {
		raw, err := readLine(br, s.cfg.MaxLineBytes)
		if errors.Is(err, errTooLong) {
			reject(line, fmt.Errorf("%w: longer than %d bytes", errTooLong, s.cfg.MaxLineBytes))
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			readErr = err
			break
		}
		if raw = bytes.TrimSpace(raw); len(raw) > 0 {
			ev := event.Event{Tenant: tenant, Source: source, Dataset: dataset, Time: now}
			if derr := dec.Decode(raw, &ev); derr != nil {
				reject(line, derr)
			} else {
				ev.ID = event.NewID(tenant, raw)
				batch = append(batch, ev)
				res.Accepted++
				s.metrics.eventsIn.WithLabelValues(source).Inc()
				if len(batch) == ingestBatch {
					if perr := flush(r.Context()); perr != nil {
						readErr = perr
						break
					}
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if readErr == nil {
		readErr = flush(r.Context())
	}
	pending.Wait()

	var tooBig *http.MaxBytesError
	switch {
	case errors.As(readErr, &tooBig) || errors.Is(readErr, errDecodedTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds its limit; send smaller requests (%d events were accepted before the limit and are kept)", res.Accepted-len(batch)))
	case readErr != nil:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reading body: %v (%d events were accepted before the error and are kept)", readErr, res.Accepted-len(batch)))
	case busErr != nil:
		writeError(w, http.StatusServiceUnavailable, "events not stored, retry: "+busErr.Error())
	case res.Accepted == 0 && res.Rejected > 0:
		writeJSON(w, http.StatusBadRequest, res)
	default:
		writeJSON(w, http.StatusAccepted, res)
	}
}

// readLine returns the next line without its newline. A line longer than max
// is consumed to its end and reported as errTooLong, so the next line reads
// normally. At the end of input it returns the last line with io.EOF.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max+1 { // +1: the newline itself
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, errTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}

var errDecodedTooLarge = errors.New("decompressed body exceeds its limit")

// limitedReader fails (rather than stopping silently) past n bytes, to stop
// gzip bombs.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errDecodedTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
