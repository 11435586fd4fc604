/*
 * Stand-in for Zephyr's samples/virtio/entropy (tests only; not the real sample):
 * a virtio-mmio driver sample on qemu_cortex_a53. Its devices come from the
 * overlay; nothing here needs more than the layout header.
 */

#if __has_include("amp_layout.h")
#include "amp_layout.h"
#endif

const char sample_name[] = "entropy";

int main(void)
{
	return sample_name[0];
}
