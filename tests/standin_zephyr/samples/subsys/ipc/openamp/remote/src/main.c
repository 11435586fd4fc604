/*
 * Stand-in for Zephyr's samples/subsys/ipc/openamp/remote (tests only; not the real
 * sample): the remote side of rpmsg between two Zephyr images. The shared
 * memory comes from the generated layout.
 */

#if __has_include("amp_layout.h")
#include "amp_layout.h"
#endif

const char sample_name[] = "openamp remote";

int main(void)
{
	return sample_name[0];
}
