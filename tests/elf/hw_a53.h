/* The QEMU virt memory map of tests/elf/systems/qemu-a53-handwritten.yaml, by
 * hand: the firmware in 4 MiB at 0x47000000 (the trace buffer near its top),
 * shared memory at 0x47400000 (vring0, vring1, the 8 KiB buffer pool). */
#ifndef HW_VRING0_DA
#define HW_VRING0_DA 0x47400000
#endif
#ifndef HW_VRING1_DA
#define HW_VRING1_DA 0x47401000
#endif
#define HW_POOL_BASE 0x47402000
#define HW_POOL_SIZE 0x2000
#define HW_TRACE_BASE 0x473fe000
