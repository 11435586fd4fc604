/*
 * Stand-in for Zephyr's samples/subsys/ipc/openamp_rsc_table (tests only; not
 * the real sample). Like the real one it asks for the resource table through
 * rsc_table_get() and uses the shared memory the layout gives it.
 */

#include <stdint.h>

#if __has_include("amp_layout.h")
#include "amp_layout.h"
#endif
#if defined(CONFIG_OPENAMP_RSC_TABLE) && __has_include("resource_table.h")
#include "resource_table.h"
#define HAVE_RSC_TABLE 1
#endif

const char sample_name[] = "openamp_rsc_table";

int main(void)
{
	int len = 0;
#ifdef HAVE_RSC_TABLE
	struct fw_resource_table *table;

	rsc_table_get(&table, &len);
#endif
	return len;
}
