/*
 * Stand-in for the staging tree's samples/virtio/hvl_net_rng_reloc (tests
 * only; not the real sample): hypervisorless virtio, net + rng, driven from
 * the R5. Like the HVL driver, it defines each device's vrings in the section
 * amp_layout.h names (.shared.vring.N); the generated amp_hvl.ld places those
 * sections and the bounce pool symbols in the pre-shared region.
 */

#include <stdint.h>

#if __has_include("amp_layout.h")
#include "amp_layout.h"
#endif

/* Legacy vring layout, aligned to 4 KiB: descriptors + avail ring, then the used ring. */
#define VRING_ALIGN 4096u
#define VRING_BYTES(num) \
	((((16u * (num) + 6u + 2u * (num)) + VRING_ALIGN - 1u) & ~(VRING_ALIGN - 1u)) + \
	 6u + 8u * (num))
#define VRING(name, sec, num) \
	__attribute__((section(sec), used, aligned(VRING_ALIGN))) \
	uint8_t name[VRING_BYTES(num)]

#ifdef AMP_HVL0_RNG0_VQ0_SECTION
VRING(rng0_vq0, AMP_HVL0_RNG0_VQ0_SECTION, AMP_HVL0_RNG0_QUEUE_SIZE);
#endif
#ifdef AMP_HVL0_NET0_VQ0_SECTION
VRING(net0_vq0, AMP_HVL0_NET0_VQ0_SECTION, AMP_HVL0_NET0_QUEUE_SIZE);
#endif
#ifdef AMP_HVL0_NET0_VQ1_SECTION
VRING(net0_vq1, AMP_HVL0_NET0_VQ1_SECTION, AMP_HVL0_NET0_QUEUE_SIZE);
#endif

extern uint8_t __shmem0_pool_start[], __shmem0_end[];

const char sample_name[] = "hvl_net_rng_reloc";

int main(void)
{
#ifdef AMP_HVL0_POOL_BASE
	/* the bounce pool the driver hands out */
	return (int)(__shmem0_end - __shmem0_pool_start);
#else
	return sample_name[0];
#endif
}
