/*
 * Console input probe: echoes what it receives on the UART, upper-cased, one
 * "PROBE echo: ..." line per line of input (for amp-run --attach).
 */
#include "probe.h"
#include "amp_layout.h"

#define PL011_FR_RXFE (1u << 4)

void probe_main(void)
{
	char line[64];
	unsigned n = 0;

	puts_("PROBE echo ready on " AMP_DOMAIN_NAME "\n");
	for (;;) {
		while (rd32(UART_BASE + PL011_FR) & PL011_FR_RXFE) {
		}
		char c = (char)rd32(UART_BASE + PL011_DR);

		if (c == '\r' || c == '\n') {
			line[n] = 0;
			puts_("PROBE echo: ");
			puts_(line);
			puts_("\n");
			n = 0;
		} else if (n < sizeof(line) - 1) {
			line[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
		}
	}
}
