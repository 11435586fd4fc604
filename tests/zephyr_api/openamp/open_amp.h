/* Stand-in for open-amp's open_amp.h (tests only). */
#ifndef STANDIN_OPENAMP_OPEN_AMP_H
#define STANDIN_OPENAMP_OPEN_AMP_H

#include <openamp/remoteproc.h>
#include <openamp/remoteproc_virtio.h>
#include <openamp/virtio.h>

#endif
