/* Stand-in for libmetal's sys.h (tests only). */
#ifndef STANDIN_METAL_SYS_H
#define STANDIN_METAL_SYS_H

#include <stddef.h>
#include <stdint.h>

typedef uintptr_t metal_phys_addr_t;

#endif
