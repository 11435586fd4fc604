/* Minimal Cortex-R5 firmware: ARM vectors at the R5 reset address, a little
 * code, data and bss, and the trace buffer the resource table points at.
 * Shaped like a Zephyr image where the checker looks (PLAT-02): it has the
 * symbol z_cstart, the function every Zephyr kernel has (here reset itself). */
#include <stdint.h>

#ifndef TRACE_SIZE
#define TRACE_SIZE 0x1000
#endif

#ifndef NO_TRACE_BUF
char trace_buf[TRACE_SIZE] __attribute__((section(".trace")));
#else
static char trace_buf[16];
#endif
volatile uint32_t counter = 1;
static const char banner[] = "remote up";

void reset(void);

__attribute__((section(".vectors"), naked, used)) void _vector_table(void)
{
	__asm__ volatile(
		"b reset\n"   /* reset */
		"b .\n"       /* undefined */
		"b .\n"       /* svc */
		"b .\n"       /* prefetch abort */
		"b .\n"       /* data abort */
		"nop\n"
		"b .\n"       /* irq */
		"b .\n");     /* fiq */
}

void reset(void)
{
	for (unsigned i = 0; banner[i]; i++)
		trace_buf[i] = banner[i];
	for (;;)
		counter++;
}

void z_cstart(void) __attribute__((alias("reset")));
