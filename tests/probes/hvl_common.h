/*
 * What both HVL probes share, and nothing of the layout: the carrier (the HVL
 * region is QEMU's ivshmem-plain BAR2, mapped at the same offsets as in the
 * region), and the test's conventions for what passive memory cannot do:
 * - queue q of a window: the driver writes {vring address, queue size} at
 *   window + 0x100 + 16 * q (the device-config area) instead of QueueSel;
 * - hand-shake flags in the BAR's last page, beyond the HVL region.
 */
#ifndef HVL_COMMON_H
#define HVL_COMMON_H

#include "probe.h"

#define PCI_ID 0x11101af4u
#define CFG(dev) ((uintptr_t)PCIE_ECAM + ((uintptr_t)(dev) << 15))
#define VIRTIO_MAGIC 0x74726976u
#define FLAG 0x48564c21u /* "HVL!" */
#define QSLOT(window, q) ((window) + 0x100 + 16 * (q))
#define BUF_LEN 64

static uintptr_t bar2;
static uint64_t bar2_size;

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* find ivshmem, give it BAR2, return its size (0: not found) */
static uint64_t carrier_setup(void)
{
	for (int dev = 0; dev < 32; dev++) {
		uintptr_t cfg = CFG(dev);

		if (rd32(cfg) != PCI_ID) {
			continue;
		}
		wr32(cfg + 0x18, 0xffffffffu);
		wr32(cfg + 0x1c, 0xffffffffu);
		uint64_t lo = rd32(cfg + 0x18) & ~0xfu, hi = rd32(cfg + 0x1c);

		bar2_size = ~((hi << 32) | lo) + 1;
		bar2 = align_up(PCI_MEM_BASE + 0x100000, bar2_size);
		wr32(cfg + 0x10, (uint32_t)PCI_MEM_BASE);
		wr32(cfg + 0x18, (uint32_t)bar2);
		wr32(cfg + 0x1c, (uint32_t)((uint64_t)bar2 >> 32));
		wr16(cfg + 0x04, 0x0002);
		return bar2_size;
	}
	return 0;
}

#define FLAGS() (bar2 + bar2_size - 0x1000)
#define DEV_READY (FLAGS() + 0)
#define DRV_READY (FLAGS() + 4)

static inline void wait_flag(uintptr_t a)
{
	while (rd32(a) != FLAG) {
	}
	dsb();
}

static inline void set_flag(uintptr_t a)
{
	dsb();
	wr32(a, FLAG);
	dsb();
}

#endif /* HVL_COMMON_H */
