package sigma

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX2 chooses the vector pair filter; tests turn it off to check the
// scalar one.
var useAVX2 = cpu.X86.HasAVX2

// pairMasks is pairFilter.masks for len(out) blocks of s (s[32*len(out)]
// exists): with AVX2 when the processor has it.
func pairMasks(f *pairFilter, s string, out []uint32) {
	if useAVX2 {
		pairMasksAVX2(&f.tbl, unsafe.StringData(s), len(out), &out[0])
		return
	}
	pairMasksGo(f, s, out)
}

// pairMasksAVX2 computes the masks of blocks blocks of p; it reads
// p[0 : 32*blocks+1].
//
//go:noescape
func pairMasksAVX2(tbl *[4][32]byte, p *byte, blocks int, out *uint32)
