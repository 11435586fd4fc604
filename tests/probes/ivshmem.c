/*
 * ivshmem probe, one per side of an ivshmem link (LINK: its amp_layout.h
 * prefix). It finds QEMU's ivshmem PCI device (1af4:1110) through the ECAM,
 * gives it BARs in the 32-bit window, and then, with only the generated layout:
 * - prints IVPosition and the BAR2 size (the test compares them with the
 *   layout's peer ID and size);
 * - writes its pattern at its own vring offset (host: vring0, remote: vring1),
 *   raises its ready flag in the status area, waits for the other's flag,
 *   then finds the other's pattern at the other offset, its own untouched,
 *   and the buffer pool still zero;
 * - DOORBELL: rings the other side's every vector and waits until each of its
 *   own vectors is pending (MSI-X on, function masked: QEMU then sets the PBA
 *   bit, which the probe can read without an interrupt controller).
 * Before writing, its own area and the pool must be zero: a fresh memory.
 */
#include "probe.h"
#include "amp_layout.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define L(x) CAT(CAT(AMP_, LINK), x)

#define IS_HOST L(_IS_HOST)
#define BAR_SIZE ((uint64_t)L(_SIZE))
#define STATUS L(_STATUS_OFFSET)
#define MY_TX (IS_HOST ? L(_VRING0_OFFSET) : L(_VRING1_OFFSET))
#define OTHER_TX (IS_HOST ? L(_VRING1_OFFSET) : L(_VRING0_OFFSET))
#define POOL L(_BUFFERS_OFFSET)
#define POOL_SIZE L(_BUFFERS_SIZE)
#define PATTERN_LEN 64
#define READY 0x52454459u /* "READ" + Y */

#define PCI_ID 0x11101af4u
#define CFG(dev) ((uintptr_t)PCIE_ECAM + ((uintptr_t)(dev) << 15))

#ifndef SEED
#define SEED 0 /* the test gives each copy of a system its own patterns */
#endif

static uint8_t pattern(int host, int i)
{
	return (uint8_t)((host ? 0xa0 : 0x50) ^ (i * 7 + 1) ^ SEED);
}

static uintptr_t find_device(void)
{
	for (int dev = 0; dev < 32; dev++) {
		if (rd32(CFG(dev)) == PCI_ID) {
			puts_("PROBE pci");
			kv("slot", dev);
			puts_("\n");
			return CFG(dev);
		}
	}
	return 0;
}

static uint64_t bar_size64(uintptr_t cfg, int off)
{
	uint32_t lo, hi;

	wr32(cfg + off, 0xffffffffu);
	wr32(cfg + off + 4, 0xffffffffu);
	lo = rd32(cfg + off) & ~0xfu;
	hi = rd32(cfg + off + 4);
	return ~(((uint64_t)hi << 32) | lo) + 1;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int zero(uintptr_t a, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 4) {
		if (rd32(a + i)) {
			return 0;
		}
	}
	return 1;
}

static int has_pattern(uintptr_t a, int host)
{
	for (int i = 0; i < PATTERN_LEN; i++) {
		if (rd8(a + i) != pattern(host, i)) {
			return 0;
		}
	}
	return 1;
}

#ifdef DOORBELL
static uintptr_t pba;
static uint32_t vectors;   /* the MSI-X table size: vectors= of the generated qemu.args */

static uintptr_t msix_setup(uintptr_t cfg, uintptr_t bar1)
{
	uint8_t cap = rd8(cfg + 0x34) & ~3u;

	while (cap && rd8(cfg + cap) != 0x11) {
		cap = rd8(cfg + cap + 1) & ~3u;
	}
	check(cap != 0, "MSI-X capability");
	if (!cap) {
		return 0;
	}
	uint16_t ctl = rd16(cfg + cap + 2);
	vectors = (ctl & 0x7ffu) + 1;
	puts_("PROBE msix");
	kv("vectors", vectors);
	puts_("\n");
	/* enable with the function masked: interrupts stay pending, readable in the PBA */
	wr16(cfg + cap + 2, ctl | 0x8000u | 0x4000u);
	uint32_t p = rd32(cfg + cap + 8);
	check((p & 7u) == 1, "PBA in BAR1");
	return bar1 + (p & ~7u);
}
#endif

