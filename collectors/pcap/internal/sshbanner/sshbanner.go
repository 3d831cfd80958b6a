// Package sshbanner parses the SSH identification string ("SSH-2.0-OpenSSH_8.9p1
// Ubuntu-3") that both sides send first on an SSH connection (RFC 4253
// §4.2). It is a pure, bounded byte parser over a stream prefix that never
// panics.
package sshbanner

import (
	"bytes"
	"errors"
	"fmt"
)

// Limits. RFC 4253 allows 255 bytes per line; real servers stay under it,
// MaxLineLen leaves room for lax implementations.
const (
	// MaxLineLen bounds the identification line and every preamble line.
	MaxLineLen = 1024
	// MaxPreambleLines bounds the text lines a server may send before its
	// identification string.
	MaxPreambleLines = 32
)

// Errors; test with errors.Is.
var (
	// ErrNotSSH means the bytes cannot start an SSH stream.
	ErrNotSSH = errors.New("sshbanner: not SSH")
	// ErrIncomplete means the identification line has not ended yet.
	ErrIncomplete = errors.New("sshbanner: incomplete banner")
	// ErrTooLong means a line or the preamble exceeds the limits.
	ErrTooLong = errors.New("sshbanner: banner exceeds limit")
)

// Banner is a parsed identification string.
type Banner struct {
	// ProtoVersion is "2.0", "1.99" or "1.5".
	ProtoVersion string
	// Software is the softwareversion field, e.g. "OpenSSH_8.9p1".
	Software string
	// Comments is the optional text after the first space, e.g. "Ubuntu-3".
	Comments string
	// PreambleLines counts the server text lines before the banner.
	PreambleLines int
}

// String returns the identification string without the line ending.
func (b *Banner) String() string {
	s := "SSH-" + b.ProtoVersion + "-" + b.Software
	if b.Comments != "" {
		s += " " + b.Comments
	}
	return s
}

// ParseClient parses a client identification string, which must be the
// first line of the stream. It returns the number of bytes through the end
// of the line, ErrIncomplete when more bytes are needed, or ErrNotSSH as
// soon as the prefix cannot be SSH.
func ParseClient(p []byte, b *Banner) (int, error) {
	return parse(p, b, false)
}

// ParseServer parses a server identification string; unlike a client, a
// server may send up to MaxPreambleLines text lines first.
func ParseServer(p []byte, b *Banner) (int, error) {
	return parse(p, b, true)
}

const magic = "SSH-"

func parse(p []byte, b *Banner, preamble bool) (int, error) {
	*b = Banner{}
	off := 0
	for {
		rest := p[off:]
		n := min(len(rest), len(magic))
		isID := string(rest[:n]) == magic[:n]
		if !isID && (!preamble || b.PreambleLines >= MaxPreambleLines) {
			if b.PreambleLines >= MaxPreambleLines {
				return 0, fmt.Errorf("%d lines before the banner: %w", b.PreambleLines, ErrTooLong)
			}
			return 0, fmt.Errorf("stream starts with %q: %w", rest[:n], ErrNotSSH)
		}
		end := bytes.IndexByte(rest[:min(len(rest), MaxLineLen)], '\n')
		if end < 0 {
			if len(rest) >= MaxLineLen {
				return 0, fmt.Errorf("line of more than %d bytes: %w", MaxLineLen, ErrTooLong)
			}
			if !isID && !printable(rest) {
				return 0, fmt.Errorf("binary preamble: %w", ErrNotSSH)
			}
			return 0, ErrIncomplete
		}
		line := bytes.TrimSuffix(rest[:end], []byte("\r"))
		off += end + 1
		if !isID {
			if !printable(line) {
				return 0, fmt.Errorf("binary preamble line %d: %w", b.PreambleLines+1, ErrNotSSH)
			}
			b.PreambleLines++
			continue
		}
		return off, b.fill(line[len(magic):])
	}
}

// fill splits "protoversion-softwareversion[ comments]".
func (b *Banner) fill(s []byte) error {
	proto, rest, ok := bytes.Cut(s, []byte("-"))
	if !ok || len(proto) == 0 || !printable(s) {
		return fmt.Errorf("identification %q: %w", s[:min(len(s), 64)], ErrNotSSH)
	}
	soft, comments, _ := bytes.Cut(rest, []byte(" "))
	switch string(proto) {
	case "2.0":
		b.ProtoVersion = "2.0"
	case "1.99":
		b.ProtoVersion = "1.99"
	default:
		b.ProtoVersion = string(proto)
	}
	b.Software, b.Comments = string(soft), string(comments)
	return nil
}

func printable(s []byte) bool {
	for _, c := range s {
		if (c < 0x20 || c > 0x7e) && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
