//go:build !linux

package syslog

import (
	"fmt"
	"net"
)

// kernelDropsReported is true where udpRead learns the socket's kernel
// drop counter from each datagram's ancillary data: on Linux only.
const kernelDropsReported = false

// udpOOBSize is the ancillary-data buffer for one datagram: none is read
// here.
var udpOOBSize = 0

// setupUDPSocket asks for a receive buffer of size bytes (SO_RCVBUF, capped
// by the system). The granted size is not known here and reported as 0.
func setupUDPSocket(conn *net.UDPConn, size int) (granted int, err error) {
	if err := conn.SetReadBuffer(size); err != nil {
		return 0, fmt.Errorf("setting the UDP receive buffer: %w", err)
	}
	return 0, nil
}

// kernelDrops reports no counter: only Linux has SO_RXQ_OVFL.
func kernelDrops([]byte) (uint32, bool) { return 0, false }
