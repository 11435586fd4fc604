/*
 * Native virtio-mmio probe: for every device the test names (DEVICES, an
 * X-macro of amp_layout.h prefixes), the transport at the generated
 * <dev>_MMIO_BASE must answer as a modern (version 2) virtio-mmio device with
 * the generated <dev>_DEVICE_ID. Then one virtio-rng request (RNG: the entropy
 * device's prefix) through a queue of the generated <dev>_QUEUE_SIZE.
 */
#include "probe.h"
#include "amp_layout.h"

#define VIRTIO_MAGIC 0x74726976u /* "virt" */

#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_STATUS 0x070
#define R_QUEUE_DESC 0x080
#define R_QUEUE_DRIVER 0x090
#define R_QUEUE_DEVICE 0x0a0

#define S_ACK 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u

#define DESC_F_WRITE 2u

static void slot(const char *name, uintptr_t base, uint32_t want)
{
	uint32_t magic = rd32(base + R_MAGIC);
	uint32_t version = rd32(base + R_VERSION);
	uint32_t id = rd32(base + R_DEVICE_ID);

	puts_("PROBE slot ");
	puts_(name);
	kv("base", base);
	kv("magic", magic);
	kv("version", version);
	kv("device", id);
	kv("want", want);
	puts_("\n");
	check(magic == VIRTIO_MAGIC, "MagicValue");
	check(version == 2, "Version (modern transport)");
	check(id == want, "DeviceID is the system's device");
}

#define RNG_BASE_(n) AMP_##n##_MMIO_BASE
#define RNG_QSIZE_(n) AMP_##n##_QUEUE_SIZE
#define RNG_BASE(n) RNG_BASE_(n)
#define RNG_QSIZE(n) RNG_QSIZE_(n)
#define QSIZE RNG_QSIZE(RNG)

/* split virtqueue of QSIZE descriptors, each part 4 KiB aligned */
static uint8_t ring[3][4096 * 4] __attribute__((aligned(4096)));
static uint8_t entropy[16] __attribute__((aligned(16)));

static void rng_request(uintptr_t base)
{
	uintptr_t desc = (uintptr_t)ring[0], avail = (uintptr_t)ring[1];
	uintptr_t used = (uintptr_t)ring[2];
	uint32_t max, n;

	wr32(base + R_STATUS, 0);
	wr32(base + R_STATUS, S_ACK | S_DRIVER);
	wr32(base + R_DEV_FEATURES_SEL, 1);
	check(rd32(base + R_DEV_FEATURES) & 1u, "VIRTIO_F_VERSION_1 offered");
	wr32(base + R_DRV_FEATURES_SEL, 1);
	wr32(base + R_DRV_FEATURES, 1u); /* VIRTIO_F_VERSION_1 */
	wr32(base + R_DRV_FEATURES_SEL, 0);
	wr32(base + R_DRV_FEATURES, 0);
	wr32(base + R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	check(rd32(base + R_STATUS) & S_FEATURES_OK, "FEATURES_OK accepted");

	wr32(base + R_QUEUE_SEL, 0);
	max = rd32(base + R_QUEUE_NUM_MAX);
	puts_("PROBE rng");
	kv("queue_num_max", max);
	kv("queue_size", QSIZE);
	puts_("\n");
	check(max >= QSIZE, "QueueNumMax holds the layout's queue size");
	wr32(base + R_QUEUE_NUM, QSIZE);
	wr32(base + R_QUEUE_DESC, (uint32_t)desc);
	wr32(base + R_QUEUE_DESC + 4, (uint32_t)((uint64_t)desc >> 32));
	wr32(base + R_QUEUE_DRIVER, (uint32_t)avail);
	wr32(base + R_QUEUE_DRIVER + 4, (uint32_t)((uint64_t)avail >> 32));
	wr32(base + R_QUEUE_DEVICE, (uint32_t)used);
	wr32(base + R_QUEUE_DEVICE + 4, (uint32_t)((uint64_t)used >> 32));
	wr32(base + R_QUEUE_READY, 1);
	wr32(base + R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);

	/* descriptor 0: the device writes 16 bytes of entropy */
	*(volatile uint64_t *)desc = (uint64_t)(uintptr_t)entropy;
	*(volatile uint32_t *)(desc + 8) = sizeof(entropy);
	wr16(desc + 12, DESC_F_WRITE);
	wr16(desc + 14, 0);
	wr16(avail + 4, 0);  /* ring[0] = descriptor 0 */
	dsb();
	wr16(avail + 2, 1);  /* idx */
	dsb();
	wr32(base + R_QUEUE_NOTIFY, 0);

	for (n = 0; n < 100000000u && rd16(used + 2) == 0; n++) {
	}
	puts_("PROBE rng");
	kv("used_idx", rd16(used + 2));
	kv("used_id", rd32(used + 4));
	kv("used_len", rd32(used + 8));
	puts_("\n");
	check(rd16(used + 2) == 1, "the request came back (used.idx 1)");
	check(rd32(used + 4) == 0 && rd32(used + 8) == sizeof(entropy),
	      "descriptor 0 filled with 16 bytes");
}

void probe_main(void)
{
	puts_("PROBE virtio " AMP_SYSTEM_NAME "/" AMP_DOMAIN_NAME "\n");
#define X(n) slot(#n, AMP_##n##_MMIO_BASE, AMP_##n##_DEVICE_ID);
	DEVICES
#undef X
	rng_request(RNG_BASE(RNG));
	probe_end();
}
