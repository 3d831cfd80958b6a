//go:build !amd64

package sigma

// useAVX2 is false: there is no vector pair filter on this architecture.
var useAVX2 = false

// pairMasks is pairFilter.masks for len(out) blocks of s.
func pairMasks(f *pairFilter, s string, out []uint32) { pairMasksGo(f, s, out) }
