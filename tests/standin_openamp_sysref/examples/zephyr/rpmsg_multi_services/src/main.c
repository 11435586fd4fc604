/*
 * Stand-in for openamp-system-reference's examples/zephyr/rpmsg_multi_services
 * (tests only; not the real sample): a remote with a resource table, which it
 * asks for through rsc_table_get() as the real one does.
 */

#if __has_include("amp_layout.h")
#include "amp_layout.h"
#endif
#if defined(CONFIG_OPENAMP_RSC_TABLE) && __has_include("resource_table.h")
#include "resource_table.h"
#define HAVE_RSC_TABLE 1
#endif

const char sample_name[] = "rpmsg_multi_services";

int main(void)
{
	int len = 0;
#ifdef HAVE_RSC_TABLE
	void *table;

	rsc_table_get(&table, &len);
#endif
	return len;
}
