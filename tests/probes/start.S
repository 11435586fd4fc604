/*
 * Entry of the bare-metal AArch64 probes (QEMU virt, -kernel ELF): QEMU starts
 * the one CPU at the ELF entry with the MMU and caches off, at EL3 with
 * secure=on. Set a stack, zero .bss, call probe_main(), then wait forever.
 */
	.section .text.start, "ax"
	.global _start
_start:
	ldr	x0, =__stack_top
	mov	sp, x0
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1], #8
	b	1b
2:	bl	probe_main
3:	wfe
	b	3b
