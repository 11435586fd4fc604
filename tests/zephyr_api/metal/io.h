/* Stand-in for libmetal's io.h (tests only): a region and its constructor. */
#ifndef STANDIN_METAL_IO_H
#define STANDIN_METAL_IO_H

#include <metal/sys.h>

struct metal_io_region {
	void *virt;
	const metal_phys_addr_t *physmap;
	size_t size;
};

void metal_io_init(struct metal_io_region *io, void *virt, const metal_phys_addr_t *physmap,
		   size_t size, unsigned int page_shift, unsigned int mem_flags,
		   const void *ops);

#endif
