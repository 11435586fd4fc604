/*
 * What every probe needs: MMIO accessors and PL011 output (UART_BASE is the
 * board's console UART, given by the test from the board devicetree).
 * The MMU is off: every access is Device memory, so everything is aligned
 * (-mstrict-align) and no floating point is used (-mgeneral-regs-only).
 */
#ifndef PROBE_H
#define PROBE_H

#include <stdint.h>

#define dsb() __asm__ volatile("dsb sy" ::: "memory")

static inline uint32_t rd32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void wr32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint16_t rd16(uintptr_t a) { return *(volatile uint16_t *)a; }
static inline void wr16(uintptr_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline uint8_t rd8(uintptr_t a) { return *(volatile uint8_t *)a; }
static inline void wr8(uintptr_t a, uint8_t v) { *(volatile uint8_t *)a = v; }

#define PL011_DR 0x00
#define PL011_FR 0x18
#define PL011_FR_TXFF (1u << 5)

static inline void putc_(char c)
{
	while (rd32(UART_BASE + PL011_FR) & PL011_FR_TXFF) {
	}
	wr32(UART_BASE + PL011_DR, (uint32_t)c);
}

static inline void puts_(const char *s)
{
	while (*s) {
		if (*s == '\n') {
			putc_('\r');
		}
		putc_(*s++);
	}
}

static inline void puthex(uint64_t v)
{
	char buf[19];
	int i = 18;

	buf[i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	puts_(&buf[i]);
}

/* "key=0x..." */
static inline void kv(const char *key, uint64_t v)
{
	puts_(" ");
	puts_(key);
	puts_("=");
	puthex(v);
}

static int probe_failures;

static inline void check(int ok, const char *what)
{
	if (!ok) {
		probe_failures++;
		puts_("PROBE CHECK FAILED: ");
		puts_(what);
		puts_("\n");
	}
}

static inline void probe_end(void)
{
	puts_(probe_failures ? "PROBE FAIL\n" : "PROBE PASS\n");
}

#endif /* PROBE_H */
