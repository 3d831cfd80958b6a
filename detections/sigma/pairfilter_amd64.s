#include "textflag.h"

// func pairMasksAVX2(tbl *[4][32]byte, p *byte, blocks int, out *uint32)
TEXT ·pairMasksAVX2(SB), NOSPLIT, $0-32
	MOVQ tbl+0(FP), AX
	MOVQ p+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ out+24(FP), DI
	VMOVDQU 0(AX), Y10   // anchor, low nibble
	VMOVDQU 32(AX), Y11  // anchor, high nibble
	VMOVDQU 64(AX), Y12  // next byte, low nibble
	VMOVDQU 96(AX), Y13  // next byte, high nibble
	MOVL $0x0f0f0f0f, DX
	MOVQ DX, X14
	VPBROADCASTD X14, Y14
	VPXOR Y15, Y15, Y15

loop:
	TESTQ CX, CX
	JZ done
	VMOVDQU (SI), Y0
	VMOVDQU 1(SI), Y1
	VPAND Y14, Y0, Y2
	VPSRLW $4, Y0, Y3
	VPAND Y14, Y3, Y3
	VPSHUFB Y2, Y10, Y2
	VPSHUFB Y3, Y11, Y3
	VPAND Y2, Y3, Y4
	VPAND Y14, Y1, Y5
	VPSRLW $4, Y1, Y6
	VPAND Y14, Y6, Y6
	VPSHUFB Y5, Y12, Y5
	VPSHUFB Y6, Y13, Y6
	VPAND Y5, Y6, Y7
	VPAND Y4, Y7, Y7
	VPCMPEQB Y15, Y7, Y7
	VPMOVMSKB Y7, DX
	NOTL DX
	MOVL DX, (DI)
	ADDQ $32, SI
	ADDQ $4, DI
	DECQ CX
	JMP loop

done:
	VZEROUPPER
	RET
