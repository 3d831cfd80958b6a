package pcap

import (
	"encoding/binary"
	"fmt"
	"io"
)

// pcapgo sizes its packet buffer from the capture's declared snap length
// and from each record's capture length, unchecked: a crafted file could
// make it allocate gigabytes. The guards below bound both before pcapgo
// sees them.

// blockSlack is room for the fixed fields and options of a pcapng block
// beyond its packet bytes.
const blockSlack = 64 << 10

// clampPcapHeader lowers the snap length of a pcap file header (24 bytes)
// to limit, so pcapgo rejects larger records instead of allocating for
// them.
func clampPcapHeader(hdr []byte, limit uint32) {
	order := binary.ByteOrder(binary.LittleEndian)
	if hdr[0] == 0xa1 || hdr[0] == 0x4d {
		order = binary.BigEndian
	}
	if s := order.Uint32(hdr[16:20]); s == 0 || s > limit {
		order.PutUint32(hdr[16:20], limit)
	}
}

// ngGuard passes a pcapng stream through, block by block, failing on
// blocks larger than limit+blockSlack or packet blocks whose capture length
// exceeds their block, and lowering interface snap lengths to limit.
type ngGuard struct {
	r      io.Reader
	limit  uint32
	order  binary.ByteOrder
	head   [28]byte
	out    []byte // header bytes not yet returned
	remain uint64 // body bytes of the current block not yet returned
}

const (
	ngSHB = 0x0a0d0d0a
	ngIDB = 0x00000001
	ngOPB = 0x00000002
	ngEPB = 0x00000006
)

func (g *ngGuard) Read(p []byte) (int, error) {
	if len(g.out) == 0 && g.remain == 0 {
		if err := g.nextBlock(); err != nil {
			return 0, err
		}
	}
	if len(g.out) > 0 {
		n := copy(p, g.out)
		g.out = g.out[n:]
		return n, nil
	}
	if uint64(len(p)) > g.remain {
		p = p[:g.remain]
	}
	n, err := g.r.Read(p)
	g.remain -= uint64(n)
	if err == io.EOF && g.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// nextBlock reads and checks the head of the next block.
func (g *ngGuard) nextBlock() error {
	h := g.head[:8]
	if _, err := io.ReadFull(g.r, h); err != nil {
		return err
	}
	typ := binary.LittleEndian.Uint32(h[0:4]) // the SHB type reads the same either way
	n := 8
	if typ == ngSHB {
		if _, err := io.ReadFull(g.r, g.head[8:12]); err != nil {
			return err
		}
		n = 12
		switch binary.LittleEndian.Uint32(g.head[8:12]) {
		case 0x1a2b3c4d:
			g.order = binary.LittleEndian
		case 0x4d3c2b1a:
			g.order = binary.BigEndian
		default:
			return fmt.Errorf("pcapng: bad byte-order magic")
		}
	} else if g.order == nil {
		return fmt.Errorf("pcapng: block before the section header")
	} else {
		typ = g.order.Uint32(h[0:4])
	}
	length := g.order.Uint32(h[4:8])
	if length < 12 || uint64(length) > uint64(g.limit)+blockSlack {
		return fmt.Errorf("pcapng: block of %d bytes (limit %d)", length, uint64(g.limit)+blockSlack)
	}
	switch typ {
	case ngIDB:
		if length < 20 {
			return fmt.Errorf("pcapng: interface block of %d bytes", length)
		}
		if _, err := io.ReadFull(g.r, g.head[8:16]); err != nil {
			return err
		}
		n = 16
		if s := g.order.Uint32(g.head[12:16]); s == 0 || s > g.limit {
			g.order.PutUint32(g.head[12:16], g.limit)
		}
	case ngEPB, ngOPB:
		if length < 32 {
			return fmt.Errorf("pcapng: packet block of %d bytes", length)
		}
		if _, err := io.ReadFull(g.r, g.head[8:28]); err != nil {
			return err
		}
		n = 28
		if c := g.order.Uint32(g.head[20:24]); c > length-32 {
			return fmt.Errorf("pcapng: capture length %d exceeds its block of %d bytes", c, length)
		}
	}
	if uint32(n) > length {
		return fmt.Errorf("pcapng: block of %d bytes", length)
	}
	g.out = g.head[:n]
	g.remain = uint64(length) - uint64(n)
	return nil
}
