/*
 * Stand-in for Zephyr's samples/subsys/ipc/openamp (tests only; not the real
 * sample): the host side of rpmsg between two Zephyr images. The shared
 * memory comes from the generated layout.
 */

#if __has_include("amp_layout.h")
#include "amp_layout.h"
#endif

const char sample_name[] = "openamp host";

int main(void)
{
	return sample_name[0];
}
