//go:build !linux

package live

import (
	"errors"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// errNotLinux: AF_PACKET exists only on Linux.
var errNotLinux = errors.New("live capture (AF_PACKET) is available on Linux only")

type ring struct{}

type kernelStats struct{ Packets, Drops, Freezes uint64 }

func openRing(string, []insn, int, int, bool) (*ring, error) { return nil, errNotLinux }
func interfaceLink(string) (string, error)                   { return "", errNotLinux }

func (*ring) LinkType() layers.LinkType { return 0 }
func (*ring) Read(time.Duration, func([]byte, gopacket.CaptureInfo)) (int, error) {
	return 0, errNotLinux
}
func (*ring) Stats() (kernelStats, error) { return kernelStats{}, errNotLinux }
func (*ring) Close() error                { return nil }
