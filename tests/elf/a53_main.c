/* Minimal Cortex-A53 (AArch64) firmware: an entry point, data and bss; with
 * HAVE_TRACE, a trace buffer in .trace (linked above 4 GiB, a53.ld.in). */
#include <stdint.h>

#if HAVE_TRACE
char trace_buf[TRACE_LEN] __attribute__((section(".trace")));
#endif

volatile uint64_t counter = 1;
uint64_t scratch[64];

__attribute__((section(".text.start"), used)) void _start(void)
{
	for (;;) {
		counter++;
		scratch[counter & 63] = counter;
	}
}
