package sigma

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

var useAVX2 = cpu.X86.HasAVX2

// pairMasksAVX2 is pairFilter.masks for blocks blocks of p with AVX2; it
// reads p[0 : 32*blocks+1].
//
//go:noescape
func pairMasksAVX2(tbl *[4][32]byte, p *byte, blocks int, out *uint32)

func unsafeStringData(s string) *byte { return unsafe.StringData(s) }
