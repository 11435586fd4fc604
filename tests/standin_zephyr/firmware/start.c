/*
 * Stand-in for Zephyr (tests only; see ../README.md): the start-up code of the
 * tiny firmware the stand-in `west build` links. Vectors first (the linker
 * script puts .vectors at the start of the RAM region, where the core resets),
 * then a stack and main().
 */

#include <stdint.h>

#if defined(__aarch64__)
__asm__(
	"	.section .vectors, \"ax\"\n"
	"	.global __start\n"
	"__start:\n"
	"	ldr x0, =__standin_stack_top\n"
	"	mov sp, x0\n"
	"	bl standin_main\n"
	"1:	wfe\n"
	"	b 1b\n"
	"	.ltorg\n");
#else
__asm__(
	"	.section .vectors, \"ax\"\n"
	"	.arm\n"
	"	.global __start\n"
	"__start:\n"
	"	b 1f\n"			/* reset */
	"	b .\n"			/* undefined instruction */
	"	b .\n"			/* supervisor call */
	"	b .\n"			/* prefetch abort */
	"	b .\n"			/* data abort */
	"	nop\n"
	"	b .\n"			/* IRQ */
	"	b .\n"			/* FIQ */
	"1:	ldr sp, =__standin_stack_top\n"
	"	bl standin_main\n"
	"	b .\n"
	"	.ltorg\n");
#endif

extern int main(void);
extern uint8_t __standin_bss_start[], __standin_bss_end[];

void standin_main(void)
{
	for (uint8_t *p = __standin_bss_start; p < __standin_bss_end; p++) {
		*p = 0;
	}
	(void)main();
	for (;;) {
	}
}

#ifdef CONFIG_STANDIN_STRAY_ADDR
/* Linked at CONFIG_STANDIN_STRAY_ADDR in a segment of its own (linker.cmd). */
__attribute__((section(".standin_stray"), used))
const uint8_t standin_stray[256] = {0x5a};
#endif
