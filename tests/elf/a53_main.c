/* Minimal Cortex-A53 (AArch64) firmware: an entry point, data and bss. */
#include <stdint.h>

volatile uint64_t counter = 1;
uint64_t scratch[64];

__attribute__((section(".text.start"), used)) void _start(void)
{
	for (;;) {
		counter++;
		scratch[counter & 63] = counter;
	}
}
