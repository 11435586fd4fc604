/*
 * A resource table laid out as ../../../shared/docs/formats.md section 2
 * describes (open-amp remoteproc.h, packed, little endian), with every field
 * a macro so a test can change exactly one thing with -D. The defaults for a
 * target come from the header given with -include (r5_table.h, a53_table.h).
 */
#include <stdint.h>

#define PACKED __attribute__((packed))

struct resource_table { uint32_t ver, num, reserved[2]; } PACKED;
struct fw_rsc_carveout { uint32_t type, da, pa, len, flags, reserved; char name[32]; } PACKED;
struct fw_rsc_trace { uint32_t type, da, len, reserved; char name[32]; } PACKED;
struct fw_rsc_vdev_vring { uint32_t da, align, num, notifyid, reserved; } PACKED;
struct fw_rsc_vdev {
	uint32_t type, id, notifyid, dfeatures, gfeatures, config_len;
	uint8_t status, num_of_vrings, reserved[2];
} PACKED;

#ifndef RSC_SECTION
#define RSC_SECTION ".resource_table"
#endif
#ifndef RSC_VER
#define RSC_VER 1
#endif
#ifndef RSC_RESERVED0
#define RSC_RESERVED0 0
#endif
#ifndef VRING_ALIGN
#define VRING_ALIGN 16
#endif
#ifndef VDEV_NUM_VRINGS
#define VDEV_NUM_VRINGS 2
#endif
#ifndef VDEV_STATUS
#define VDEV_STATUS 0
#endif
#ifndef VDEV_NOTIFYID
#define VDEV_NOTIFYID 2
#endif
#ifndef VDEV_RESERVED
#define VDEV_RESERVED 0
#endif
#ifndef CARVEOUT_TYPE
#define CARVEOUT_TYPE 0
#endif
#ifndef CARVEOUT_RESERVED
#define CARVEOUT_RESERVED 0
#endif
#ifndef TRACE_RESERVED
#define TRACE_RESERVED 0
#endif
#ifndef VRING0_NUM
#define VRING0_NUM VRING_NUM
#endif
#ifndef VRING1_NUM
#define VRING1_NUM VRING_NUM
#endif

#define ENTRIES (1 + HAVE_VDEV1 + HAVE_TRACE + HAVE_CARVEOUT)
#ifndef RSC_NUM
#define RSC_NUM ENTRIES
#endif

struct fw_resource_table {
	struct resource_table hdr;
	uint32_t offset[ENTRIES];
	struct fw_rsc_vdev vdev;
	struct fw_rsc_vdev_vring vring0, vring1;
#if HAVE_VDEV1
	struct fw_rsc_vdev vdev1;
	struct fw_rsc_vdev_vring vdev1_vring0, vdev1_vring1;
#endif
#if HAVE_TRACE
	struct fw_rsc_trace trace;
#endif
#if HAVE_CARVEOUT
	struct fw_rsc_carveout carveout;
#endif
} PACKED;

#define OFF(member) __builtin_offsetof(struct fw_resource_table, member)

#ifndef RSC_OFFSET0
#define RSC_OFFSET0 OFF(vdev)
#endif

#if HAVE_TRACE
extern char trace_buf[];
#ifndef TRACE_DA
#define TRACE_DA ((uint32_t)(uintptr_t)trace_buf)
#endif
#endif

#ifdef RSC_TINY
/* Only half a header: HDR-01. */
__attribute__((section(RSC_SECTION), used)) uint32_t resource_table[2] = { 1, 0 };
#elif !defined(NO_RSC_TABLE)
/* Packed and without an alignment attribute, like Zephyr's: ld puts it where told. */
__attribute__((section(RSC_SECTION), used))
struct fw_resource_table resource_table = {
	.hdr = { RSC_VER, RSC_NUM, { RSC_RESERVED0, 0 } },
	.offset = {
		RSC_OFFSET0,
#if HAVE_VDEV1
		OFF(vdev1),
#endif
#if HAVE_TRACE
#ifdef RSC_OFFSET_TRACE
		RSC_OFFSET_TRACE,
#else
		OFF(trace),
#endif
#endif
#if HAVE_CARVEOUT
		OFF(carveout),
#endif
	},
	.vdev = { 3, 7, VDEV_NOTIFYID, 1, 0, 0, VDEV_STATUS, VDEV_NUM_VRINGS, { VDEV_RESERVED, 0 } },
	.vring0 = { VRING0_DA, VRING_ALIGN, VRING0_NUM, VRING0_NOTIFYID, 0 },
	.vring1 = { VRING1_DA, VRING_ALIGN, VRING1_NUM, VRING1_NOTIFYID, 0 },
#if HAVE_VDEV1
	.vdev1 = { 3, 7, VDEV1_NOTIFYID, 1, 0, 0, 0, 2, { 0, 0 } },
	.vdev1_vring0 = { VDEV1_VRING0_DA, VRING_ALIGN, VRING_NUM, 2, 0 },
	.vdev1_vring1 = { VDEV1_VRING1_DA, VRING_ALIGN, VDEV1_VRING1_NUM, 3, 0 },
#endif
#if HAVE_TRACE
	.trace = { 2, TRACE_DA, TRACE_LEN, TRACE_RESERVED, "Zephyr_log" },
#endif
#if HAVE_CARVEOUT
	.carveout = { CARVEOUT_TYPE, CARVEOUT_DA, CARVEOUT_DA, CARVEOUT_LEN, 0, CARVEOUT_RESERVED,
		      CARVEOUT_NAME },
#endif
};
#endif

#ifdef XAMP
/*
 * Xilinx attach metadata (formats.md 2.6.2): version, magic 'xamp', ~magic,
 * the table's size and address (a uintptr_t: 4 bytes on the R5, 8 on the
 * A53). The linker script puts it at the start of the firmware region.
 */
#define XAMP_MAGIC_OK 0x78616d70u
#ifndef XAMP_MAGIC
#define XAMP_MAGIC XAMP_MAGIC_OK
#endif
#ifndef XAMP_COMP_MAGIC
#define XAMP_COMP_MAGIC (~XAMP_MAGIC_OK)
#endif
#ifndef XAMP_RSC_TBL_SIZE
#define XAMP_RSC_TBL_SIZE sizeof(resource_table)
#endif
#ifndef XAMP_RSC_TBL
#define XAMP_RSC_TBL ((uintptr_t)&resource_table)
#endif

struct rsc_tbl_metadata {
	int32_t version;
	uint32_t magic, comp_magic, rsc_tbl_size;
#ifndef XAMP_NO_ADDR
	uintptr_t rsc_tbl;
#endif
} PACKED;

__attribute__((section(".resource_table_metadata"), used))
const struct rsc_tbl_metadata resource_table_metadata = {
	1, XAMP_MAGIC, XAMP_COMP_MAGIC, XAMP_RSC_TBL_SIZE,
#ifndef XAMP_NO_ADDR
	XAMP_RSC_TBL,
#endif
};
#endif
