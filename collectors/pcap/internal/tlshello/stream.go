package tlshello

import (
	"errors"
	"fmt"
)

// ErrIncomplete is returned by the one-shot parsers when the stream prefix
// ends before the hello is complete.
var ErrIncomplete = errors.New("tlshello: incomplete hello")

const (
	recordHeaderLen         = 5
	handshakeHdrLen         = 4
	contentHandshake        = 22
	contentAlert            = 21
	contentChangeCipherSpec = 20
	// maxSkippedRecords bounds the alert and change_cipher_spec records
	// skipped before the first handshake message.
	maxSkippedRecords = 4
	maxPendingRecords = MaxRecordSize + recordHeaderLen
)

// Stream extracts the first handshake message from one direction of a TCP
// stream, fed in order, possibly split across many TLS records and TCP
// segments. Memory is bounded: at most one partial record (MaxRecordSize) and
// one handshake message (MaxHelloSize) are buffered. The zero Stream is ready
// to use; Reset makes it reusable while keeping its buffers.
type Stream struct {
	pending []byte // bytes of a not yet complete record
	msg     []byte // handshake bytes gathered from records
	recVer  uint16
	skipped int // alert/change_cipher_spec records skipped before the hello
	done    bool
	err     error
}

// Reset clears the stream for reuse.
func (s *Stream) Reset() {
	*s = Stream{pending: s.pending[:0], msg: s.msg[:0]}
}

// Done reports whether the first handshake message is complete.
func (s *Stream) Done() bool { return s.done }

// Err returns the error that stopped the stream, if any.
func (s *Stream) Err() error { return s.err }

// Feed appends the next in-order stream bytes. It returns done=true once the
// first handshake message is complete (later bytes are ignored), or an error
// when the stream is not TLS, malformed, or over a limit; after an error
// every Feed returns the same error. Feed does not retain b.
func (s *Stream) Feed(b []byte) (done bool, err error) {
	if s.done || s.err != nil {
		return s.done, s.err
	}
	for len(b) > 0 && !s.done && s.err == nil {
		// Fast path: whole records directly in b, nothing pending.
		if len(s.pending) == 0 && len(b) >= recordHeaderLen {
			n := recordLen(b)
			if err := s.checkHeader(b); err != nil {
				s.err = err
				break
			}
			if len(b) >= recordHeaderLen+n {
				s.record(b[:recordHeaderLen+n])
				b = b[recordHeaderLen+n:]
				continue
			}
		}
		// Slow path: gather a record in pending.
		need := recordHeaderLen
		if len(s.pending) >= recordHeaderLen {
			need += recordLen(s.pending)
		}
		take := min(need-len(s.pending), len(b))
		s.pending = append(s.pending, b[:take]...)
		b = b[take:]
		if len(s.pending) == recordHeaderLen {
			if err := s.checkHeader(s.pending); err != nil {
				s.err = err
				break
			}
			if recordLen(s.pending) == 0 {
				s.record(s.pending)
				s.pending = s.pending[:0]
			}
			continue
		}
		if len(s.pending) > recordHeaderLen && len(s.pending) == recordHeaderLen+recordLen(s.pending) {
			s.record(s.pending)
			s.pending = s.pending[:0]
		}
	}
	// Early rejection of non-TLS streams shorter than a record header.
	if s.err == nil && !s.done && len(s.pending) > 0 && len(s.pending) < recordHeaderLen {
		if (s.pending[0] != contentHandshake && s.pending[0] != contentAlert && s.pending[0] != contentChangeCipherSpec) || (len(s.pending) > 1 && s.pending[1] != 3) {
			s.err = fmt.Errorf("first byte 0x%02x: %w", s.pending[0], ErrNotTLS)
		}
	}
	return s.done, s.err
}

func recordLen(h []byte) int { return int(h[3])<<8 | int(h[4]) }

