package pcap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// source yields frames with their link type.
type source interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// ReadFile reads a pcap or pcapng capture (optionally gzip-compressed) from
// r, feeds every frame to a new Processor and flushes it at the end. It
// stops with ctx or the first emit error. A capture that ends in a
// truncated record is not an error: the packets before it count.
func ReadFile(ctx context.Context, r io.Reader, opts Options, emit func(*event.Event) error) (Stats, error) {
	p := NewProcessor(opts, emit)
	err := p.ReadFrom(ctx, r)
	if err == nil {
		err = p.Flush()
	}
	return p.Stats(), err
}

// ReadFrom feeds every frame of a pcap or pcapng capture in r to p, without
// flushing. Records larger than Options.MaxPacketBytes end the read with an
// error (the file's buffers are sized from them); pcapng blocks are checked
// before gopacket's reader sees them.
func (p *Processor) ReadFrom(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("pcap: read header: %w", err)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("pcap: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
		if magic, err = br.Peek(4); err != nil {
			return fmt.Errorf("pcap: read header: %w", err)
		}
	}
	var src source
	var linkType func(gopacket.CaptureInfo) layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		guard := &ngGuard{r: br, limit: uint32(p.opts.MaxPacketBytes)}
		var ng *pcapgo.NgReader
		err := contain(func() (err error) {
			ng, err = pcapgo.NewNgReader(guard, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
			return err
		})
		if err != nil {
			return fmt.Errorf("pcap: pcapng header: %w", err)
		}
		src = ng
		linkType = func(ci gopacket.CaptureInfo) layers.LinkType {
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					return lt
				}
			}
			return ng.LinkType()
		}
	} else {
		hdr, err := br.Peek(24)
		if err != nil {
			return fmt.Errorf("pcap: file header: %w", err)
		}
		h := [24]byte(hdr)
		clampPcapHeader(h[:], uint32(p.opts.MaxPacketBytes))
		if _, err := br.Discard(24); err != nil {
			return fmt.Errorf("pcap: file header: %w", err)
		}
		pr, err := pcapgo.NewReader(io.MultiReader(bytes.NewReader(h[:]), br))
		if err != nil {
			return fmt.Errorf("pcap: file header: %w", err)
		}
		// pcapgo keeps the link type in a uint8; read the real one.
		full := binary.LittleEndian.Uint32(hdr[20:24])
		if hdr[0] == 0xa1 || hdr[0] == 0x4d { // big-endian magic
			full = binary.BigEndian.Uint32(hdr[20:24])
		}
		lt := pr.LinkType()
		if full&0xffff > 0xff && full&0xffff != 276 {
			lt = 0xff // unknown wide link type, reported as unsupported
		}
		src = pr
		linkType = func(gopacket.CaptureInfo) layers.LinkType { return lt }
	}
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var data []byte
		var ci gopacket.CaptureInfo
		err := contain(func() (err error) {
			data, ci, err = src.ZeroCopyReadPacketData()
			return err
		})
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("pcap: packet %d: %w", i+1, err)
		}
		if err := p.Packet(linkType(ci), data, ci); err != nil {
			return err
		}
	}
}

// errReaderPanic wraps a panic of gopacket's file readers (pcapgo v1.1.19
// divides by zero on some pcapng options, for one).
var errReaderPanic = errors.New("capture reader panic")

// contain runs fn, turning a panic into an error.
func contain(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errReaderPanic, r)
		}
	}()
	return fn()
}
