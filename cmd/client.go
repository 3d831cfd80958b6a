package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/internal/api"
)

// client talks to a running server's API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func addClientFlags(c *cobra.Command, server, tokenFile *string) {
	def := os.Getenv("MANGROVE_SERVER")
	if def == "" {
		addr := os.Getenv("MANGROVE_HTTP_ADDR")
		if addr == "" {
			addr = "127.0.0.1:8080"
		}
		def = "http://" + addr
	}
	c.Flags().StringVar(server, "server", def, "API base URL ($MANGROVE_SERVER, else http://$MANGROVE_HTTP_ADDR)")
	c.Flags().StringVar(tokenFile, "token-file", os.Getenv("MANGROVE_TOKEN_FILE"), "file holding the API bearer token ($MANGROVE_TOKEN_FILE; $MANGROVE_TOKEN holds the token itself)")
}

func newClient(server, tokenFile string) (*client, error) {
	c := &client{base: strings.TrimRight(server, "/"), http: &http.Client{Timeout: 5 * time.Minute}, token: os.Getenv("MANGROVE_TOKEN")}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading token: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	return c, nil
}

func (c *client) do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.http.Do(req)
}

// apiError reads an error body.
func apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
	}
	return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
}

func newIngestCmd(g *globals) *cobra.Command {
	var server, tokenFile, dataset string
	var chunkLines, parallel int
	var quiet bool
	c := &cobra.Command{
		Use:   "ingest FILE",
		Short: "Send an NDJSON file of events (- for stdin) to a running server",
		Long: `Send events, one JSON object per line, to POST /api/v1/events of a running
server, in chunks, several in flight. A chunk counts as ingested when the server
acknowledged it (the events are durably on the bus); a chunk the server could not
store (503) or a lost connection is retried, and deterministic event IDs absorb
any duplicate. Rejected lines are reported with their line numbers in the file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(server, tokenFile)
			if err != nil {
				return err
			}
			var in io.Reader = os.Stdin
			var size int64 = -1
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				if st, err := f.Stat(); err == nil {
					size = st.Size()
				}
				in = f
			}
			var bar *progressbar.ProgressBar
			if !quiet {
				bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(g.stderr), progressbar.OptionShowBytes(true),
					progressbar.OptionSetDescription("ingesting"), progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
				in = io.TeeReader(in, bar)
			}
			start := time.Now()
			res, err := cl.ingest(cmd.Context(), in, dataset, chunkLines, parallel)
			if bar != nil {
				bar.Finish()
			}
			el := time.Since(start)
			fmt.Fprintf(g.stdout, "ingested %d events, rejected %d lines, in %s (%.0f events/s)\n",
				res.Accepted, res.Rejected, el.Round(time.Millisecond), float64(res.Accepted)/el.Seconds())
			for _, le := range res.Errors {
				fmt.Fprintf(g.stdout, "  line %d: %s\n", le.Line, le.Error)
			}
			if res.Rejected > len(res.Errors) {
				fmt.Fprintf(g.stdout, "  ... and %d more rejected lines\n", res.Rejected-len(res.Errors))
			}
			return err
		},
	}
	addClientFlags(c, &server, &tokenFile)
	c.Flags().StringVar(&dataset, "dataset", "", "event.dataset of events that carry none")
	c.Flags().IntVar(&chunkLines, "chunk", 5000, "lines per request")
	c.Flags().IntVar(&parallel, "parallel", 4, "requests in flight")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return c
}

// ingest streams r in chunks of lines, with up to parallel requests in flight.
func (c *client) ingest(ctx context.Context, r io.Reader, dataset string, chunkLines, parallel int) (api.IngestResult, error) {
	type chunk struct {
		firstLine int
		body      []byte
	}
	chunks := make(chan chunk, parallel)
	var mu sync.Mutex
	total := api.IngestResult{}
	var firstErr error
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	path := "/api/v1/events"
	if dataset != "" {
		path += "?dataset=" + url.QueryEscape(dataset)
	}
	for range parallel {
		wg.Go(func() {
			for ch := range chunks {
				res, err := c.postChunk(ctx, path, ch.body)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				total.Accepted += res.Accepted
				total.Rejected += res.Rejected
				for _, le := range res.Errors {
					if len(total.Errors) < 20 {
						total.Errors = append(total.Errors, api.LineError{Line: ch.firstLine + le.Line - 1, Error: le.Error})
					}
				}
				mu.Unlock()
			}
		})
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var buf bytes.Buffer
	line, first, n := 0, 1, 0
	var readErr error
	send := func() bool {
		if buf.Len() == 0 {
			return true
		}
		select {
		case chunks <- chunk{firstLine: first, body: bytes.Clone(buf.Bytes())}:
		case <-ctx.Done():
			return false
		}
		buf.Reset()
		first, n = line+1, 0
		return true
	}
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			n++
			buf.Write(b)
			if b[len(b)-1] != '\n' {
				buf.WriteByte('\n')
			}
			if n >= chunkLines || buf.Len() >= 8<<20 {
				if !send() {
					break
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			send()
			break
		}
	}
	close(chunks)
	wg.Wait()
	return total, errors.Join(firstErr, readErr)
}

// postChunk sends one chunk, retrying on 503, 429 and connection errors.
func (c *client) postChunk(ctx context.Context, path string, body []byte) (api.IngestResult, error) {
	var res api.IngestResult
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		resp, err := c.do(ctx, "POST", path, bytes.NewReader(body), "application/x-ndjson")
		if err == nil {
			switch resp.StatusCode {
			case http.StatusAccepted, http.StatusBadRequest:
				derr := json.NewDecoder(resp.Body).Decode(&res)
				resp.Body.Close()
				if derr == nil {
					return res, nil
				}
				err = fmt.Errorf("reading answer: %w", derr)
			case http.StatusServiceUnavailable, http.StatusTooManyRequests:
				err = apiError(resp)
				resp.Body.Close()
			default:
				err = apiError(resp)
				resp.Body.Close()
				return res, err
			}
		}
		if attempt >= 8 || ctx.Err() != nil {
			return res, err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func newEventsCmd(g *globals) *cobra.Command {
	events := &cobra.Command{Use: "events", Short: "Search stored events"}
	var server, tokenFile, from, to string
	var limit int
	var count bool
	search := &cobra.Command{
		Use:   "search QUERY",
		Short: "Search events with a KQL/Lucene-style query; prints matching events as NDJSON, newest first",
		Example: `  mangrove events search 'source.ip:10.0.0.5 AND event.action:"logon-failed"' --from 24h
  mangrove events search 'process.name:power* and not user.name:SYSTEM' --limit 20`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(server, tokenFile)
			if err != nil {
				return err
			}
			q := url.Values{}
			if len(args) == 1 {
				q.Set("q", args[0])
			}
			for k, v := range map[string]string{"from": from, "to": to} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", fmt.Sprint(limit))
			resp, err := cl.do(cmd.Context(), "GET", "/api/v1/events/search?"+q.Encode(), nil, "")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return apiError(resp)
			}
			var res struct {
				Total  int               `json:"total"`
				Events []json.RawMessage `json:"events"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				return fmt.Errorf("reading answer: %w", err)
			}
			if !count {
				var line bytes.Buffer
				for _, e := range res.Events {
					line.Reset()
					if err := json.Compact(&line, e); err != nil {
						return fmt.Errorf("reading answer: %w", err)
					}
					line.WriteByte('\n')
					g.stdout.Write(line.Bytes())
				}
			}
			fmt.Fprintf(g.stderr, "%d events match; %d shown\n", res.Total, min(len(res.Events), res.Total))
			return nil
		},
	}
	addClientFlags(search, &server, &tokenFile)
	search.Flags().StringVar(&from, "from", "", "start: RFC 3339 time or a duration back from now (24h)")
	search.Flags().StringVar(&to, "to", "", "end: RFC 3339 time or a duration back from now")
	search.Flags().IntVar(&limit, "limit", 100, "events to print")
	search.Flags().BoolVar(&count, "count", false, "print only the number of matches")
	events.AddCommand(search)
	return events
}
