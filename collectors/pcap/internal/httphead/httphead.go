// Package httphead parses HTTP/1.x request and response heads from the
// first bytes of a reassembled TCP stream direction. It is a pure, bounded
// byte parser that never panics; bodies are not parsed, only their declared
// length is reported so a caller can skip to the next message.
package httphead

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// Limits.
const (
	// MaxHeadSize bounds a message head (start line + headers + blank line).
	MaxHeadSize = 16 << 10
	// MaxHeaders bounds the number of header lines examined.
	MaxHeaders = 128
	// MaxMethodLen bounds the request method token.
	MaxMethodLen = 24
	// MaxValueLen bounds each string kept (URI, host, user agent, ...);
	// longer values are cut and Truncated is set.
	MaxValueLen = 4096
)

// Errors; test with errors.Is.
var (
	// ErrNotHTTP means the bytes cannot start an HTTP/1.x message.
	ErrNotHTTP = errors.New("httphead: not HTTP/1.x")
	// ErrIncomplete means the head has not ended yet: feed more bytes.
	ErrIncomplete = errors.New("httphead: incomplete head")
	// ErrTooLarge means the head exceeds MaxHeadSize or MaxHeaders.
	ErrTooLarge = errors.New("httphead: head exceeds limit")
	// ErrMalformed means a header line is invalid.
	ErrMalformed = errors.New("httphead: malformed head")
)

// Fields common to requests and responses.
type Fields struct {
	// Version is "1.0" or "1.1" (from "HTTP/1.1").
	Version string
	// ContentType is the Content-Type header value.
	ContentType string
	// ContentLength is the Content-Length value, -1 when absent or invalid.
	ContentLength int64
	// Chunked is true when Transfer-Encoding ends in chunked.
	Chunked bool
	// HeaderCount is the number of header lines.
	HeaderCount int
	// Truncated is true when a kept value was cut at MaxValueLen.
	Truncated bool
}

// Request is a parsed request head.
type Request struct {
	Fields
	Method    string
	URI       string
	Host      string
	UserAgent string
	Referer   string
	// AuthScheme is the Authorization scheme ("Basic", "Bearer", ...).
	AuthScheme string
	// BasicUser is the user name of Basic credentials; the password is
	// never kept.
	BasicUser string
}

// Response is a parsed response head.
type Response struct {
	Fields
	StatusCode int
	Reason     string
	Location   string
	Server     string
}

// LooksLikeRequest reports whether b can be the start of a request: a
// method token followed by a space (false once b disproves it; true for an
// empty b).
func LooksLikeRequest(b []byte) bool {
	for i := 0; i < len(b) && i <= MaxMethodLen; i++ {
		c := b[i]
		if c == ' ' {
			return i > 0
		}
		if !(c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return len(b) <= MaxMethodLen
}

// LooksLikeResponse reports whether b can be the start of a response
// ("HTTP/1.").
func LooksLikeResponse(b []byte) bool {
	const p = "HTTP/1."
	n := min(len(b), len(p))
	return string(b[:n]) == p[:n]
}

// headEnd returns the length of the head including its blank line.
func headEnd(b []byte) (int, error) {
	lim := b[:min(len(b), MaxHeadSize)]
	for i := 0; i < len(lim); {
		j := bytes.IndexByte(lim[i:], '\n')
		if j < 0 {
			break
		}
		line := lim[i : i+j]
		i += j + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			if i == j+1 { // empty first line
				return 0, fmt.Errorf("empty start line: %w", ErrNotHTTP)
			}
			return i, nil
		}
	}
	if len(b) >= MaxHeadSize {
		return 0, fmt.Errorf("no end of head in %d bytes: %w", MaxHeadSize, ErrTooLarge)
	}
	return 0, ErrIncomplete
}

// ParseRequest parses the request head at the start of b into r and
// returns the head length in bytes (the body, if any, follows). It returns
// ErrIncomplete when more bytes are needed, ErrNotHTTP as soon as the bytes
// cannot be a request. Malformed header lines are skipped and reported
// together (errors.Join of ErrMalformed errors) while n and the other fields
// stay valid.
func ParseRequest(b []byte, r *Request) (int, error) {
	*r = Request{}
	if !LooksLikeRequest(b) {
		return 0, fmt.Errorf("request line: %w", ErrNotHTTP)
	}
	n, err := headEnd(b)
	if err != nil {
		return 0, err
	}
	lines := b[:n]
	line, rest := nextLine(lines)
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return 0, fmt.Errorf("request line %q: %w", clip(line), ErrNotHTTP)
	}
	ver, ok := httpVersion(line[sp2+1:])
	if !ok {
		return 0, fmt.Errorf("request version %q: %w", clip(line[sp2+1:]), ErrNotHTTP)
	}
	r.Method = method(line[:sp1])
	r.URI = r.keep(line[sp1+1 : sp2])
	r.Version = ver
	err = headers(rest, &r.Fields, func(name, value []byte) {
		switch {
		case equalFold(name, "host"):
			r.Host = r.keep(value)
		case equalFold(name, "user-agent"):
			r.UserAgent = r.keep(value)
		case equalFold(name, "referer"):
			r.Referer = r.keep(value)
		case equalFold(name, "authorization"):
			scheme, cred, _ := bytes.Cut(value, []byte(" "))
			r.AuthScheme = r.keep(scheme)
			if equalFold(scheme, "basic") {
				r.BasicUser = r.keep(basicUser(bytes.TrimSpace(cred)))
			}
		}
	})
	return n, err
}

