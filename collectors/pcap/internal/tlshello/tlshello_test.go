package tlshello

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// hello describes a ClientHello to build for tests.
type hello struct {
	version  uint16
	ciphers  []uint16
	exts     [][2]any // {type uint16, data []byte}
	noExtBlk bool
}

func u16s(vs ...uint16) []byte {
	b := make([]byte, 0, 2*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func vec16(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }

func sniExt(name string) [2]any {
	return [2]any{uint16(extServerName), vec16(append([]byte{0}, vec16([]byte(name))...))}
}

func alpnExt(protos ...string) [2]any {
	var l []byte
	for _, p := range protos {
		l = append(l, vec8([]byte(p))...)
	}
	return [2]any{uint16(extALPN), vec16(l)}
}

// body returns the ClientHello handshake body.
func (h hello) body() []byte {
	b := binary.BigEndian.AppendUint16(nil, h.version)
	b = append(b, make([]byte, 32)...)
	b = append(b, vec8(make([]byte, 32))...)
	b = append(b, vec16(u16s(h.ciphers...))...)
	b = append(b, 1, 0)
	if h.noExtBlk {
		return b
	}
	var e []byte
	for _, x := range h.exts {
		e = binary.BigEndian.AppendUint16(e, x[0].(uint16))
		e = append(e, vec16(x[1].([]byte))...)
	}
	return append(b, vec16(e)...)
}

// records wraps a handshake message of type typ in TLS records of at most
// recSize payload bytes.
func records(typ byte, body []byte, recSize int) []byte {
	msg := append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	var out []byte
	for len(msg) > 0 {
		n := min(recSize, len(msg))
		out = append(out, contentHandshake, 3, 1, byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// chrome is a Chrome-like ClientHello with GREASE values.
var chrome = hello{
	version: 0x0303,
	ciphers: []uint16{0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b},
	exts: [][2]any{
		{uint16(0x1a1a), []byte{}},
		sniExt("Example.COM"),
		{uint16(extSupportedGroups), vec16(u16s(0x2a2a, 0x001d, 0x0017))},
		{uint16(extECPointFormats), vec8([]byte{0})},
		alpnExt("h2", "http/1.1"),
		{uint16(extSignatureAlgorithms), vec16(u16s(0x0403, 0x0804, 0x0401))},
		{uint16(extSupportedVersions), vec8(u16s(0x3a3a, 0x0304, 0x0303))},
		{uint16(0x0033), vec16(nil)},
	},
}

func TestClientHello(t *testing.T) {
	tests := []struct {
		name               string
		h                  hello
		sni, ja3, ja4, ver string
		alpn               string
		wantErr            error
	}{
		{
			name: "chrome-like with GREASE",
			h:    chrome,
			sni:  "Example.COM",
			ja3:  "771,4865-4866-4867-49195,0-10-11-16-13-43-51,29-23,0",
			// a: t 13 d 04 ciphers 07 extensions h2
			ja4:  "t13d0407h2_" + sha12("1301,1302,1303,c02b") + "_" + sha12("000a,000b,000d,002b,0033_0403,0804,0401"),
			ver:  "13",
			alpn: "h2",
		},
		{
			name: "no extensions block",
			h:    hello{version: 0x0301, ciphers: []uint16{0x002f}, noExtBlk: true},
			ja3:  "769,47,,,",
			ja4:  "t10i010000_" + sha12("002f") + "_000000000000",
			ver:  "10",
		},
		{
			name: "empty ciphers",
			h:    hello{version: 0x0303, exts: [][2]any{alpnExt("\xffx\xfe")}},
			ja3:  "771,,16,,",
			ja4:  "t12i000199_000000000000_000000000000",
			ver:  "12",
			alpn: "\xffx\xfe",
		},
		{
			name:    "truncated SNI extension",
			h:       hello{version: 0x0303, ciphers: []uint16{1}, exts: [][2]any{{uint16(extServerName), []byte{0, 9, 0}}}},
			wantErr: ErrMalformed,
		},
		{
			name:    "odd supported_groups",
			h:       hello{version: 0x0303, ciphers: []uint16{1}, exts: [][2]any{{uint16(extSupportedGroups), vec16([]byte{1, 2, 3})}}},
			wantErr: ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c ClientHello
			err := ParseClientStream(records(TypeClientHello, tt.h.body(), 1<<14), &c)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ServerName != tt.sni {
				t.Errorf("sni = %q, want %q", c.ServerName, tt.sni)
			}
			if s, h := c.JA3(); s != tt.ja3 || h != md5Hex([]byte(tt.ja3)) {
				t.Errorf("ja3 = %q %s, want %q", s, h, tt.ja3)
			}
			if got := c.JA4(ProtoTCP); got != tt.ja4 {
				t.Errorf("ja4 = %s, want %s", got, tt.ja4)
			}
			if got := c.JA4Version(); got != tt.ver {
				t.Errorf("version = %s, want %s", got, tt.ver)
			}
			if tt.alpn != "" && (len(c.ALPN) == 0 || c.ALPN[0] != tt.alpn) {
				t.Errorf("alpn = %q, want first %q", c.ALPN, tt.alpn)
			}
		})
	}
}

func sha12(s string) string {
	var b []byte
	return string(appendTruncSHA(b, []byte(s)))
}

// TestKnownJA4 checks the published example: Chrome's ClientHello from
// FoxIO's tls-handshake capture gives t13d1516h2_8daaf6152771_e5627efa2ab1.
func TestKnownJA4(t *testing.T) {
	c := ClientHello{
		Version:             0x0303,
		HasSNI:              true,
		CipherSuites:        []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		Extensions:          []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015},
		SignatureAlgorithms: []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601},
		SupportedVersions:   []uint16{0x0304, 0x0303},
		ALPN:                []string{"h2", "http/1.1"},
	}
	if got, want := c.JA4(ProtoTCP), "t13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
		t.Fatalf("ja4 = %s, want %s", got, want)
	}
}

// TestStreamSplits feeds a hello split into small records and arbitrary
// segment boundaries; every split must give the same result.
func TestStreamSplits(t *testing.T) {
	want := chrome.body()
	for _, recSize := range []int{1, 7, 100, 1 << 14} {
		stream := records(TypeClientHello, want, recSize)
		stream = append(stream, 23, 3, 3, 0, 1, 0xff) // application data after
		for _, seg := range []int{1, 3, 5, 64, len(stream)} {
			var s Stream
			var done bool
			var err error
			for i := 0; i < len(stream); i += seg {
				done, err = s.Feed(stream[i:min(i+seg, len(stream))])
				if err != nil {
					t.Fatalf("rec %d seg %d: %v", recSize, seg, err)
				}
			}
			if !done {
				t.Fatalf("rec %d seg %d: not done", recSize, seg)
			}
			typ, body, _ := s.Message()
			if typ != TypeClientHello || string(body) != string(want) {
				t.Fatalf("rec %d seg %d: message differs", recSize, seg)
			}
			var c ClientHello
			if err := s.ClientHello(&c); err != nil || c.ServerName != "Example.COM" {
				t.Fatalf("rec %d seg %d: %v %q", recSize, seg, err, c.ServerName)
			}
		}
	}
}

func TestStreamErrors(t *testing.T) {
	big := records(TypeClientHello, make([]byte, MaxHelloSize+1), 1<<14)
	tests := []struct {
		name string
		in   []byte
		want error
		done bool
	}{
		{"http", []byte("GET / HTTP/1.1\r\n"), ErrNotTLS, false},
		{"one byte not tls", []byte("G"), ErrNotTLS, false},
		{"ssh", []byte("SSH-2.0-x\r\n"), ErrNotTLS, false},
		{"wrong major version", []byte{22, 2, 0, 0, 4}, ErrNotTLS, false},
		{"record too large", []byte{22, 3, 1, 0xff, 0xff}, ErrTooLarge, false},
		{"hello too large", big, ErrTooLarge, false},
		{"alert inside message", append(records(1, make([]byte, 100), 50)[:55], 21, 3, 3, 0, 2, 2, 40), ErrMalformed, false},
		{"incomplete", records(1, make([]byte, 100), 1<<14)[:50], nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Stream
			done, err := s.Feed(tt.in)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) || done != tt.done {
				t.Fatalf("Feed = %v, %v; want %v, %v", done, err, tt.done, tt.want)
			}
			if _, err2 := s.Feed([]byte{1}); err2 != err {
				t.Fatalf("error not sticky: %v then %v", err, err2)
			}
			if tt.want == nil {
				var c ClientHello
				if err := s.ClientHello(&c); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("ClientHello = %v, want ErrIncomplete", err)
				}
			}
		})
	}
}

