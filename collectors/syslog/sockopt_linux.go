//go:build linux

package syslog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// kernelDropsReported is true where udpRead learns the socket's kernel
// drop counter from each datagram's ancillary data.
const kernelDropsReported = true

// udpOOBSize is the ancillary-data buffer for one datagram: room for the
// SO_RXQ_OVFL counter (a uint32) and a spare message.
var udpOOBSize = 2 * unix.CmsgSpace(4)

// setupUDPSocket asks for a receive buffer of size bytes (SO_RCVBUFFORCE,
// which ignores net.core.rmem_max but needs CAP_NET_ADMIN, else SO_RCVBUF,
// which the kernel caps at it) and for the socket's drop counter to come
// with every datagram (SO_RXQ_OVFL). It returns the buffer the kernel
// granted (half what SO_RCVBUF reads back: the kernel doubles the request
// for its bookkeeping). An error means the drop counter is not available.
func setupUDPSocket(conn *net.UDPConn, size int) (granted int, err error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("setting up UDP socket: %w", err)
	}
	var sockErr error
	ctlErr := rc.Control(func(fd uintptr) {
		s := int(fd)
		if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			// Best effort: without the capability the kernel caps it.
			_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		if v, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
			granted = v / 2
		}
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
			sockErr = fmt.Errorf("enabling SO_RXQ_OVFL: %w", err)
		}
	})
	return granted, errors.Join(ctlErr, sockErr)
}

// kernelDrops returns the socket's cumulative kernel drop counter carried in
// a datagram's ancillary data. The kernel attaches it only once it is
// non-zero, so ok is false until the first drop.
func kernelDrops(oob []byte) (drops uint32, ok bool) {
	for len(oob) > 0 {
		hdr, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0, false
		}
		if hdr.Level == unix.SOL_SOCKET && hdr.Type == unix.SO_RXQ_OVFL && len(data) >= 4 {
			return binary.NativeEndian.Uint32(data), true
		}
		oob = rest
	}
	return 0, false
}
