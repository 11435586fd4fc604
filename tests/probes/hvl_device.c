/*
 * HVL device side: knows only what Linux gets (the <link>.hvl.json the device
 * process reads, turned into hvl_device.h by the test: HVL_SHM_BASE/SIZE,
 * HVL_POOL_BASE/SIZE, WINDOWS: W(base, device id, queue size), DQUEUES:
 * DQ(window base, index, vring base)). An address A of the region is at
 * bar2 + A - HVL_SHM_BASE. It fills in every window, waits for the driver,
 * then checks each queue: the driver's vring is where the JSON says, its
 * descriptor 0 points into the pool at the driver's pattern.
 */
#include "hvl_common.h"
#include "hvl_device.h"

#define T(a) (bar2 + ((uintptr_t)(a) - HVL_SHM_BASE))

static void fill(uintptr_t base, uint32_t id, uint32_t qsize)
{
	wr32(T(base) + 0x00, VIRTIO_MAGIC);
	wr32(T(base) + 0x04, 2);
	wr32(T(base) + 0x08, id);
	wr32(T(base) + 0x34, qsize);
}

static void check_queue(uintptr_t window, unsigned q, uintptr_t vring)
{
	uintptr_t slot = QSLOT(T(window), q);
	uint32_t at = rd32(slot), n = rd32(slot + 8);
	uintptr_t buf = rd32(T(vring));
	uint32_t len = rd32(T(vring) + 8);
	int in_pool = buf >= HVL_POOL_BASE && buf + len <= HVL_POOL_BASE + HVL_POOL_SIZE;
	int data = in_pool && len == BUF_LEN;

	for (uint32_t i = 0; data && i < len; i++) {
		data = rd8(T(buf) + i) == (uint8_t)(n * 31 + i);
	}
	puts_("PROBE queue");
	kv("window", window);
	kv("q", q);
	kv("driver_at", at);
	kv("want", vring);
	kv("num", rd32(slot + 4));
	kv("buf", buf);
	kv("in_pool", in_pool);
	kv("data", data);
	puts_("\n");
	check(at == vring, "the driver's vring is where the device looks");
	check(in_pool, "descriptor 0 points into the pool");
	check(data, "the driver's bytes are in that buffer");
}

void probe_main(void)
{
	puts_("PROBE hvl device " HVL_SYSTEM "\n");
	check(carrier_setup() != 0, "the ivshmem carrier");
	check(HVL_SHM_SIZE <= bar2_size - 0x1000, "the region fits the carrier");
#define W(base, id, qsize) fill(base, id, qsize);
	WINDOWS
#undef W
	set_flag(DEV_READY);
	wait_flag(DRV_READY);
#define DQ(window, q, vring) check_queue(window, q, vring);
	DQUEUES
#undef DQ
	probe_end();
}
