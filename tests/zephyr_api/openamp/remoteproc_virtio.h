/* Stand-in for open-amp's remoteproc_virtio.h (tests only): the calls the
 * openamp_rsc_table sample makes with what resource_table.h gives it. */
#ifndef STANDIN_OPENAMP_REMOTEPROC_VIRTIO_H
#define STANDIN_OPENAMP_REMOTEPROC_VIRTIO_H

#include <openamp/remoteproc.h>
#include <openamp/virtio.h>
#include <metal/io.h>

typedef int (*rpvdev_notify_func)(void *priv, uint32_t id);

struct virtio_device *rproc_virtio_create_vdev(unsigned int role, unsigned int notifyid,
					       void *rsc, struct metal_io_region *rsc_io,
					       void *priv, rpvdev_notify_func notify,
					       void (*rst_cb)(struct virtio_device *vdev));
int rproc_virtio_init_vring(struct virtio_device *vdev, unsigned int index,
			    unsigned int notifyid, void *va, struct metal_io_region *io,
			    unsigned int num_descs, unsigned int align);
int rproc_virtio_notified(struct virtio_device *vdev, uint32_t notifyid);
void rproc_virtio_wait_remote_ready(struct virtio_device *vdev);

#endif
