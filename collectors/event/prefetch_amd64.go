package event

import "unsafe"

const canPrefetch = true

// prefetch issues a PREFETCHT2 for each 64-byte line of p[:n] (n > 0).
//
//go:noescape
func prefetch(p unsafe.Pointer, n int)
