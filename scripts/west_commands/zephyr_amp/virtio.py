"""Virtio device types: the facts model, layout and render share about them.

Device IDs are the virtio spec's (open-amp lib/include/openamp/virtio.h;
formats.md 6.2). Queue names are the spec's virtqueues each device needs at
least (virtio 1.2, "Device Types"). The buffer size is what one descriptor of
a queue carries, used to size an HVL bounce-buffer pool: for net, a
12-byte virtio_net_hdr plus a 1514-byte Ethernet frame, rounded up. The QEMU
device is what `-device` names on QEMU's virtio-mmio bus (qemu-system-aarch64
-device help); "backend" says what else QEMU needs for it (the argument
syntax is in templates/qemu/qemu.args.j2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

DEFAULT_QUEUE_SIZE = 64
QUEUE_SIZE_MAX = 32768            # virtio: Queue Size is at most 32768
# QEMU's virtio devices (include/hw/virtio/virtio.h): VIRTQUEUE_MAX_SIZE, what the
# virtio-mmio register QueueNumMax reads (hw/virtio/virtio-mmio.c) and the most
# virtio_queue_set_num() takes; VIRTIO_QUEUE_MAX, the queues one device can have
QEMU_QUEUE_SIZE_MAX = 1024
QUEUES_MAX = 1024


@dataclass(frozen=True)
class DeviceType:
    """A virtio device type: ID, queues, and how QEMU provides it."""
    name: str
    id: int
    queues: tuple            # names of the virtqueues the device needs
    buffer_size: int         # bytes one descriptor of a queue carries (HVL pool sizing)
    qemu_device: str         # QEMU's -device for the virtio-mmio bus
    backend: str = None      # None | netdev | console | vhost-user


TYPES = {t.name: t for t in (
    DeviceType("net", 1, ("receiveq", "transmitq"), 2048, "virtio-net-device", "netdev"),
    DeviceType("console", 3, ("receiveq0", "transmitq0"), 512, "virtio-serial-device",
               "console"),
    DeviceType("entropy", 4, ("requestq",), 64, "virtio-rng-device"),
    DeviceType("i2c", 34, ("requestq",), 256, "vhost-user-i2c-device", "vhost-user"),
    DeviceType("gpio", 41, ("requestq", "eventq"), 64, "vhost-user-gpio-device", "vhost-user"),
)}

ALIASES = {"rng": "entropy", "i2c-adapter": "i2c", "serial": "console"}


def device_type(name: str) -> Optional[DeviceType]:
    """The DeviceType for a name or alias, or None."""
    return TYPES.get(ALIASES.get(name, name))


def known_names() -> list:
    return sorted(set(TYPES) | set(ALIASES))


def compatible(type_: DeviceType) -> str:
    """Devicetree compatible of the device node under a virtio,mmio node:
    "virtio,device<ID>" with the ID in lower-case hex (Linux's
    virtio/virtio-device.yaml; Zephyr's entropy driver matches virtio,device4)."""
    return f"virtio,device{type_.id:x}"
