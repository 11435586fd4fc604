/*
 * A remote's use of resource_table.h, as Zephyr's
 * samples/subsys/ipc/openamp_rsc_table/src/main_remote.c makes it (tests only;
 * written for this project): the table through rsc_table_get(), the vdev and
 * its vrings through the accessors, VDEV_ID/VRING0_ID/VRING1_ID for the ids.
 * AMP_ZEPHYR_MAJOR selects the handle type of that Zephyr's API: void * from
 * 4.2 on (rsc_table_get(void **, int *)), struct fw_resource_table * before.
 */
#include <stdint.h>

#include <openamp/open_amp.h>
#include <metal/sys.h>
#include <metal/io.h>
#include <resource_table.h>

#if AMP_ZEPHYR_MAJOR >= 4
static void *rsc_table;
#else
static struct fw_resource_table *rsc_table;
#endif

static metal_phys_addr_t rsc_tab_physmap;
static struct metal_io_region rsc_io_data;
static struct metal_io_region *rsc_io = &rsc_io_data;

static int mailbox_notify(void *priv, uint32_t id)
{
	(void)priv;
	return (int)id;
}

static int init_vring(struct virtio_device *vdev, unsigned int index,
		      struct fw_rsc_vdev_vring *vring_rsc)
{
	return rproc_virtio_init_vring(vdev, index, vring_rsc->notifyid,
				       (void *)(uintptr_t)vring_rsc->da, rsc_io,
				       vring_rsc->num, vring_rsc->align);
}

int main(void)
{
	int rsc_size;
	struct virtio_device *vdev;

	rsc_table_get(&rsc_table, &rsc_size);
	rsc_tab_physmap = (uintptr_t)rsc_table;
	metal_io_init(rsc_io, rsc_table, &rsc_tab_physmap, rsc_size, -1, 0, NULL);

	vdev = rproc_virtio_create_vdev(VIRTIO_DEV_DEVICE, VDEV_ID, rsc_table_to_vdev(rsc_table),
					rsc_io, NULL, mailbox_notify, NULL);
	rproc_virtio_wait_remote_ready(vdev);
	if (init_vring(vdev, 0, rsc_table_get_vring0(rsc_table)) ||
	    init_vring(vdev, 1, rsc_table_get_vring1(rsc_table))) {
		return 1;
	}
	rproc_virtio_notified(vdev, VRING0_ID);
	rproc_virtio_notified(vdev, VRING1_ID);
	return 0;
}
