/* What the stand-in OpenAMP and libmetal calls were given (tests only): each
 * call prints one line, which test_rsc_api.py compares with layout.json. */
#include <stdio.h>

#include <openamp/open_amp.h>
#include <metal/io.h>

static int the_device;

void metal_io_init(struct metal_io_region *io, void *virt, const metal_phys_addr_t *physmap,
		   size_t size, unsigned int page_shift, unsigned int mem_flags,
		   const void *ops)
{
	(void)page_shift;
	(void)mem_flags;
	(void)ops;
	io->virt = virt;
	io->physmap = physmap;
	io->size = size;
	printf("io size=%zu\n", size);
}

struct virtio_device *rproc_virtio_create_vdev(unsigned int role, unsigned int notifyid,
					       void *rsc, struct metal_io_region *rsc_io,
					       void *priv, rpvdev_notify_func notify,
					       void (*rst_cb)(struct virtio_device *vdev))
{
	const struct fw_rsc_vdev *vdev = rsc;

	(void)priv;
	(void)notify;
	(void)rst_cb;
	printf("vdev role=%u notifyid=%u type=%u id=%u offset=%ld vrings=%u\n", role, notifyid,
	       vdev->type, vdev->id, (long)((const char *)rsc - (const char *)rsc_io->virt),
	       vdev->num_of_vrings);
	return (struct virtio_device *)&the_device;
}

int rproc_virtio_init_vring(struct virtio_device *vdev, unsigned int index,
			    unsigned int notifyid, void *va, struct metal_io_region *io,
			    unsigned int num_descs, unsigned int align)
{
	(void)vdev;
	(void)io;
	printf("vring index=%u notifyid=%u da=%lu num=%u align=%u\n", index, notifyid,
	       (unsigned long)(uintptr_t)va, num_descs, align);
	return 0;
}

int rproc_virtio_notified(struct virtio_device *vdev, uint32_t notifyid)
{
	(void)vdev;
	printf("notified id=%u\n", (unsigned int)notifyid);
	return 0;
}

void rproc_virtio_wait_remote_ready(struct virtio_device *vdev)
{
	(void)vdev;
}
