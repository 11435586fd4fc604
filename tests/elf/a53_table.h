/* Defaults of the Cortex-A53 (qemu_cortex_a53) table: two rpmsg vdevs with
 * explicit vring addresses and one carveout, no trace (-DHAVE_TRACE=1 adds one). */
#define HAVE_VDEV1 1
#ifndef HAVE_TRACE
#define HAVE_TRACE 0
#endif
#ifndef TRACE_LEN
#define TRACE_LEN 0x1000
#endif
/* Where a53.ld.in links .trace; the u32 field keeps the low half (a 64-bit
 * address is no constant for a u32 initializer, so the table names it). */
#define TRACE_DA ((uint32_t)0x100100000ull)
#define HAVE_CARVEOUT 1
#ifndef VRING_NUM
#define VRING_NUM 16
#endif
#ifndef VDEV1_VRING1_NUM
#define VDEV1_VRING1_NUM VRING_NUM
#endif
#ifndef VRING0_DA
#define VRING0_DA 0x47004000
#endif
#ifndef VRING1_DA
#define VRING1_DA 0x47005000
#endif
#ifndef VDEV1_VRING0_DA
#define VDEV1_VRING0_DA 0x4700a000
#endif
#ifndef VDEV1_VRING1_DA
#define VDEV1_VRING1_DA 0x4700b000
#endif
#ifndef VRING0_NOTIFYID
#define VRING0_NOTIFYID 0
#endif
#define VRING1_NOTIFYID 1
#ifndef VDEV_NOTIFYID
#define VDEV_NOTIFYID 4
#endif
#define VDEV1_NOTIFYID 5
#define CARVEOUT_DA 0x40100000
#define CARVEOUT_LEN 0x100000
#define CARVEOUT_NAME "a53_heap"
