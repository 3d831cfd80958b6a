package httphead

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Request
		rest    string // bytes after the head
		wantErr error
	}{
		{
			name: "get",
			in:   "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\nBODY",
			want: Request{Method: "GET", URI: "/index.html?q=1", Host: "example.com", UserAgent: "curl/8.0",
				Fields: Fields{Version: "1.1", ContentLength: -1, HeaderCount: 3}},
			rest: "BODY",
		},
		{
			name: "post with body, LF only, case-insensitive names, basic auth",
			in:   "POST /login HTTP/1.0\nhOST:  a.b \ncontent-type: application/x-www-form-urlencoded\nContent-Length: 12\nAuthorization: Basic YWxpY2U6c2VjcmV0\n\nuser=a&pw=b",
			want: Request{Method: "POST", URI: "/login", Host: "a.b", AuthScheme: "Basic", BasicUser: "alice",
				Fields: Fields{Version: "1.0", ContentType: "application/x-www-form-urlencoded", ContentLength: 12, HeaderCount: 4}},
			rest: "user=a&pw=b",
		},
		{
			name: "chunked, empty user agent",
			in:   "PUT /x HTTP/1.1\r\nUser-Agent:\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
			want: Request{Method: "PUT", URI: "/x", Fields: Fields{Version: "1.1", ContentLength: -1, Chunked: true, HeaderCount: 2}},
			rest: "",
		},
		{
			name: "connect",
			in:   "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01",
			want: Request{Method: "CONNECT", URI: "example.com:443", Host: "example.com:443", Fields: Fields{Version: "1.1", ContentLength: -1, HeaderCount: 1}},
			rest: "\x16\x03\x01",
		},
		{name: "incomplete", in: "GET / HTTP/1.1\r\nHost: a\r\n", wantErr: ErrIncomplete},
		{name: "partial method", in: "GE", wantErr: ErrIncomplete},
		{name: "tls", in: "\x16\x03\x01\x02\x00", wantErr: ErrNotHTTP},
		{name: "lower-case method", in: "get / HTTP/1.1\r\n\r\n", wantErr: ErrNotHTTP},
		{name: "http/0.9", in: "GET /\r\n\r\n", wantErr: ErrNotHTTP},
		{name: "http/2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", wantErr: ErrNotHTTP},
		{name: "too large", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", MaxHeadSize), wantErr: ErrTooLarge},
		{name: "too many headers", in: "GET / HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", MaxHeaders+1) + "\r\n", wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			n, err := ParseRequest([]byte(tt.in), &r)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got := tt.in[n:]; got != tt.rest {
				t.Errorf("after head %q, want %q", got, tt.rest)
			}
			if r != tt.want {
				t.Errorf("got  %+v\nwant %+v", r, tt.want)
			}
		})
	}
}

func TestMalformedHeaderKeepsFields(t *testing.T) {
	var r Request
	in := "GET / HTTP/1.1\r\nbad line\r\nHost: h\r\nno-colon\r\n\r\n"
	n, err := ParseRequest([]byte(in), &r)
	if !errors.Is(err, ErrMalformed) || n != len(in) || r.Host != "h" {
		t.Fatalf("n=%d err=%v host=%q", n, err, r.Host)
	}
	if got := strings.Count(err.Error(), "malformed"); got != 2 {
		t.Errorf("%d problems reported, want 2: %v", got, err)
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Response
		wantErr error
	}{
		{
			name: "ok",
			in:   "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5\r\nServer: nginx\r\n\r\nhello",
			want: Response{StatusCode: 200, Reason: "OK", Server: "nginx",
				Fields: Fields{Version: "1.1", ContentType: "text/html; charset=utf-8", ContentLength: 5, HeaderCount: 3}},
		},
		{
			name: "redirect without reason",
			in:   "HTTP/1.0 302\r\nLocation: /next\r\n\r\n",
			want: Response{StatusCode: 302, Location: "/next", Fields: Fields{Version: "1.0", ContentLength: -1, HeaderCount: 1}},
		},
		{name: "partial", in: "HTTP/1", wantErr: ErrIncomplete},
		{name: "bad code", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: ErrNotHTTP},
		{name: "http2", in: "HTTP/2 200\r\n\r\n", wantErr: ErrNotHTTP},
		{name: "ssh", in: "SSH-2.0-x\r\n", wantErr: ErrNotHTTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Response
			_, err := ParseResponse([]byte(tt.in), &r)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && r != tt.want {
				t.Errorf("got  %+v\nwant %+v", r, tt.want)
			}
		})
	}
}

func TestBodyLength(t *testing.T) {
	tests := []struct {
		f      Fields
		status int
		method string
		resp   bool
		want   int64
	}{
		{Fields{ContentLength: 10}, 0, "", false, 10},
		{Fields{ContentLength: -1}, 0, "", false, 0},
		{Fields{ContentLength: -1, Chunked: true}, 0, "", false, -1},
		{Fields{ContentLength: 10}, 200, "HEAD", true, 0},
		{Fields{ContentLength: -1}, 304, "GET", true, 0},
		{Fields{ContentLength: -1}, 200, "GET", true, -1},
		{Fields{ContentLength: 7}, 200, "GET", true, 7},
	}
	for i, tt := range tests {
		if got := BodyLength(&tt.f, tt.status, tt.method, tt.resp); got != tt.want {
			t.Errorf("%d: %d, want %d", i, got, tt.want)
		}
	}
}

// TestIncremental feeds a pipelined stream byte by byte: every prefix
// either is incomplete or gives the same head.
func TestIncremental(t *testing.T) {
	in := []byte("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: y\r\n\r\n")
	var r Request
	var hosts []string
	off := 0
	for end := 1; end <= len(in); end++ {
		n, err := ParseRequest(in[off:end], &r)
		if errors.Is(err, ErrIncomplete) {
			continue
		}
		if err != nil {
			t.Fatalf("prefix %d: %v", end, err)
		}
		hosts = append(hosts, r.Host)
		off += n + int(BodyLength(&r.Fields, 0, "", false))
		if off > end {
			end = off
		}
	}
	if strings.Join(hosts, ",") != "x,y" {
		t.Fatalf("hosts = %q", hosts)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic YTpi\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Request
		if n, err := ParseRequest(in, &r); n > len(in) || n > MaxHeadSize || (err == nil && n == 0) {
			t.Fatalf("request n=%d len=%d err=%v", n, len(in), err)
		}
		var s Response
		if n, err := ParseResponse(in, &s); n > len(in) || n > MaxHeadSize || (err == nil && n == 0) {
			t.Fatalf("response n=%d len=%d err=%v", n, len(in), err)
		}
		if len(r.URI) > MaxValueLen || len(r.UserAgent) > MaxValueLen {
			t.Fatal("value over limit")
		}
	})
}

func BenchmarkParseRequest(b *testing.B) {
	in := []byte("GET /search?q=mangrove HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\r\nAccept: text/html\r\nAccept-Language: vi,en\r\nConnection: keep-alive\r\n\r\n")
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseRequest(in, &r); err != nil {
			b.Fatal(err)
		}
	}
}
