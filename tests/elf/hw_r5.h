/* The KV260 memory map of tests/elf/systems/kv260-handwritten.yaml, by hand:
 * shared memory at 0x3ed40000, past Linux's rproc_0_fw_image (vring0, vring1,
 * the 8 KiB buffer pool), the trace buffer where Linux reads it, in BTCM1 at
 * the R5's 0x3e000. */
#ifndef HW_VRING0_DA
#define HW_VRING0_DA 0x3ed40000
#endif
#ifndef HW_VRING1_DA
#define HW_VRING1_DA 0x3ed41000
#endif
#define HW_POOL_BASE 0x3ed42000
#define HW_POOL_SIZE 0x2000
#define HW_TRACE_BASE 0x3e000
