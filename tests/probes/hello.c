/* The smallest probe: proves the build, the boot and the console. */
#include "probe.h"
#include "amp_layout.h"

void probe_main(void)
{
	puts_("PROBE hello from " AMP_DOMAIN_NAME " of " AMP_SYSTEM_NAME "\n");
	probe_end();
}
