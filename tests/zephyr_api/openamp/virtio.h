/* Stand-in for open-amp's virtio.h (tests only): the roles and an opaque device. */
#ifndef STANDIN_OPENAMP_VIRTIO_H
#define STANDIN_OPENAMP_VIRTIO_H

#define VIRTIO_DEV_DRIVER 0UL
#define VIRTIO_DEV_DEVICE 1UL
#define VIRTIO_ID_RPMSG 7

struct virtio_device;

#endif
