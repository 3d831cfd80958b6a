#include "textflag.h"

// func prefetch(p unsafe.Pointer, n int)
TEXT ·prefetch(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	// The line of the last byte; the first line's start, so that every
	// line p[:n] touches is asked for.
	LEAQ -1(AX)(CX*1), CX
	ANDQ $-64, AX
loop:
	PREFETCHT2 (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JBE loop
	RET
