"""type: virtio-mmio, transport: native -- QEMU's own virtio-mmio transports.

Model: driver, devices (each in a slot of the board's transports). Layout: each
device's window at base + slot x stride, SPI first-spi + slot, in the driver's QEMU
instance; the vrings are in the driver's RAM, allocated by its driver. Outputs: the
virtio,mmio nodes, VIRTIO Kconfig (and the entropy driver), device defines, and
QEMU's -device arguments.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .. import virtio
from ..layout import Queue, Region, run_path, vring_size
from ..source import key_text
from .virtio_mmio import (
    DEVICES,
    VRING_ALIGN,
    VirtioDeviceLayout,
    VirtioLinkLayout,
    VirtioMmioKind,
    device_defines,
    queue_name,
    window,
    with_slot,
)

if TYPE_CHECKING:
    from ..layout import DomainLayout, Layout, Placer
    from ..model import Domain
    from .base import CheckContext
    from .outputs import Zephyr
    from .virtio_mmio import VirtioMmioLink

HVL_ONLY = ("device", "shm", "pool", "ipi")


class VirtioNative(VirtioMmioKind):
    transport = "native"
    # drivers/virtio (virtio_mmio.c) is in Zephyr 4.x; 3.7 has no virtio drivers, and of
    # the supported versions (zephyr_version.SUPPORTED) 4.4 is the one that has them
    zephyr_needs = ((4, 4), "Zephyr's virtio drivers (drivers/virtio, CONFIG_VIRTIO_MMIO)")
    default = True
    schema = {"driver": {"type": "str"}, "transport": {"type": "str"}, "devices": DEVICES}
    order = 20
    layout_class = VirtioLinkLayout

    # -- model ---------------------------------------------------------------------

    def check_transport(self, ctx: CheckContext, ld: dict, p: tuple, driver: Domain,
                        link: VirtioMmioLink) -> VirtioMmioLink:
        board = ctx.board
        for key in HVL_ONLY:
            if key in ld:
                raise ctx.err(p + (key,), f"'{key}' applies to transport: hvl only; on the "
                              "native transport QEMU provides the devices",
                              "remove it, or use transport: hvl", of_key=True)
        _queue_sizes(ctx, link)
        vm = board.virtio_mmio
        if vm is None:
            raise ctx.err(p + ("transport",) if "transport" in ld else p,
                          f"board {board.name} has no virtio-mmio transports of its own",
                          "use transport: hvl (virtio-mmio windows in shared memory)")
        # driver domain -> slot -> (device, path, given automatically, type)
        taken = ctx.memo.setdefault("virtio-slots", {}).setdefault(driver.name, {})
        kinds = [virtio.device_type(dev.type).name for dev in link.devices]
        kept = {slot for kind, slot in vm.board_slots if kind in kinds}
        for dev, kind in zip(link.devices, kinds):
            if dev.slot is not None:
                _take(ctx, board, driver, taken, dev, kind)
        devices = [dev if dev.slot is not None else
                   _auto_slot(ctx, vm, driver, taken, dev, kind, kept)
                   for dev, kind in zip(link.devices, kinds)]
        _board_slots(ctx, board, driver, taken, devices, kinds)
        return replace(link, devices=tuple(devices))

    # -- layout --------------------------------------------------------------------

    def place(self, placer: Placer, lk: VirtioMmioLink) -> None:
        vm = placer.board.virtio_mmio
        space = placer.space(lk.driver)
        devices = []
        for dev in lk.devices:
            t = virtio.device_type(dev.type)
            base = vm.base + dev.slot * vm.stride
            win = placer.add(Region(f"{lk.name}_{dev.name}_mmio", "mmio_window", lk.driver,
                                    base, vm.stride, users=[lk.driver], link=lk.name,
                                    dt_name="virtio_mmio", space=space, origin=dev.path,
                                    device=True))
            queues = [Queue(q, queue_name(t, q), dev.queue_size, VRING_ALIGN,
                            vring_size(dev.queue_size, VRING_ALIGN))
                      for q in range(dev.queues)]
            qemu = {"bus": f"virtio-mmio-bus.{dev.slot}", "device": t.qemu_device,
                    "id": f"{lk.name}_{dev.name}"}
            if t.backend in ("console", "vhost-user"):
                qemu["socket"] = run_path(placer.system.name, lk.name, dev.name,
                                          suffix=".sock")
            devices.append(VirtioDeviceLayout(dev, win, queues, vm.first_spi + dev.slot, qemu))
        placer.links.append(VirtioLinkLayout(lk, devices=devices))

    # -- outputs -------------------------------------------------------------------

    def zephyr(self, layout: Layout, dl: DomainLayout, layouts: list) -> Zephyr:
        from .outputs import Block, Kconfig, Zephyr
        vm = layout.system.board.virtio_mmio
        out = Zephyr()
        windows = []
        for lk in layouts:
            for dev in lk.devices:
                t = virtio.device_type(dev.device.type)
                windows.append(window(
                    dev, f"{vm.dt_label}{dev.device.slot}",
                    f"{lk.link.name}: {dev.device.name}, virtio {t.name} (ID {t.id}) in QEMU's "
                    f"slot {dev.device.slot} ({dev.qemu['bus']}), SPI {dev.irq}"))
                if t.name == "entropy":
                    out.chosen_extra.append(("zephyr,entropy",
                                             f"amp_{lk.link.name}_{dev.device.name}"))
        out.blocks.append(Block("zephyr/virtio_native.overlay.j2",
                                {"parent": vm.dt_parent, "windows": windows}))
        names = ", ".join(lk.link.name for lk in layouts)
        out.kconfig += [
            Kconfig("VIRTIO", "y", f"virtio core for {names}: QEMU's devices on its transports"),
            Kconfig("VIRTIO_MMIO", "y", "the virtio,mmio nodes of amp.overlay (Zephyr 4.x; "
                    "v3.7 has no virtio drivers)")]
        if any(d.device.type == "entropy" for lk in layouts for d in lk.devices):
            out.kconfig += [
                Kconfig("ENTROPY_GENERATOR", "y", "an entropy device is chosen as "
                        "zephyr,entropy"),
                Kconfig("ENTROPY_VIRTIO", "y", "Zephyr's virtio entropy driver "
                        "(virtio,device4)")]
        for lk in layouts:
            out.defines += device_defines(lk)
        out.qemu_bus = list(vm.qemu_args)
        out.qemu_devices = [{"type": dev.device.type, "qemu": dev.qemu, "netdev": dev.qemu["id"],
                             "chardev": dev.qemu["id"], "socket": dev.qemu.get("socket")}
                            for lk in layouts for dev in lk.devices]
        return out


def _queue_sizes(ctx, link: VirtioMmioLink) -> None:
    """On the native transport QEMU's device is the other end: a queue takes at most
    VIRTQUEUE_MAX_SIZE descriptors (what QueueNumMax reads; QEMU ignores a larger
    QueueNum, and device and driver then disagree about the ring)."""
    top = virtio.QEMU_QUEUE_SIZE_MAX
    for dev in link.devices:
        if dev.queue_size > top:
            raise ctx.err(dev.path + ("queue-size",), f"{dev.queue_size} is more than the "
                          f"{top} descriptors a queue of QEMU's virtio devices takes "
                          "(QueueNumMax, VIRTQUEUE_MAX_SIZE)", f"use {top} or less")


def _take(ctx: CheckContext, board, driver: Domain, taken: dict, dev, kind: str) -> None:
    """Claim dev.slot of the driver's transports for dev, or say why it cannot have it."""
    vm, sp = board.virtio_mmio, dev.path + ("slot",)
    if not 0 <= dev.slot < vm.slots:
        raise ctx.err(sp, f"slot {dev.slot} is out of range: board {board.name} has "
                      f"{vm.slots} virtio-mmio transports",
                      f"use a slot from 0 to {vm.slots - 1}, or leave slot out")
    if dev.slot in taken:
        other, path, other_auto, _ = taken[dev.slot]
        raise ctx.err(sp, f"slot {dev.slot} of domain {driver.name} is already taken "
                      f"by device {other} ({key_text(path)}"
                      f"{', given it automatically' if other_auto else ''})",
                      "give each device its own slot, or leave slot out")
    taken[dev.slot] = (dev.name, dev.path, False, kind)