// TestSkippedRecords checks that a few alert or change_cipher_spec records
// before the hello are skipped, and that more than maxSkippedRecords are not.
func TestSkippedRecords(t *testing.T) {
	alert := []byte{21, 3, 3, 0, 2, 1, 0}
	hello := records(TypeClientHello, chrome.body(), 1<<14)
	var c ClientHello
	if err := ParseClientStream(append(append([]byte{}, alert...), hello...), &c); err != nil || c.ServerName != "Example.COM" {
		t.Fatalf("alert then hello: %v %q", err, c.ServerName)
	}
	many := append(bytesRepeat(alert, maxSkippedRecords+1), hello...)
	if err := ParseClientStream(many, &c); !errors.Is(err, ErrNotTLS) {
		t.Fatalf("%d alerts then hello: %v, want ErrNotTLS", maxSkippedRecords+1, err)
	}
}

func bytesRepeat(b []byte, n int) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}

func TestServerHello(t *testing.T) {
	b := binary.BigEndian.AppendUint16(nil, 0x0303)
	b = append(b, make([]byte, 32)...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, 0x1301)
	b = append(b, 0)
	var e []byte
	e = append(e, u16s(extSupportedVersions, 2, 0x0304)...)
	e = append(e, u16s(extALPN)...)
	e = append(e, vec16(vec16(vec8([]byte("h2"))))...)
	e = append(e, u16s(0x0033, 0)...)
	b = append(b, vec16(e)...)
	var s ServerHello
	if err := ParseServerStream(records(TypeServerHello, b, 10), &s); err != nil {
		t.Fatal(err)
	}
	str, hash := s.JA3S()
	if str != "771,4865,43-16-51" || hash != md5Hex([]byte(str)) {
		t.Errorf("ja3s = %q %s", str, hash)
	}
	if s.NegotiatedVersion() != 0x0304 || s.ALPN != "h2" || s.CipherSuite != 0x1301 {
		t.Errorf("server hello = %+v", s)
	}
	var c ClientHello
	if err := ParseServerStream(records(TypeClientHello, chrome.body(), 100), &s); !errors.Is(err, ErrUnexpected) {
		t.Errorf("client hello as server hello: %v", err)
	}
	if err := ParseClientStream(records(TypeServerHello, b, 100), &c); !errors.Is(err, ErrUnexpected) {
		t.Errorf("server hello as client hello: %v", err)
	}
}

