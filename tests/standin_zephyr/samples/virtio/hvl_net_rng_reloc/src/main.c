/*
 * Stand-in for the staging tree's samples/virtio/hvl_net_rng_reloc (tests
 * only; not the real sample): hypervisorless virtio, net + rng, on
 * qemu_cortex_r5. The generated linker fragment places the shared region.
 */

#if __has_include("amp_layout.h")
#include "amp_layout.h"
#endif

const char sample_name[] = "hvl_net_rng_reloc";

int main(void)
{
	return sample_name[0];
}
