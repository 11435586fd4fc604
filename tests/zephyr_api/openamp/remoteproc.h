/* Stand-in for open-amp's lib/include/openamp/remoteproc.h (tests only):
 * the resource-table entry types, with OpenAMP's field names and layouts. */
#ifndef STANDIN_OPENAMP_REMOTEPROC_H
#define STANDIN_OPENAMP_REMOTEPROC_H

#include <stdint.h>

#define RSC_CARVEOUT 0
#define RSC_DEVMEM 1
#define RSC_TRACE 2
#define RSC_VDEV 3
#define RPROC_MAX_NAME_LEN 32

#define METAL_PACKED_BEGIN
#define METAL_PACKED_END __attribute__((__packed__))

struct resource_table {
	uint32_t ver;
	uint32_t num;
	uint32_t reserved[2];
	uint32_t offset[0];
} METAL_PACKED_END;

struct fw_rsc_carveout {
	uint32_t type;
	uint32_t da;
	uint32_t pa;
	uint32_t len;
	uint32_t flags;
	uint32_t reserved;
	uint8_t name[RPROC_MAX_NAME_LEN];
} METAL_PACKED_END;

struct fw_rsc_trace {
	uint32_t type;
	uint32_t da;
	uint32_t len;
	uint32_t reserved;
	uint8_t name[RPROC_MAX_NAME_LEN];
} METAL_PACKED_END;

struct fw_rsc_vdev_vring {
	uint32_t da;
	uint32_t align;
	uint32_t num;
	uint32_t notifyid;
	uint32_t reserved;
} METAL_PACKED_END;

struct fw_rsc_vdev {
	uint32_t type;
	uint32_t id;
	uint32_t notifyid;
	uint32_t dfeatures;
	uint32_t gfeatures;
	uint32_t config_len;
	uint8_t status;
	uint8_t num_of_vrings;
	uint8_t reserved[2];
	struct fw_rsc_vdev_vring vring[0];
} METAL_PACKED_END;

#endif
