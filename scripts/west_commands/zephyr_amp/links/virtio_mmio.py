"""What the two virtio-mmio kinds (virtio_native.py, hvl.py) share: the devices of a
link, their records, their layout entries and their header defines."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Optional

from .. import virtio
from ..layout import LinkLayout, Queue, Region
from ..source import did_you_mean
from .base import LinkKind, LinkRecord, is_pow2, near_pow2

if TYPE_CHECKING:
    from ..model import Domain
    from ..virtio import DeviceType
    from .base import CheckContext

WINDOW = 0x200              # registers 0x000-0x0ff, config space from 0x100 (formats.md 6.3)
VRING_ALIGN = 0x1000        # VIRTIO_MMIO_VRING_ALIGNMENT: legacy QueuePFN = pa / 4096

DEVICES = {"type": "seq", "sequence": [{"type": "map", "mapping": {
    "name": {"type": "str", "required": True, "pattern": "^[a-z][a-z0-9_]*$",
             "length": {"max": 20}},
    "type": {"type": "str", "required": True},
    "slot": {"type": "int"},
    "queues": {"type": "int"},
    "queue-size": {"type": "int"},
    "buffer-size": {"type": "scalar"}}}]}


@dataclass(frozen=True)
class VirtioDevice:
    """One virtio device of a virtio-mmio link."""
    name: str
    type: str                  # canonical type name (virtio.TYPES)
    id: int                    # virtio device ID
    queues: int
    queue_size: int
    buffer_size: int
    slot: Optional[int] = None  # native transport: QEMU's virtio-mmio-bus.<slot>
    path: tuple = ()


@dataclass(frozen=True)
class VirtioMmioLink(LinkRecord):
    """A virtio-mmio link (native or HVL), as the model checked it."""
    transport: str = "native"
    driver: str = None          # the Zephyr domain with the virtio drivers
    devices: tuple = ()         # (VirtioDevice, ...)


@dataclass
class VirtioDeviceLayout:
    """Where one virtio device of a link is: window, queues, IRQ."""
    device: VirtioDevice
    window: Region     # its virtio-mmio register window
    queues: list       # [Queue]
    irq: int = None    # native: GIC SPI number
    qemu: dict = None  # native: bus, QEMU device, id, socket

    def to_json(self) -> dict:
        dev = self.device
        d = {"name": dev.name, "type": dev.type, "id": dev.id, "queue_size": dev.queue_size,
             "buffer_size": dev.buffer_size,
             "window": {"region": self.window.name, "base": self.window.base,
                        "size": self.window.size},
             "queues": [q.to_json() for q in self.queues]}
        if dev.slot is not None:
            d["slot"] = dev.slot
        if self.irq is not None:
            d["irq"] = {"type": "spi", "number": self.irq, "trigger": "edge"}
        if self.qemu:
            d["qemu"] = dict(sorted(self.qemu.items()))
        return d

    @classmethod
    def from_json(cls, d: dict, regions: dict) -> "VirtioDeviceLayout":
        queues = [Queue.from_json(q, regions) for q in d["queues"]]
        dev = VirtioDevice(d["name"], d["type"], d["id"], len(queues), d["queue_size"],
                           d["buffer_size"], d.get("slot"))
        return cls(dev, regions[d["window"]["region"]], queues,
                   d["irq"]["number"] if "irq" in d else None, d.get("qemu"))


@dataclass
class VirtioLinkLayout(LinkLayout):
    """A virtio-mmio link: its devices, each with its window and queues."""
    devices: list = field(default_factory=list)     # [VirtioDeviceLayout]

    def to_json(self) -> dict:
        lk = self.link
        device = getattr(lk, "device", None)
        return {"name": lk.name, "type": lk.type, "transport": lk.transport,
                "driver": lk.driver, "device": device,
                "domains": [x for x in (lk.driver, device) if x],
                "shm": self.shm.name if self.shm else None,
                "devices": [dev.to_json() for dev in self.devices]}

    @classmethod
    def from_json(cls, d: dict, regions: dict) -> "VirtioLinkLayout":
        devices = [VirtioDeviceLayout.from_json(x, regions) for x in d["devices"]]
        return cls(cls.record_from_json(d, tuple(x.device for x in devices)),
                   regions.get(d["shm"]), devices=devices)

    @staticmethod
    def record_from_json(d: dict, devices: tuple) -> VirtioMmioLink:
        return VirtioMmioLink(d["name"], d["type"], transport=d["transport"],
                              driver=d["driver"], devices=devices)


class VirtioMmioKind(LinkKind):
    """The checks both transports make, then check_transport()."""
    type = "virtio-mmio"
    phase = 20

    def check(self, ctx: CheckContext, ld: dict, p: tuple) -> VirtioMmioLink:
        f = ctx.common(ld, p)
        driver = ctx.domain_ref(p, "driver", ld, "a virtio-mmio link")
        if driver.os != "zephyr":
            raise ctx.err(p + ("driver",), f"driver '{driver.name}' runs {driver.os}; this "
                          "tool generates virtio driver files for Zephyr only",
                          "make a Zephyr domain the driver")
        if not ld.get("devices"):
            raise ctx.err(p + ("devices",) if "devices" in ld else p,
                          "a virtio-mmio link needs at least one device",
                          "add devices: [{name: rng0, type: entropy}]")
        devices = tuple(_device(ctx, dd, p + ("devices", j), ld["devices"][:j])
                        for j, dd in enumerate(ld["devices"]))
        return self.check_transport(ctx, ld, p, driver, self.record(
            ld["name"], ld["type"], p, transport=self.transport, driver=driver.name,
            devices=devices, **f))

    record = VirtioMmioLink

    def check_transport(self, ctx: CheckContext, ld: dict, p: tuple, driver: Domain,
                        link: VirtioMmioLink) -> VirtioMmioLink:
        return link

    def domains(self, link: LinkRecord) -> tuple:
        return tuple(x for x in (link.driver, getattr(link, "device", None)) if x)

    def roles(self, link: LinkRecord) -> dict:
        return {}


def _device(ctx, dd: dict, dp: tuple, before: list) -> VirtioDevice:
    name = dd["name"]
    seen = next((j for j, other in enumerate(before) if other["name"] == name), None)
    if seen is not None:
        raise ctx.err(dp + ("name",), f"device '{name}' is already in this link "
                      f"(devices[{seen}])", "give each device its own name")
    t = virtio.device_type(dd["type"])
    if t is None:
        raise ctx.err(dp + ("type",), f"unknown virtio device type '{dd['type']}'",
                      did_you_mean(dd["type"], virtio.known_names()) or
                      "use one of: " + ", ".join(virtio.known_names()))
    queues = dd.get("queues", len(t.queues))
    if queues < len(t.queues):
        raise ctx.err(dp + ("queues",), f"a {t.name} device needs at least "
                      f"{len(t.queues)} queue{'s' if len(t.queues) > 1 else ''} "
                      f"({', '.join(t.queues)})", f"use {len(t.queues)} or more")
    if queues > virtio.QUEUES_MAX:
        raise ctx.err(dp + ("queues",), f"{queues} queues are more than the "
                      f"{virtio.QUEUES_MAX} a virtio device can have (QEMU's VIRTIO_QUEUE_MAX)",
                      f"use {len(t.queues)} ({', '.join(t.queues)})")
    qsize = dd.get("queue-size", virtio.DEFAULT_QUEUE_SIZE)
    if not is_pow2(qsize) or qsize > virtio.QUEUE_SIZE_MAX:
        raise ctx.err(dp + ("queue-size",), f"{qsize} is not a power of two up to "
                      f"{virtio.QUEUE_SIZE_MAX}",
                      f"use {min(near_pow2(qsize), virtio.QUEUE_SIZE_MAX)}")
    bsize = t.buffer_size
    if "buffer-size" in dd:
        bsize = ctx.size(dp + ("buffer-size",), dd["buffer-size"])
        if bsize == 0:
            raise ctx.err(dp + ("buffer-size",), "buffer-size is 0",
                          f"give the bytes one descriptor carries, e.g. {t.buffer_size}")
    return VirtioDevice(name, t.name, t.id, queues, qsize, bsize, dd.get("slot"), dp)


def with_slot(dev: VirtioDevice, slot: int) -> VirtioDevice:
    return replace(dev, slot=slot)


def queue_name(t: DeviceType, q: int) -> str:
    return t.queues[q] if q < len(t.queues) else f"queue{q}"


def cname(name: str) -> str:
    return name.upper().replace("-", "_")


def device_defines(lk: VirtioLinkLayout) -> list:
    """AMP_<LINK>_<DEVICE>_...: device ID, slot and IRQ (native), queues, sections (HVL)."""
    from .outputs import Define
    out = []
    pre = cname(lk.link.name)
    for dev in lk.devices:
        d = f"{pre}_{cname(dev.device.name)}"
        out.append(Define(f"{d}_DEVICE_ID", dev.device.id, f"virtio {dev.device.type}",
                          decimal=True))
        if dev.device.slot is not None:
            out.append(Define(f"{d}_SLOT", dev.device.slot, dev.qemu["bus"], decimal=True))
            out.append(Define(f"{d}_IRQ", dev.irq, "GIC SPI", decimal=True))
        out.append(Define(f"{d}_QUEUES", dev.device.queues, "virtqueues", decimal=True))
        out.append(Define(f"{d}_QUEUE_SIZE", dev.device.queue_size, "descriptors each",
                          decimal=True))
        for q in dev.queues:
            if q.section:
                out.append(Define(f"{d}_VQ{q.index}_SECTION", q.section,
                                  f"{q.name}: the section its vring is defined in"))
    return out


@dataclass(frozen=True)
class Window:
    """A virtio,mmio node and the device node under it (templates/zephyr/dts.j2)."""
    label: str
    addr: int
    size: int
    comment: str
    child_label: str
    child_name: str
    compatible: str
    spi: Optional[int] = None


def window(dev: VirtioDeviceLayout, label: str, comment: str) -> Window:
    t = virtio.device_type(dev.device.type)
    w = dev.window
    return Window(label, w.base, w.size, comment, f"amp_{w.link}_{dev.device.name}",
                  dev.device.name, virtio.compatible(t), dev.irq)
