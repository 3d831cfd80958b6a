package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Framing is how messages are delimited on a stream (RFC 6587).
type framing uint8

const (
	framingUnknown framing = iota
	// framingOctet is octet counting: "LEN SP MSG".
	framingOctet
	// framingNewline is non-transparent framing: MSG LF.
	framingNewline
)

func (f framing) String() string {
	switch f {
	case framingOctet:
		return "octet-counting"
	case framingNewline:
		return "newline"
	}
	return "unknown"
}

// errTooLong reports a message longer than the maximum; it was skipped and
// the stream stays usable.
var errTooLong = errors.New("syslog message longer than max_message_size")

// errFraming reports an octet-counting header that is not a number: the
// stream cannot be resynchronized.
var errFraming = errors.New("bad octet-counting frame header")

// maxHeader is the longest octet-counting header we read ("LEN SP").
const maxHeader = 10

// framer splits a stream into messages, detecting the framing from the
// first byte: a digit means octet counting, anything else newline framing.
// A read error (a deadline, say) leaves buffered data in place, so next can
// be called again.
type framer struct {
	r          io.Reader
	buf        []byte
	start, end int
	max        int
	mode       framing
	skip       int  // octet counting: bytes of an oversize message left to skip
	skipLine   bool // newline framing: skipping an oversize line
	eof        bool
	bytesRead  int64
}

func newFramer(r io.Reader, max int) *framer {
	return &framer{r: r, buf: make([]byte, max+maxHeader+2), max: max}
}

// next returns the next message, valid until the following call. At the end
// of the stream it returns io.EOF; a last unterminated newline-framed
// message is returned first.
func (f *framer) next() ([]byte, error) {
	for {
		if msg, err, ok := f.scan(); ok {
			return msg, err
		}
		if f.eof {
			if f.mode == framingNewline && f.end > f.start && !f.skipLine {
				msg := f.buf[f.start:f.end]
				f.start = f.end
				return msg, nil
			}
			if f.mode == framingOctet && (f.end > f.start || f.skip > 0) && !onlySpace(f.buf[f.start:f.end]) {
				f.start = f.end
				return nil, fmt.Errorf("stream ended inside an octet-counted frame: %w", io.ErrUnexpectedEOF)
			}
			return nil, io.EOF
		}
		if err := f.fill(); err != nil {
			return nil, err
		}
	}
}

// scan looks for a complete message in the buffer; ok false means more
// input is needed.
func (f *framer) scan() (msg []byte, err error, ok bool) {
	for {
		if f.skip > 0 {
			n := min(f.skip, f.end-f.start)
			f.skip -= n
			f.start += n
			if f.skip > 0 {
				return nil, nil, false
			}
		}
		data := f.buf[f.start:f.end]
		if len(data) == 0 {
			return nil, nil, false
		}
		if f.mode == framingUnknown {
			if data[0] >= '0' && data[0] <= '9' {
				f.mode = framingOctet
			} else {
				f.mode = framingNewline
			}
		}
		if f.mode == framingNewline {
			i := bytes.IndexByte(data, '\n')
			if f.skipLine {
				if i < 0 {
					f.start = f.end
					return nil, nil, false
				}
				f.skipLine = false
				f.start += i + 1
				continue
			}
			if i < 0 {
				if len(data) > f.max {
					f.skipLine = true
					f.start = f.end
					return nil, errTooLong, true
				}
				return nil, nil, false
			}
			f.start += i + 1
			if i == 0 || (i == 1 && data[0] == '\r') {
				continue // empty line
			}
			if i > f.max {
				return nil, errTooLong, true
			}
			return data[:i], nil, true
		}
		// Octet counting; tolerate separators some senders add between frames.
		j := 0
		for j < len(data) && (data[j] == '\n' || data[j] == '\r' || data[j] == ' ') {
			j++
		}
		f.start += j
		data = data[j:]
		n, h := 0, 0
		for h < len(data) && h < maxHeader && data[h] >= '0' && data[h] <= '9' {
			n = n*10 + int(data[h]-'0')
			h++
		}
		if h == len(data) {
			return nil, nil, false
		}
		if h == 0 || h == maxHeader || data[h] != ' ' {
			return nil, errFraming, true
		}
		if n > f.max {
			f.start += h + 1
			f.skip = n
			return nil, errTooLong, true
		}
		if len(data) < h+1+n {
			return nil, nil, false
		}
		f.start += h + 1 + n
		if n == 0 {
			continue
		}
		return data[h+1 : h+1+n], nil, true
	}
}

// fill reads more input, first moving buffered bytes to the front.
func (f *framer) fill() error {
	if f.start > 0 {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
	}
	if f.end == len(f.buf) {
		// Cannot happen: scan reports errTooLong before the buffer fills.
		return errTooLong
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.end += n
	f.bytesRead += int64(n)
	if errors.Is(err, io.EOF) {
		f.eof = true
		return nil
	}
	if n > 0 {
		// Use the bytes first; a persistent error comes back on the next read.
		return nil
	}
	return err
}

func onlySpace(b []byte) bool {
	for _, c := range b {
		if c != '\n' && c != '\r' && c != ' ' {
			return false
		}
	}
	return true
}
