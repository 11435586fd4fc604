/*
 * A resource table written by hand, the way firmware that never saw amp-config
 * has one (shaped like the Xilinx legacy bare-metal table, formats.md 2.6.2):
 * a carveout for the vdev's buffer pool FIRST, then the rpmsg vdev with its two
 * vrings, then a trace buffer under its own name; notify IDs of its own choosing
 * (unique, below 32). The addresses are literals in hw_r5.h / hw_a53.h, copied
 * from the system's memory map by hand. Each HW_* macro is one thing a test may
 * change with -D.
 */
#include <stdint.h>

struct hw_carveout { uint32_t type, da, pa, len, flags, reserved; char name[32]; }
	__attribute__((packed));
struct hw_vring { uint32_t da, align, num, notifyid, reserved; } __attribute__((packed));
struct hw_vdev {
	uint32_t type, id, notifyid, dfeatures, gfeatures, config_len;
	uint8_t status, num_of_vrings, reserved[2];
	struct hw_vring vring[2];
} __attribute__((packed));
struct hw_trace { uint32_t type, da, len, reserved; char name[32]; } __attribute__((packed));

struct remote_resource_table {
	uint32_t version, num, reserved[2];
	uint32_t offset[3];
	struct hw_carveout pool;
	struct hw_vdev rpmsg;
	struct hw_trace trace;
} __attribute__((packed));

#ifndef HW_ALIGN0
#define HW_ALIGN0 16
#endif
#ifndef HW_NUM0
#define HW_NUM0 8
#endif
#ifndef HW_VRING1_NOTIFYID
#define HW_VRING1_NOTIFYID 2
#endif
#ifndef HW_TRACE_DA
#define HW_TRACE_DA HW_TRACE_BASE
#endif

#define HW_OFF(m) __builtin_offsetof(struct remote_resource_table, m)

__attribute__((section(".resource_table"), used, aligned(8)))
struct remote_resource_table resources = {
	.version = 1, .num = 3,
	.offset = { HW_OFF(pool), HW_OFF(rpmsg), HW_OFF(trace) },
	.pool = { 0, HW_POOL_BASE, HW_POOL_BASE, HW_POOL_SIZE, 0, 0, "vdev0buffer" },
	.rpmsg = { 3, 7, 31, 1, 0, 0, 0, 2, { 0, 0 }, {
		{ HW_VRING0_DA, HW_ALIGN0, HW_NUM0, 1, 0 },
		{ HW_VRING1_DA, 16, 8, HW_VRING1_NOTIFYID, 0 },
	} },
	.trace = { 2, HW_TRACE_DA, 0x1000, 0, "remote_log" },
};
