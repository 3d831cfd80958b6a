// Package tlshello parses TLS ClientHello and ServerHello messages from the
// first bytes of a TCP stream and computes the JA3, JA3S and JA4 (TLS client)
// fingerprints. It is a pure byte parser: it knows nothing about packets and
// never panics on any input. Other JA4+ fingerprints are deliberately absent
// (their licence is not open).
package tlshello

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits. A handshake message larger than MaxHelloSize is rejected: real
// hellos (even with post-quantum key shares) are under 4 KiB.
const (
	// MaxHelloSize bounds the hello handshake message body in bytes.
	MaxHelloSize = 16 << 10
	// MaxRecordSize is the largest TLS record payload accepted (2^14 plus
	// the 2048 bytes of expansion TLS 1.2 allows).
	MaxRecordSize = 1<<14 + 2048
	// MaxListLen bounds every list kept (ciphers, extensions, groups,
	// signature algorithms, ALPN values, versions); extra entries are counted
	// but not stored.
	MaxListLen = 256
)

// Handshake message types.
const (
	TypeClientHello = 1
	TypeServerHello = 2
)

// Errors returned by the parsers. All are wrapped with context; test with
// errors.Is.
var (
	// ErrNotTLS means the stream does not start with a TLS handshake record.
	ErrNotTLS = errors.New("tlshello: not a TLS handshake")
	// ErrMalformed means a length or field is inconsistent.
	ErrMalformed = errors.New("tlshello: malformed hello")
	// ErrTooLarge means a limit was exceeded.
	ErrTooLarge = errors.New("tlshello: hello exceeds limit")
	// ErrUnexpected means the first handshake message is not the expected
	// hello type.
	ErrUnexpected = errors.New("tlshello: unexpected handshake type")
)

// Extension type numbers used by the parser.
const (
	extServerName          = 0x0000
	extSupportedGroups     = 0x000a
	extECPointFormats      = 0x000b
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
)

// IsGREASE reports whether v is a GREASE value (RFC 8701): both bytes equal
// and of the form 0x?A.
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// ClientHello is the parsed content of a ClientHello. Slices keep wire order
// and include GREASE values; fingerprints filter them. A ClientHello may be
// reused across parses: Parse resets it and reuses its slices' storage.
type ClientHello struct {
	// RecordVersion is the version of the first record header (0 when the
	// message was parsed without records).
	RecordVersion uint16
	// Version is the legacy_version field.
	Version uint16
	// SessionIDLen is the length of the legacy session id.
	SessionIDLen int
	// ServerName is the first host_name of the server_name extension, as
	// sent (not lower-cased), "" when absent.
	ServerName string
	// HasSNI reports whether the server_name extension was present.
	HasSNI bool
	// CipherSuites, Extensions, SupportedGroups, SignatureAlgorithms and
	// SupportedVersions are the respective lists in wire order.
	CipherSuites        []uint16
	Extensions          []uint16
	SupportedGroups     []uint16
	SignatureAlgorithms []uint16
	SupportedVersions   []uint16
	// ECPointFormats is the ec_point_formats list.
	ECPointFormats []uint8
	// ALPN is the list of offered application protocols.
	ALPN []string
	// Truncated is true when a list exceeded MaxListLen and was cut.
	Truncated bool
}

// ServerHello is the parsed content of a ServerHello.
type ServerHello struct {
	RecordVersion uint16
	// Version is the legacy_version field.
	Version uint16
	// SelectedVersion is the supported_versions value, 0 when absent.
	SelectedVersion uint16
	// CipherSuite is the chosen cipher suite.
	CipherSuite uint16
	// Compression is the chosen compression method.
	Compression uint8
	// Extensions lists extension types in wire order.
	Extensions []uint16
	// ALPN is the selected protocol, "" when absent.
	ALPN      string
	Truncated bool
}

// NegotiatedVersion returns SelectedVersion when present, else Version.
func (s *ServerHello) NegotiatedVersion() uint16 {
	if s.SelectedVersion != 0 {
		return s.SelectedVersion
	}
	return s.Version
}