void probe_main(void)
{
	int host = IS_HOST;
	uintptr_t cfg, bar0, bar1, bar2;
	uint64_t size;

	puts_("PROBE ivshmem " AMP_SYSTEM_NAME "/" AMP_DOMAIN_NAME "\n");
	cfg = find_device();
	check(cfg != 0, "ivshmem PCI device");
	if (!cfg) {
		probe_end();
		return;
	}
	size = bar_size64(cfg, 0x18);
	bar0 = PCI_MEM_BASE;
	bar1 = PCI_MEM_BASE + 0x1000;
	bar2 = align_up(PCI_MEM_BASE + 0x100000, size);
	wr32(cfg + 0x10, (uint32_t)bar0);
	wr32(cfg + 0x14, (uint32_t)bar1);
	wr32(cfg + 0x18, (uint32_t)bar2);
	wr32(cfg + 0x1c, (uint32_t)((uint64_t)bar2 >> 32));
	wr16(cfg + 0x04, 0x0006); /* memory space, bus master */

	puts_("PROBE bar2");
	kv("size", size);
	kv("layout", BAR_SIZE);
	kv("ivposition", rd32(bar0 + 8));
	puts_("\n");
	check(size == BAR_SIZE, "BAR2 is the layout's size");
#ifdef DOORBELL
	check(rd32(bar0 + 8) == L(_PEER_ID), "IVPosition is the layout's peer ID");
	pba = msix_setup(cfg, bar1);
	check(pba && rd32(pba) == 0, "no vector pending before the other side rings");
#endif
	check(zero(bar2 + MY_TX, PATTERN_LEN) && zero(bar2 + POOL, POOL_SIZE),
	      "fresh memory: own area and pool are zero before writing");

	for (int i = 0; i < PATTERN_LEN; i++) {
		wr8(bar2 + MY_TX + i, pattern(host, i));
	}
	dsb();
	wr32(bar2 + STATUS + (host ? 0 : 4), READY);
	dsb();
	puts_("PROBE wrote own pattern; waiting for the other side\n");
	while (rd32(bar2 + STATUS + (host ? 4 : 0)) != READY) {
	}
	dsb();
#ifdef DOORBELL
	/*
	 * A doorbell to a peer this side's QEMU has not heard of yet is dropped
	 * (ivshmem-spec: "the write is ignored"), so ring until the other side
	 * says, in the status area, that all its vectors are pending.
	 */
	uint32_t all = (1u << vectors) - 1;
	uintptr_t my_ack = bar2 + STATUS + (host ? 8 : 12);
	uintptr_t other_ack = bar2 + STATUS + (host ? 12 : 8);
	uint32_t rings = 0;
	int got_all = 0;

	while (!got_all || rd32(other_ack) != READY) {
		if (rd32(other_ack) != READY) {
			for (uint32_t v = 0; v < vectors; v++) {
				wr32(bar0 + 12, ((uint32_t)L(_OTHER_PEER_ID) << 16) | v);
			}
			rings++;
		}
		for (int k = 0; k < 200000; k++) {
			if (!got_all && (rd32(pba) & all) == all) {
				got_all = 1;
				wr32(my_ack, READY);
				dsb();
			}
			if (got_all && rd32(other_ack) == READY) {
				break;
			}
		}
	}
	puts_("PROBE doorbell");
	kv("pending", rd32(pba) & all);
	kv("vectors", vectors);
	kv("rings", rings);
	puts_("\n");
#endif
	int got = has_pattern(bar2 + OTHER_TX, !host);
	int kept = has_pattern(bar2 + MY_TX, host);
	int pool = zero(bar2 + POOL, POOL_SIZE);

	puts_("PROBE data");
	kv("read_at", OTHER_TX);
	kv("other", got);
	kv("own_kept", kept);
	kv("pool_zero", pool);
	puts_("\n");
	check(got, "the other side's bytes at its offset");
	check(kept, "own area untouched by the other side");
	check(pool, "buffer pool untouched");
	probe_end();
}