// ParseResponse parses the response head at the start of b into r and
// returns the head length in bytes, with the same error contract as
// ParseRequest.
func ParseResponse(b []byte, r *Response) (int, error) {
	*r = Response{}
	if !LooksLikeResponse(b) {
		return 0, fmt.Errorf("status line: %w", ErrNotHTTP)
	}
	n, err := headEnd(b)
	if err != nil {
		return 0, err
	}
	line, rest := nextLine(b[:n])
	vers, status, _ := bytes.Cut(line, []byte(" "))
	ver, ok := httpVersion(vers)
	code, reason, _ := bytes.Cut(status, []byte(" "))
	if !ok || len(code) != 3 {
		return 0, fmt.Errorf("status line %q: %w", clip(line), ErrNotHTTP)
	}
	c, err := strconv.Atoi(string(code))
	if err != nil || c < 100 {
		return 0, fmt.Errorf("status code %q: %w", clip(code), ErrNotHTTP)
	}
	r.Version, r.StatusCode, r.Reason = ver, c, r.keep(reason)
	err = headers(rest, &r.Fields, func(name, value []byte) {
		switch {
		case equalFold(name, "location"):
			r.Location = r.keep(value)
		case equalFold(name, "server"):
			r.Server = r.keep(value)
		}
	})
	return n, err
}

// BodyLength returns the declared body length of a message head: the
// Content-Length, 0 for messages that have none, or -1 when the length is
// unknown (chunked, or a response delimited by connection close).
// requestMethod is the method of the request a response answers.
func BodyLength(f *Fields, status int, requestMethod string, isResponse bool) int64 {
	if isResponse && (requestMethod == "HEAD" || status/100 == 1 || status == 204 || status == 304) {
		return 0
	}
	if f.Chunked {
		return -1
	}
	if f.ContentLength >= 0 {
		return f.ContentLength
	}
	if isResponse {
		return -1
	}
	return 0
}

// knownMethods are returned without allocating.
var knownMethods = []string{"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE", "PROPFIND"}

func method(b []byte) string {
	for _, m := range knownMethods {
		if string(b) == m {
			return m
		}
	}
	return string(b)
}

func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

func httpVersion(b []byte) (string, bool) {
	switch string(b) {
	case "HTTP/1.1":
		return "1.1", true
	case "HTTP/1.0":
		return "1.0", true
	}
	return "", false
}

// headers walks header lines, filling the common fields and calling fn for
// every header (value trimmed).
func headers(b []byte, f *Fields, fn func(name, value []byte)) error {
	f.ContentLength = -1
	var errs []error
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // obsolete line folding: ignored
		}
		f.HeaderCount++
		if f.HeaderCount > MaxHeaders {
			return fmt.Errorf("more than %d headers: %w", MaxHeaders, ErrTooLarge)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			errs = append(errs, fmt.Errorf("header %d %q: %w", f.HeaderCount, clip(line), ErrMalformed))
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case equalFold(name, "content-type"):
			f.ContentType = keepInto(value, &f.Truncated)
		case equalFold(name, "content-length"):
			if n, err := strconv.ParseInt(string(value), 10, 64); err == nil && n >= 0 && f.ContentLength < 0 {
				f.ContentLength = n
			}
		case equalFold(name, "transfer-encoding"):
			f.Chunked = hasSuffixFold(value, "chunked")
		}
		fn(name, value)
	}
	return errors.Join(errs...)
}

func (r *Request) keep(b []byte) string  { return keepInto(b, &r.Truncated) }
func (r *Response) keep(b []byte) string { return keepInto(b, &r.Truncated) }

func keepInto(b []byte, trunc *bool) string {
	if len(b) > MaxValueLen {
		*trunc = true
		b = b[:MaxValueLen]
	}
	return string(b)
}

func basicUser(cred []byte) []byte {
	var buf [512]byte
	if base64.StdEncoding.DecodedLen(len(cred)) > len(buf) {
		return nil
	}
	n, err := base64.StdEncoding.Decode(buf[:], cred)
	if err != nil {
		return nil
	}
	user, _, _ := bytes.Cut(buf[:n], []byte(":"))
	return bytes.Clone(user)
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func hasSuffixFold(b []byte, lower string) bool {
	return len(b) >= len(lower) && equalFold(b[len(b)-len(lower):], lower)
}

func clip(b []byte) []byte { return b[:min(len(b), 64)] }
