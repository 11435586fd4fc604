/*
 * HVL driver side: knows only what Zephyr gets (amp_layout.h of the driver
 * domain, and amp_hvl.ld, which places each vring section and the
 * __shmem0_* symbols). An address A of the region is at bar2 + A - AMP_HVL_SHM_BASE.
 * For every device (DEVICES: X(prefix)) it checks the window the device side
 * filled in; for every queue (QUEUES: Q(prefix, index)) it defines the vring in
 * its section, checks the linker put it where amp_layout.h says, tells the
 * device where it is, and puts descriptor 0 on a pool buffer holding a pattern.
 */
#include "hvl_common.h"
#include "amp_layout.h"

#define T(a) (bar2 + ((uintptr_t)(a) - AMP_HVL_SHM_BASE))

extern char __shmem0_start[], __shmem0_pool_start[], __shmem0_end[];

#define Q(d, q) static uint8_t vq_##d##_##q[16] \
	__attribute__((used, aligned(16), section(AMP_##d##_VQ##q##_SECTION)));
QUEUES
#undef Q

static void window(const char *name, uintptr_t base, uint32_t id, uint32_t qsize)
{
	uintptr_t w = T(base);

	puts_("PROBE window ");
	puts_(name);
	kv("base", base);
	kv("magic", rd32(w + 0x00));
	kv("version", rd32(w + 0x04));
	kv("device", rd32(w + 0x08));
	kv("want", id);
	kv("num_max", rd32(w + 0x34));
	puts_("\n");
	check(rd32(w) == VIRTIO_MAGIC && rd32(w + 4) == 2, "a virtio-mmio window at the base");
	check(rd32(w + 8) == id, "the device the driver expects");
	check(rd32(w + 0x34) >= qsize, "the queue size fits");
}

static unsigned nbuf;

static void queue(const char *name, uintptr_t window, unsigned q, uintptr_t vring,
		  uintptr_t want, uint32_t qsize)
{
	uintptr_t buf = (uintptr_t)__shmem0_pool_start + 0x1000 * nbuf;

	puts_("PROBE vring ");
	puts_(name);
	kv("q", q);
	kv("at", vring);
	kv("want", want);
	kv("buf", buf);
	puts_("\n");
	check(vring == want, "the linker put the vring where the layout says");
	check(buf + BUF_LEN <= (uintptr_t)__shmem0_end, "the buffer is in the pool");
	for (int i = 0; i < BUF_LEN; i++) {
		wr8(T(buf) + i, (uint8_t)(nbuf * 31 + i));
	}
	/* descriptor 0: the buffer, device-readable */
	wr32(T(vring) + 0, (uint32_t)buf);
	wr32(T(vring) + 4, 0);
	wr32(T(vring) + 8, BUF_LEN);
	wr32(T(vring) + 12, 0);
	wr32(QSLOT(T(window), q) + 0, (uint32_t)vring);
	wr32(QSLOT(T(window), q) + 4, qsize);
	wr32(QSLOT(T(window), q) + 8, nbuf);
	nbuf++;
}

void probe_main(void)
{
	puts_("PROBE hvl driver " AMP_SYSTEM_NAME "/" AMP_DOMAIN_NAME "\n");
	check(carrier_setup() != 0, "the ivshmem carrier");
	puts_("PROBE region");
	kv("base", AMP_HVL_SHM_BASE);
	kv("size", AMP_HVL_SHM_SIZE);
	kv("vrings", (uintptr_t)__shmem0_start);
	kv("pool", (uintptr_t)__shmem0_pool_start);
	kv("end", (uintptr_t)__shmem0_end);
	puts_("\n");
	check((uintptr_t)__shmem0_end - AMP_HVL_SHM_BASE <= bar2_size - 0x1000,
	      "the region fits the carrier");
	wait_flag(DEV_READY);
#define X(d) window(#d, AMP_##d##_MMIO_BASE, AMP_##d##_DEVICE_ID, AMP_##d##_QUEUE_SIZE);
	DEVICES
#undef X
#define Q(d, q) queue(#d, AMP_##d##_MMIO_BASE, q, (uintptr_t)vq_##d##_##q, \
		      AMP_##d##_VQ##q##_BASE, AMP_##d##_QUEUE_SIZE);
	QUEUES
#undef Q
	set_flag(DRV_READY);
	probe_end();
}