func (s *Stream) checkHeader(h []byte) error {
	if h[0] != contentHandshake {
		if len(s.msg) == 0 && s.skipped < maxSkippedRecords && (h[0] == contentAlert || h[0] == contentChangeCipherSpec) && h[1] == 3 {
			return nil // skipped by record
		}
		if len(s.msg) == 0 {
			return fmt.Errorf("record type %d: %w", h[0], ErrNotTLS)
		}
		return fmt.Errorf("record type %d inside a handshake message: %w", h[0], ErrMalformed)
	}
	if h[1] != 3 {
		return fmt.Errorf("record version 0x%02x%02x: %w", h[1], h[2], ErrNotTLS)
	}
	if n := recordLen(h); n > MaxRecordSize {
		return fmt.Errorf("record of %d bytes: %w", n, ErrTooLarge)
	}
	return nil
}

// record consumes one complete handshake record.
func (s *Stream) record(rec []byte) {
	if rec[0] != contentHandshake {
		// An alert or change_cipher_spec before the hello (checkHeader
		// allowed it): skip it.
		s.skipped++
		return
	}
	if s.recVer == 0 {
		s.recVer = uint16(rec[1])<<8 | uint16(rec[2])
	}
	payload := rec[recordHeaderLen:]
	if len(s.msg) < handshakeHdrLen {
		s.msg = append(s.msg, payload...)
	} else {
		want := handshakeHdrLen + msgLen(s.msg) - len(s.msg)
		s.msg = append(s.msg, payload[:min(want, len(payload))]...)
	}
	if len(s.msg) < handshakeHdrLen {
		return
	}
	n := msgLen(s.msg)
	if n > MaxHelloSize {
		s.err = fmt.Errorf("handshake message of %d bytes: %w", n, ErrTooLarge)
		return
	}
	if len(s.msg) >= handshakeHdrLen+n {
		s.msg = s.msg[:handshakeHdrLen+n]
		s.done = true
	}
}

func msgLen(m []byte) int { return int(m[1])<<16 | int(m[2])<<8 | int(m[3]) }

// Message returns the type and body of the first handshake message once Done.
// The body aliases the Stream's buffer and is valid until the next Reset.
func (s *Stream) Message() (typ uint8, body []byte, ok bool) {
	if !s.done {
		return 0, nil, false
	}
	return s.msg[0], s.msg[handshakeHdrLen:], true
}

// RecordVersion returns the version of the first record header, 0 before any.
func (s *Stream) RecordVersion() uint16 { return s.recVer }

// ClientHello parses the completed message as a ClientHello.
func (s *Stream) ClientHello(c *ClientHello) error {
	typ, body, ok := s.Message()
	if !ok {
		if s.err != nil {
			return s.err
		}
		return ErrIncomplete
	}
	if typ != TypeClientHello {
		return fmt.Errorf("handshake type %d, want client hello: %w", typ, ErrUnexpected)
	}
	err := ParseClientHello(body, c)
	c.RecordVersion = s.recVer
	return err
}

// ServerHello parses the completed message as a ServerHello.
func (s *Stream) ServerHello(h *ServerHello) error {
	typ, body, ok := s.Message()
	if !ok {
		if s.err != nil {
			return s.err
		}
		return ErrIncomplete
	}
	if typ != TypeServerHello {
		return fmt.Errorf("handshake type %d, want server hello: %w", typ, ErrUnexpected)
	}
	err := ParseServerHello(body, h)
	h.RecordVersion = s.recVer
	return err
}

// ParseClientStream parses the ClientHello at the start of a reassembled
// client stream prefix. It returns ErrIncomplete when more bytes are needed.
func ParseClientStream(prefix []byte, c *ClientHello) error {
	var s Stream
	if _, err := s.Feed(prefix); err != nil {
		return err
	}
	return s.ClientHello(c)
}

// ParseServerStream parses the ServerHello at the start of a reassembled
// server stream prefix. It returns ErrIncomplete when more bytes are needed.
func ParseServerStream(prefix []byte, h *ServerHello) error {
	var s Stream
	if _, err := s.Feed(prefix); err != nil {
		return err
	}
	return s.ServerHello(h)
}
