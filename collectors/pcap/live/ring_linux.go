//go:build linux

package live

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
)

// ring is an AF_PACKET socket with a TPACKET_V3 receive ring: the kernel
// fills blocks of packets in memory shared with us, and we hand each block
// back once read. Pure Go (golang.org/x/sys/unix), no cgo or libpcap.
//
// A ring is used by one goroutine; Close may be called once Read returned.
type ring struct {
	fd        int
	mem       []byte
	blockSize int
	numBlocks int
	cur       int
	ifindex   int
	link      layers.LinkType
}

// kernelStats are the socket's counters since the previous call.
type kernelStats struct {
	Packets uint64 // packets the filter accepted
	Drops   uint64 // accepted packets lost because the ring was full
	Freezes uint64 // times the ring was full (queue frozen)
}

// Offsets inside a TPACKET_V3 block: struct tpacket_block_desc is
// {version, offset_to_priv uint32, struct tpacket_hdr_v1}.
const blockHeaderOffset = 8

// linkType maps the interface's ARPHRD type to the frames AF_PACKET
// delivers on it, and names it for tcpdump -y.
func linkType(iface string) (layers.LinkType, string, error) {
	b, err := os.ReadFile("/sys/class/net/" + iface + "/type")
	if err != nil {
		return 0, "", fmt.Errorf("reading hardware type of %s: %w", iface, err)
	}
	hw, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, "", fmt.Errorf("reading hardware type of %s: %w", iface, err)
	}
	switch hw {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return layers.LinkTypeEthernet, "EN10MB", nil
	case unix.ARPHRD_NONE: // tun devices: bare IP packets
		return layers.LinkTypeRaw, "RAW", nil
	}
	return 0, "", fmt.Errorf("interface %s: hardware type %d not supported (Ethernet, loopback and tun are)", iface, hw)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openRing opens the capture on iface with filter prog (whose return
// values cut frames to the snap length). The socket receives nothing until
// the filter is attached and the ring is set up.
func openRing(iface string, prog []insn, blockSize, numBlocks int, promisc bool) (_ *ring, err error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("looking up interface %s: %w", iface, err)
	}
	lt, _, err := linkType(iface)
	if err != nil {
		return nil, err
	}
	// Protocol 0: no packets until bound below.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening AF_PACKET socket (needs CAP_NET_RAW): %w", err)
	}
	r := &ring{fd: fd, blockSize: blockSize, numBlocks: numBlocks, ifindex: ifi.Index, link: lt}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		filter[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return nil, fmt.Errorf("attaching bpf filter: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("selecting TPACKET_V3: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(blockSize),
		Block_nr:       uint32(numBlocks),
		Frame_size:     uint32(blockSize),
		Frame_nr:       uint32(numBlocks),
		Retire_blk_tov: uint32(blockRetireInterval / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("setting up a ring of %d × %d bytes: %w", numBlocks, blockSize, err)
	}
	r.mem, err = unix.Mmap(fd, 0, blockSize*numBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping the ring: %w", err)
	}
	if promisc {
		mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, fmt.Errorf("setting %s promiscuous: %w", iface, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return nil, fmt.Errorf("binding to %s: %w", iface, err)
	}
	// Drop the counters of the set-up.
	_, _ = r.Stats()
	return r, nil
}

// LinkType is the link type of the frames Read hands out.
func (r *ring) LinkType() layers.LinkType { return r.link }

func (r *ring) block(i int) []byte {
	return r.mem[i*r.blockSize : (i+1)*r.blockSize : (i+1)*r.blockSize]
}

func blockStatus(b []byte) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[blockHeaderOffset]))
}

// Read waits up to timeout for the next block the kernel filled, calls fn
// for each of its packets in order, and returns the block to the kernel.
// It returns nil with no call to fn when nothing arrived in time. data is
// valid only during fn. A malformed block (never from a correct kernel) is
// returned to the kernel with the packets left counted in the result.
func (r *ring) Read(timeout time.Duration, fn func(data []byte, ci gopacket.CaptureInfo)) (malformed int, err error) {
	b := r.block(r.cur)
	status := blockStatus(b)
	if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}}
		_, err := unix.Poll(fds, int(timeout/time.Millisecond))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return 0, fmt.Errorf("polling the capture socket: %w", err)
		}
		if fds[0].Revents&unix.POLLERR != 0 {
			if err := r.socketError(timeout); err != nil {
				return 0, err
			}
		}
		if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
			return 0, nil
		}
	}
	hdr := (*unix.TpacketHdrV1)(unsafe.Pointer(&b[blockHeaderOffset]))
	n := int(hdr.Num_pkts)
	off := int(hdr.Offset_to_first_pkt)
	for i := range n {
		if off < 0 || off+unix.SizeofTpacket3Hdr > len(b) {
			malformed = n - i
			break
		}
		ph := (*unix.Tpacket3Hdr)(unsafe.Pointer(&b[off]))
		start := off + int(ph.Mac)
		end := start + int(ph.Snaplen)
		if end > len(b) || start < off {
			malformed = n - i
			break
		}
		fn(b[start:end:end], gopacket.CaptureInfo{
			Timestamp:      time.Unix(int64(ph.Sec), int64(ph.Nsec)),
			CaptureLength:  int(ph.Snaplen),
			Length:         int(ph.Len),
			InterfaceIndex: r.ifindex,
		})
		if ph.Next_offset == 0 {
			if i != n-1 {
				malformed = n - i - 1
			}
			break
		}
		off += int(ph.Next_offset)
	}
	atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
	r.cur = (r.cur + 1) % r.numBlocks
	return malformed, nil
}

// socketError reads (and clears) the error the socket reported. The
// interface going down is not fatal: the capture waits for it to come back
// (timeout per call, no busy loop). The interface being removed is.
func (r *ring) socketError(timeout time.Duration) error {
	code, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("reading the capture socket's error: %w", err)
	}
	switch errno := unix.Errno(code); {
	case code == 0:
		return nil
	case errno == unix.ENETDOWN:
		if _, err := net.InterfaceByIndex(r.ifindex); err != nil {
			return fmt.Errorf("capture interface removed: %w", err)
		}
		time.Sleep(timeout)
		return nil
	default:
		return fmt.Errorf("capture socket: %w", errno)
	}
}

// Stats returns the kernel's counters since the previous call (reading
// resets them).
func (r *ring) Stats() (kernelStats, error) {
	s, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return kernelStats{}, fmt.Errorf("reading capture statistics: %w", err)
	}
	// tp_packets counts drops too.
	return kernelStats{Packets: uint64(s.Packets), Drops: uint64(s.Drops), Freezes: uint64(s.Freeze_q_cnt)}, nil
}

// Close unmaps the ring and closes the socket.
func (r *ring) Close() error {
	var errs []error
	if r.mem != nil {
		errs = append(errs, unix.Munmap(r.mem))
		r.mem = nil
	}
	if r.fd >= 0 {
		errs = append(errs, unix.Close(r.fd))
		r.fd = -1
	}
	return errors.Join(errs...)
}

// interfaceLink names the link type of iface for the BPF compiler.
func interfaceLink(iface string) (string, error) {
	_, name, err := linkType(iface)
	return name, err
}