func TestIsGREASE(t *testing.T) {
	n := 0
	for v := 0; v <= 0xffff; v++ {
		if IsGREASE(uint16(v)) {
			n++
			if !strings.HasSuffix(strings.ToLower(string(appendHexList(nil, []uint16{uint16(v)}))), "a") {
				t.Errorf("%04x", v)
			}
		}
	}
	if n != 16 {
		t.Fatalf("%d GREASE values, want 16", n)
	}
}

func FuzzStream(f *testing.F) {
	f.Add(records(TypeClientHello, chrome.body(), 1<<14), 3)
	f.Add(records(TypeClientHello, chrome.body(), 9), 1)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 4)
	f.Fuzz(func(t *testing.T, in []byte, seg int) {
		if seg <= 0 || seg > len(in) {
			seg = len(in) + 1
		}
		var s Stream
		for i := 0; i < len(in); i += seg {
			s.Feed(in[i:min(i+seg, len(in))])
		}
		if len(s.pending) > maxPendingRecords || len(s.msg) > MaxHelloSize+handshakeHdrLen {
			t.Fatalf("buffers over limit: %d %d", len(s.pending), len(s.msg))
		}
		var c ClientHello
		if s.ClientHello(&c) == nil {
			c.JA3()
			c.JA4(ProtoTCP)
		}
		var h ServerHello
		if s.ServerHello(&h) == nil {
			h.JA3S()
		}
		// Also parse the raw input as a handshake body.
		if ParseClientHello(in, &c) == nil {
			c.JA4(ProtoQUIC)
		}
		if ParseServerHello(in, &h) == nil {
			h.JA3S()
		}
	})
}

func BenchmarkClientHello(b *testing.B) {
	stream := records(TypeClientHello, chrome.body(), 1<<14)
	var s Stream
	var c ClientHello
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		s.Reset()
		if _, err := s.Feed(stream[:40]); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Feed(stream[40:]); err != nil {
			b.Fatal(err)
		}
		if err := s.ClientHello(&c); err != nil {
			b.Fatal(err)
		}
		buf = c.AppendJA4(buf[:0], ProtoTCP)
		buf = c.AppendJA3(buf[:0])
	}
}
