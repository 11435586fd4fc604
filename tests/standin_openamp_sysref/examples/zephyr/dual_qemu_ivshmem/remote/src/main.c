/*
 * Stand-in for openamp-system-reference's examples/zephyr/dual_qemu_ivshmem/remote
 * (tests only; not the real sample): one side of rpmsg between two Zephyr
 * images on two QEMUs over ivshmem. The shared memory comes from the layout.
 */

#if __has_include("amp_layout.h")
#include "amp_layout.h"
#endif

const char sample_name[] = "dual_qemu_ivshmem remote";

int main(void)
{
	return sample_name[0];
}