def _auto_slot(ctx: CheckContext, vm, driver: Domain, taken: dict, dev, kind: str,
               kept: set):
    """dev in the slot Zephyr's board.cmake gives its kind when that is free, else in the
    lowest free slot not kept for a kind the link has (kept: those board.cmake slots)."""
    mine = [slot for t, slot in vm.board_slots if t == kind and slot not in taken]
    free = mine[:1] or [n for n in range(vm.slots) if n not in taken and n not in kept][:1]
    if not free:
        raise ctx.err(dev.path, f"no virtio-mmio slot is left for device "
                      f"{dev.name}: domain {driver.name} uses all {vm.slots}",
                      "remove devices")
    taken[free[0]] = (dev.name, dev.path, True, kind)
    return with_slot(dev, free[0])


def _board_slots(ctx: CheckContext, board, driver: Domain, taken: dict, devices,
                 kinds: list) -> None:
    """Zephyr's board.cmake attaches some QEMU devices itself (qemu_cortex_a53: with
    CONFIG_ENTROPY_VIRTIO=y, virtio-rng-device on virtio-mmio-bus.0): when the driver has
    a device of that kind, the slot must hold one, or `west build -t run` puts two
    devices on one bus (QEMU refuses) or the entropy device where Zephyr does not look."""
    for kind, slot in board.virtio_mmio.board_slots:
        ours = [d for d, k in zip(devices, kinds) if k == kind]
        if not ours or (slot in taken and taken[slot][3] == kind):
            continue
        why = (f"Zephyr's {board.name} board.cmake attaches its own QEMU {kind} device "
               f"to virtio-mmio-bus.{slot} (west build -t run)")
        if slot in taken:
            other, path, _, _ = taken[slot]
            raise ctx.err(path + ("slot",), f"slot {slot} of domain {driver.name} holds "
                          f"device {other}, but {why}",
                          f"give {ours[0].name} slot {slot} and {other} another")
        raise ctx.err(ours[0].path + ("slot",), f"{kind} device {ours[0].name} is in slot "
                      f"{ours[0].slot}, but {why}",
                      f"give it slot {slot}, or leave slot out")


KIND = VirtioNative()
