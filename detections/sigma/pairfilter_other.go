//go:build !amd64

package sigma

import "unsafe"

var useAVX2 = false

func pairMasksAVX2(tbl *[4][32]byte, p *byte, blocks int, out *uint32) {
	panic("sigma: no AVX2 on this architecture")
}

func unsafeStringData(s string) *byte { return unsafe.StringData(s) }