// reader is a bounds-checked cursor; after any failed read ok is false and
// every further read returns zero values.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) u8() uint8 {
	if !r.ok || len(r.b) < 1 {
		r.ok = false
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if !r.ok || len(r.b) < 2 {
		r.ok = false
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.ok || n < 0 || len(r.b) < n {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) vec8() []byte  { return r.bytes(int(r.u8())) }
func (r *reader) vec16() []byte { return r.bytes(int(r.u16())) }

// appendU16s appends the big-endian uint16s of b to dst, bounded by MaxListLen.
func appendU16s(dst []uint16, b []byte, trunc *bool) ([]uint16, bool) {
	if len(b)%2 != 0 {
		return dst, false
	}
	for i := 0; i+1 < len(b); i += 2 {
		if len(dst) >= MaxListLen {
			*trunc = true
			break
		}
		dst = append(dst, binary.BigEndian.Uint16(b[i:]))
	}
	return dst, true
}

func (c *ClientHello) reset() {
	*c = ClientHello{
		CipherSuites:        c.CipherSuites[:0],
		Extensions:          c.Extensions[:0],
		SupportedGroups:     c.SupportedGroups[:0],
		SignatureAlgorithms: c.SignatureAlgorithms[:0],
		SupportedVersions:   c.SupportedVersions[:0],
		ECPointFormats:      c.ECPointFormats[:0],
		ALPN:                c.ALPN[:0],
	}
}

// ParseClientHello parses a ClientHello handshake message body (after the
// 4-byte handshake header) into c.
func ParseClientHello(body []byte, c *ClientHello) error {
	c.reset()
	if len(body) > MaxHelloSize {
		return fmt.Errorf("client hello of %d bytes: %w", len(body), ErrTooLarge)
	}
	r := reader{b: body, ok: true}
	c.Version = r.u16()
	r.bytes(32)
	c.SessionIDLen = len(r.vec8())
	ciphers := r.vec16()
	r.vec8() // compression methods
	if !r.ok {
		return fmt.Errorf("client hello header: %w", ErrMalformed)
	}
	var ok bool
	if c.CipherSuites, ok = appendU16s(c.CipherSuites, ciphers, &c.Truncated); !ok {
		return fmt.Errorf("client hello cipher list of odd length %d: %w", len(ciphers), ErrMalformed)
	}
	if len(r.b) == 0 {
		return nil // no extensions (SSL 3.0 / early TLS)
	}
	exts := r.vec16()
	if !r.ok {
		return fmt.Errorf("client hello extensions block: %w", ErrMalformed)
	}
	er := reader{b: exts, ok: true}
	for len(er.b) > 0 {
		typ := er.u16()
		data := er.vec16()
		if !er.ok {
			return fmt.Errorf("client hello extension %d: %w", len(c.Extensions), ErrMalformed)
		}
		if len(c.Extensions) < MaxListLen {
			c.Extensions = append(c.Extensions, typ)
		} else {
			c.Truncated = true
		}
		if err := c.parseExtension(typ, data); err != nil {
			return err
		}
	}
	return nil
}

func (c *ClientHello) parseExtension(typ uint16, data []byte) error {
	d := reader{b: data, ok: true}
	var ok = true
	switch typ {
	case extServerName:
		c.HasSNI = true
		list := reader{b: d.vec16(), ok: d.ok}
		for list.ok && len(list.b) > 0 {
			nameType := list.u8()
			name := list.vec16()
			if list.ok && nameType == 0 && c.ServerName == "" {
				c.ServerName = string(name)
			}
		}
		ok = list.ok
	case extALPN:
		list := reader{b: d.vec16(), ok: d.ok}
		for list.ok && len(list.b) > 0 {
			p := list.vec8()
			if !list.ok {
				break
			}
			if len(c.ALPN) < MaxListLen {
				c.ALPN = append(c.ALPN, string(p))
			} else {
				c.Truncated = true
			}
		}
		ok = list.ok
	case extSupportedGroups:
		v := d.vec16()
		if d.ok {
			c.SupportedGroups, ok = appendU16s(c.SupportedGroups, v, &c.Truncated)
		}
	case extSignatureAlgorithms:
		v := d.vec16()
		if d.ok {
			c.SignatureAlgorithms, ok = appendU16s(c.SignatureAlgorithms, v, &c.Truncated)
		}
	case extSupportedVersions:
		v := d.vec8()
		if d.ok {
			c.SupportedVersions, ok = appendU16s(c.SupportedVersions, v, &c.Truncated)
		}
	case extECPointFormats:
		v := d.vec8()
		for _, f := range v {
			if len(c.ECPointFormats) >= MaxListLen {
				c.Truncated = true
				break
			}
			c.ECPointFormats = append(c.ECPointFormats, f)
		}
	default:
		return nil
	}
	if !d.ok || !ok {
		return fmt.Errorf("client hello extension 0x%04x: %w", typ, ErrMalformed)
	}
	return nil
}

// ParseServerHello parses a ServerHello handshake message body into s.
func ParseServerHello(body []byte, s *ServerHello) error {
	*s = ServerHello{Extensions: s.Extensions[:0]}
	if len(body) > MaxHelloSize {
		return fmt.Errorf("server hello of %d bytes: %w", len(body), ErrTooLarge)
	}
	r := reader{b: body, ok: true}
	s.Version = r.u16()
	r.bytes(32)
	if s.Version>>8 == 0x7f && s.Version&0xff < 22 {
		// TLS 1.3 drafts before 22: no session id, no compression.
		s.CipherSuite = r.u16()
	} else {
		r.vec8()
		s.CipherSuite = r.u16()
		s.Compression = r.u8()
	}
	if !r.ok {
		return fmt.Errorf("server hello header: %w", ErrMalformed)
	}
	if len(r.b) == 0 {
		return nil
	}
	exts := r.vec16()
	if !r.ok {
		return fmt.Errorf("server hello extensions block: %w", ErrMalformed)
	}
	er := reader{b: exts, ok: true}
	for len(er.b) > 0 {
		typ := er.u16()
		data := er.vec16()
		if !er.ok {
			return fmt.Errorf("server hello extension %d: %w", len(s.Extensions), ErrMalformed)
		}
		if len(s.Extensions) < MaxListLen {
			s.Extensions = append(s.Extensions, typ)
		} else {
			s.Truncated = true
		}
		d := reader{b: data, ok: true}
		switch typ {
		case extSupportedVersions:
			s.SelectedVersion = d.u16()
		case extALPN:
			list := reader{b: d.vec16(), ok: d.ok}
			s.ALPN = string(list.vec8())
			d.ok = list.ok
		}
		if !d.ok {
			return fmt.Errorf("server hello extension 0x%04x: %w", typ, ErrMalformed)
		}
	}
	return nil
}
