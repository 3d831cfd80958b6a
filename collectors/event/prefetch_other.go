//go:build !amd64

package event

import "unsafe"

const canPrefetch = false

func prefetch(p unsafe.Pointer, n int) {}
