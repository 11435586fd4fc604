/* Defaults of the Cortex-R5 (KV260 RPU0, lock-step) table: one rpmsg vdev with
 * its vrings where the layout puts them, a trace buffer, one DDR carveout. */
#define HAVE_VDEV1 0
#define HAVE_TRACE 1
#define HAVE_CARVEOUT 1
#ifndef VRING_NUM
#define VRING_NUM 8
#endif
#ifndef VRING0_DA
#define VRING0_DA 0x3ed00000
#endif
#ifndef VRING1_DA
#define VRING1_DA 0x3ed01000
#endif
#define VRING0_NOTIFYID 0
#define VRING1_NOTIFYID 1
#ifndef TRACE_LEN
#define TRACE_LEN 0x1000
#endif
#define CARVEOUT_DA 0x3ed10000
#define CARVEOUT_LEN 0x10000
#ifndef CARVEOUT_NAME
#define CARVEOUT_NAME "rpu0_ddr"
#endif
