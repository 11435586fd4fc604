"""type: virtio-mmio, transport: hvl -- hypervisorless virtio in shared memory.

Model: driver (Zephyr), device (Linux), devices, shm (the pre-shared region), pool
(bounce buffers), ipi (the mailbox for kicks). Layout (formats.md 6.6): the
virtio-mmio windows from the start of the pre-shared region, then one vring per
queue, then the bounce-buffer pool. Outputs: the hvl node, amp_hvl.ld with the
vring sections and __shmem0_* symbols, OpenAMP Kconfig, defines; on the Linux side
the reserved region, a generic-uio node and <link>.hvl.json for the device process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Optional

from .. import virtio
from ..layout import ADDR32, REGION_ALIGN, Queue, Region, align_up, vring_size
from ..source import key_text
from .virtio_mmio import (
    DEVICES,
    VRING_ALIGN,
    WINDOW,
    VirtioDeviceLayout,
    VirtioLinkLayout,
    VirtioMmioKind,
    VirtioMmioLink,
    cname,
    device_defines,
    queue_name,
    window,
)

if TYPE_CHECKING:
    from ..layout import DomainLayout, Layout, Placer
    from ..model import Domain
    from .base import CheckContext
    from .outputs import Linux, Zephyr


@dataclass(frozen=True)
class HvlLink(VirtioMmioLink):
    """A virtio-mmio link on the HVL transport, as the model checked it."""
    device: str = None          # the domain that runs the devices
    pool: Optional[int] = None  # bounce-buffer pool size, None: derived
    ipi: str = None             # board mailbox that carries the kicks


@dataclass
class HvlLinkLayout(VirtioLinkLayout):
    """Windows, vrings and bounce-buffer pool in the pre-shared region (shm)."""
    windows: tuple = None      # (base, size) of the window area
    vrings: tuple = None       # (base, size) of the vring area
    pool: Region = None        # the bounce-buffer pool
    pool_need: int = 0         # what the queues need of it
    ipi: dict = None           # the kick path

    @property
    def symbols(self) -> dict:
        """HVL linker symbols (landscape.md 1.6): vrings from __shmem0_start, the pool
        from __shmem0_pool_start to __shmem0_end."""
        return {"__shmem0_start": self.vrings[0], "__shmem0_pool_start": self.pool.base,
                "__shmem0_end": self.pool.end}

    def to_json(self) -> dict:
        d = super().to_json()
        d["windows"] = {"base": self.windows[0], "size": self.windows[1]}
        d["vrings"] = {"base": self.vrings[0], "size": self.vrings[1]}
        d["vring_section_base"] = self.vrings[0]
        d["pool"] = {"region": self.pool.name, "base": self.pool.base,
                     "size": self.pool.size, "need": self.pool_need}
        d["symbols"] = self.symbols
        d["ipi"] = self.ipi
        return d

    @classmethod
    def from_json(cls, d: dict, regions: dict) -> "HvlLinkLayout":
        from ..layout_read import MailboxRef
        devices = [VirtioDeviceLayout.from_json(x, regions) for x in d["devices"]]
        shm = regions[d["shm"]]
        link = HvlLink(d["name"], d["type"], shm=shm.name if shm.kind == "pool" else None,
                       transport=d["transport"], driver=d["driver"],
                       devices=tuple(x.device for x in devices), device=d["device"],
                       ipi=d["ipi"]["mailbox"])
        ipi = d["ipi"]
        mailbox = MailboxRef(ipi["mailbox"], [], ipi["zephyr_label"], ipi["zephyr_parent"])
        return cls(link, shm, mailbox=mailbox, devices=devices,
                   windows=(d["windows"]["base"], d["windows"]["size"]),
                   vrings=(d["vrings"]["base"], d["vrings"]["size"]),
                   pool=regions[d["pool"]["region"]], pool_need=d["pool"]["need"], ipi=ipi)


class Hvl(VirtioMmioKind):
    transport = "hvl"
    # drivers/virtio (virtio_mmio.c) is in Zephyr 4.x; 3.7 has no virtio drivers, and of
    # the supported versions (zephyr_version.SUPPORTED) 4.4 is the one that has them
    zephyr_needs = ((4, 4), "Zephyr's virtio drivers (drivers/virtio, CONFIG_VIRTIO_MMIO)")
    default = False
    schema = {"driver": {"type": "str"}, "device": {"type": "str"},
              "transport": {"type": "str"}, "devices": DEVICES, "shm": {"type": "str"},
              "pool": {"type": "scalar"}, "ipi": {"type": "str"}}
    order = 30
    takes_shm_whole = True
    layout_class = HvlLinkLayout
    record = HvlLink

    # -- model ---------------------------------------------------------------------

    def check_transport(self, ctx: CheckContext, ld: dict, p: tuple, driver: Domain,
                        link: HvlLink) -> HvlLink:
        for dev in link.devices:
            if dev.slot is not None:
                raise ctx.err(dev.path + ("slot",), "'slot' applies to the native transport "
                              "only; HVL windows follow each other from the start of the "
                              "shared region", "remove it", of_key=True)
        drivers = ctx.memo.setdefault("hvl-drivers", {})
        if driver.name in drivers:
            raise ctx.err(p + ("driver",), f"domain {driver.name} already drives the hvl link "
                          f"{key_text(drivers[driver.name])}; the HVL code has one "
                          "shared region (__shmem0_*)", "put all its devices in that link")
        drivers[driver.name] = p
        device = ctx.domain_ref(p, "device", ld, "an hvl link")
        if device.name == driver.name:
            raise ctx.err(p + ("device",), "driver and device are the same domain",
                          "the device side runs on the other OS")
        if device.os != "linux":
            raise ctx.err(p + ("device",), f"device '{device.name}' runs {device.os}; this "
                          "tool writes the HVL device side (overlay and device file) for "
                          "Linux only", "make a Linux domain the device")
        board = ctx.board
        if board.instance_per_domain:
            raise ctx.err(p + ("transport",), f"on board {board.name} every domain is its own "
                          "QEMU instance, so driver and device share no memory",
                          "use an ivshmem link, or transport: native")
        ipi = _ipi(ctx, ld, p, driver, device).name
        if link.shm:
            for k, other in enumerate(ctx.raw_links):
                if other is not ld and other.get("shm") == link.shm:
                    a, b = sorted((p[1], k))
                    raise ctx.err(("links", b, "shm"), f"shared memory {link.shm} is the "
                                  f"pre-shared region of hvl link links[{a}] and also used "
                                  f"by links[{b}]; HVL takes the whole region",
                                  "give each link its own shared memory")
        pool = None
        if "pool" in ld:
            pool = ctx.size(p + ("pool",), ld["pool"])
            if pool == 0:
                raise ctx.err(p + ("pool",), "pool size is 0", "leave pool out to have the "
                              "bounce-buffer pool sized from the queues")
        return replace(link, device=device.name, ipi=ipi, pool=pool)

    # -- layout --------------------------------------------------------------------

    def need(self, placer: Placer, lk: HvlLink) -> tuple:
        """What an hvl link takes, area by area, each page aligned: a 0x200 window per
        device, one vring per queue (num = queue-size, align 0x1000), and the pool:
        queues x queue-size x buffer-size of every device.
        -> (windows, [(device, queue, vring bytes, alloc)], vrings, pool need in bytes)"""
        step = max(placer.page, VRING_ALIGN)
        windows = align_up(len(lk.devices) * WINDOW, step)
        vrings = []
        for dev in lk.devices:
            for q in range(dev.queues):
                size = vring_size(dev.queue_size, VRING_ALIGN)
                vrings.append((dev, q, size, align_up(size, step)))
        pool = sum(d.queues * d.queue_size * d.buffer_size for d in lk.devices)
        return windows, vrings, sum(v[3] for v in vrings), pool

    def shm_size(self, placer: Placer, lk: HvlLink) -> int:
        return self.sizes(placer, lk)[0]

    def sizes(self, placer: Placer, lk: HvlLink) -> tuple:
        """(region size, pool size); raises when the pool or the region the YAML gives
        is too small."""
        windows, _, vtotal, need = self.need(placer, lk)
        decl = placer.system.pool(lk.shm) if lk.shm else None
        if lk.pool is not None and lk.pool < need:
            detail = ", ".join(f"{d.name} {d.queues} x {d.queue_size} x {d.buffer_size}"
                               for d in lk.devices)
            raise placer.err(lk.path + ("pool",), f"a pool of {lk.pool:#x} bytes is too small "
                             f"for the queues of {lk.name} ({detail} bytes: {need:#x})",
                             f"use at least {need:#x}, or leave pool out")
        pool = align_up(lk.pool if lk.pool is not None else need, placer.page)
        total = windows + vtotal + pool
        if decl is None or decl.size is None:
            return total, pool
        size = decl.size
        n = len(lk.devices)
        if n * WINDOW > size:
            raise placer.err(decl.path + ("size",), f"the {n} virtio-mmio windows of {lk.name} "
                             f"({n * WINDOW:#x} bytes) run past the end of shared "
                             f"memory {decl.name} ({size:#x} bytes)",
                             f"use at least {total:#x}, or leave size out")
        if total > size:
            raise placer.err(decl.path + ("size",), f"shared memory {decl.name} is {size:#x} "
                             f"bytes; {lk.name} needs {total:#x} (windows "
                             f"{windows:#x}, vrings {vtotal:#x}, pool {pool:#x})",
                             f"use at least {total:#x}, or leave size out")
        if lk.pool is None:
            pool = size - windows - vtotal      # the pool runs to the end of the region
        return size, pool

    def _region(self, placer, lk: HvlLink, size: int) -> Region:
        users = [lk.driver, lk.device]
        # a Linux device side reserves it as /reserved-memory/shm@... (linux())
        dt_name = "shm" if placer.domains[lk.device].domain.os == "linux" else None
        decl = placer.system.pool(lk.shm) if lk.shm else None
        if decl:
            mem = placer.memory_for(decl.memory, decl.path)
            base = decl.base if decl.base is not None else placer.alloc(
                mem, size, REGION_ALIGN, decl.path, f"shared memory {decl.name}")
            shm = placer.add(Region(decl.name, "pool", "shared", base, size, users=users,
                                    link=lk.name, origin=decl.path, dt_name=dt_name))
        else:
            mem = placer.memory_for(None, lk.path)
            base = placer.alloc(mem, size, REGION_ALIGN, lk.path,
                                f"the shared region of {lk.name}")
            shm = placer.add(Region(f"{lk.name}_shm", "shm", "shared", base, size,
                                    users=users, link=lk.name, origin=lk.path,
                                    dt_name=dt_name))
        if shm.end > ADDR32 and placer.domains[lk.driver].domain.arch == "arm":
            raise placer.err(shm.origin, f"{shm.name} {shm.span()} is above 4 GiB, out of "
                             f"reach of {lk.driver}'s 32-bit core", "place it below 4 GiB")
        return shm

    def place(self, placer: Placer, lk: HvlLink) -> None:
        """Windows from the start of the pre-shared region, then the vrings, then the
        bounce-buffer pool (formats.md 6.6: windows at 0x37000000, vrings from 0x37001000)."""
        windows, vrings, vtotal, need = self.need(placer, lk)
        size, pool_size = self.sizes(placer, lk)
        shm = self._region(placer, lk, size)
        base, users = shm.base, [lk.driver, lk.device]

        def child(name: str, kind, at, rsize, origin):
            return placer.add(Region(name, kind, "shared", at, rsize, users=users,
                                     parent=shm.name, link=lk.name, origin=origin))
        # no dt_name: a window is no node of its own in Linux (Zephyr's
        # virtio_mmio@... nodes come from the devices, hvl.overlay.j2)
        devices = [VirtioDeviceLayout(dev, child(f"{lk.name}_{dev.name}_mmio", "mmio_window",
                                                 base + k * WINDOW, WINDOW, dev.path), [])
                   for k, dev in enumerate(lk.devices)]
        cursor = base + windows
        by_name = {d.device.name: d for d in devices}
        for k, (dev, q, vsize, alloc) in enumerate(vrings):
            t = virtio.device_type(dev.type)
            r = child(f"{lk.name}_{dev.name}_vq{q}", "vring", cursor, alloc, dev.path)
            by_name[dev.name].queues.append(Queue(q, queue_name(t, q), dev.queue_size,
                                                  VRING_ALIGN, vsize, r, f".shared.vring.{k}"))
            cursor += alloc
        pool = child(f"{lk.name}_pool", "buffer", cursor, pool_size,
                     lk.path + ("pool",) if lk.pool is not None else lk.path)
        placer.domains[lk.driver].load_regions.append(shm)
        mailbox = next(m for m in placer.board.mailboxes if m.name == lk.ipi)
        placer.links.append(HvlLinkLayout(
            lk, shm=shm, mailbox=mailbox, devices=devices, windows=(base, windows),
            vrings=(base + windows, vtotal), pool=pool, pool_need=need,
            ipi=_kick_path(placer, lk, mailbox)))

    # -- outputs -------------------------------------------------------------------

    def zephyr(self, layout: Layout, dl: DomainLayout, layouts: list) -> Optional[Zephyr]:
        from .outputs import Block, Kconfig, LinkerSource, MemoryNode, Zephyr
        layouts = [lk for lk in layouts if lk.link.driver == dl.domain.name]
        if not layouts:
            return None
        out = Zephyr()
        for lk in layouts:
            mb = lk.mailbox
            label = f"amp_{lk.link.name}"
            shm = MemoryNode(f"{label}_shm", lk.shm.base, lk.shm.size,
                             f"pre-shared region of {lk.link.name}",
                             ("zephyr,memory-region", "mmio-sram"),
                             f"AMP_{cname(lk.link.name)}_SHM")
            wins = [window(dev, f"{label}_{dev.device.name}_mmio",
                           f"{dev.device.name}: virtio {virtio.device_type(dev.device.type).name}"
                           f" (ID {dev.device.id}), {len(dev.queues)} queue(s) of "
                           f"{dev.device.queue_size}") for dev in lk.devices]
            # the kicks arrive on the driver's IPI: v4.4's virtio_mmio.c connects
            # DT_INST_IRQN() of every enabled virtio,mmio node, so each has it
            irq = (lk.ipi.get("driver") or {}).get("irq")
            wins = [replace(w, spi=irq) for w in wins]
            out.blocks.append(Block("hvl/hvl.overlay.j2", {
                "link": lk.link.name, "device": lk.link.device, "label": label,
                "addr": lk.windows[0], "ipm": mb.zephyr_label, "mailbox": mb.name, "shm": shm,
                "reg": [lk.windows, lk.vrings, (lk.pool.base, lk.pool.size)],
                "windows": wins}))
            out.chosen_extra.append(("zephyr,ipc", mb.zephyr_label))
            if mb.zephyr_parent:
                out.enable_extra.append(mb.zephyr_parent)
            out.kconfig += [
                Kconfig("OPENAMP", "y", f"hypervisorless virtio {lk.link.name}: open-amp's "
                        "virtio-exp branch built WITH_HVL_VIRTIO"),
                Kconfig("IPM", "y", f"kicks go through the IPI mailbox {mb.zephyr_label}"),
                Kconfig("SHARED_INTERRUPTS", "y", "the IPI mailbox and every virtio,mmio "
                        "node of the link take the IPI's interrupt")]
            out.defines += device_defines(lk) + _defines(lk)
        lk = layouts[0]         # one hvl link per driver (model.py)
        out.files["amp_hvl.ld"] = Block("hvl/amp_hvl.ld.j2", {
            "link": lk, "symbols": lk.symbols,
            "vrings": [q for d in lk.devices for q in d.queues]})
        out.linker_sources.append(LinkerSource("amp_hvl.ld", (
            f"Hypervisorless virtio {lk.link.name}: the vrings (.shared.vring.N) and the",
            "__shmem0_start / __shmem0_pool_start / __shmem0_end symbols where the layout "
            "put them.")))
        return out

    def linux(self, layout: Layout, dl: DomainLayout, layouts: list) -> Optional[Linux]:
        from .outputs import Block, Linux, LinuxNode, LinuxRemote
        name = dl.domain.name
        layouts = [lk for lk in layouts if lk.link.device == name]
        if not layouts:
            return None
        out = Linux()
        for lk in layouts:
            driver = layout.domains[lk.link.driver].domain
            # its image has NOBITS vring sections there: remoteproc must map the region
            out.remotes.append(LinuxRemote(driver.name, (f"{lk.link.name}_shm",),
                                           mailbox=lk.mailbox,
                                           loads=driver.loader == "linux-remoteproc"))
            out.reserved.append(LinuxNode(f"{lk.link.name}_shm", lk.shm.dt_name, lk.shm.base,
                                          lk.shm.size, f"pre-shared region of HVL link "
                                          f"{lk.link.name}: windows, vrings, bounce buffers of "
                                          f"{lk.link.driver}'s devices"))
            if lk.mailbox.linux:
                out.mailboxes.append(lk.mailbox)
            out.blocks.append(Block("hvl/uio.dtso.j2", {
                "label": f"{lk.link.name}_uio", "addr": lk.shm.base, "size": lk.shm.size,
                "name": f"{lk.link.name.replace('_', '-')}-uio", "link": lk.link.name,
                "json": f"{name}/{lk.link.name}.hvl.json"}))
            out.files[f"{name}/{lk.link.name}.hvl.json"] = _device_file(layout, lk)
        return out


def _ipi(ctx, ld: dict, p: tuple, driver, device):
    """The board mailbox that carries an HVL link's kicks."""
    board = ctx.board
    if "ipi" in ld:
        mb = ctx.mailbox_named(p + ("ipi",), ld["ipi"])
        if driver.core not in mb.between:
            raise ctx.err(p + ("ipi",), f"mailbox {mb.name} does not reach {driver.core}, "
                          f"the core of driver {driver.name}",
                          "name a mailbox between the driver and the device")
        if not any(x in mb.between for x in board.agents(device.cores)):
            raise ctx.err(p + ("ipi",), f"mailbox {mb.name} does not reach device "
                          f"{device.name}", "name a mailbox between the driver and the "
                          "device")
    else:
        mb = board.mailbox_between(driver.core, board.agents(device.cores))
        if mb is None:
            raise ctx.err(p, f"HVL kicks go through an IPI, and board {board.name} has no "
                          f"mailbox between {driver.core} (driver {driver.name}) and "
                          f"{device.name}", "name one with ipi:" if board.mailboxes else
                          "use a board with inter-processor interrupts")
    if not mb.zephyr_label:
        raise ctx.err(p + ("ipi",) if "ipi" in ld else p, f"mailbox {mb.name} has no "
                      "Zephyr node for the driver side", "name another mailbox with ipi:")
    return mb


def _kick_path(placer, lk: HvlLink, mb) -> dict:
    """What either side needs to kick the other: the mailbox, and for each side its
    IPI agent (registers, interrupt, the mask the other side writes to reach it)."""
    board = placer.board
    driver = placer.system.domain(lk.driver)

    def agent(ipi):
        if ipi is None:
            return None
        return {"name": ipi.name, "ipi_id": ipi.ipi_id, "reg": ipi.reg, "irq": ipi.irq,
                "mask": ipi.mask}
    mine = next((i for i in board.ipi.values() if i.core == driver.core), None)
    other = next((board.ipi[x] for x in mb.between if x in board.ipi
                  and board.ipi[x] is not mine), None)
    if mb.linux and mb.linux.local in board.ipi:
        other = board.ipi[mb.linux.local]
    d = {"mailbox": mb.name, "zephyr_label": mb.zephyr_label,
         "zephyr_parent": mb.zephyr_parent, "driver": agent(mine), "device": agent(other),
         "registers": dict(sorted((board.ipi_registers or {}).items()))}
    if mb.linux:
        d["linux"] = {"label": f"ipi_mailbox_{mb.linux.remote}",
                      "buffers": list(mb.linux.buffers)}
    return d


def _defines(lk: HvlLinkLayout) -> list:
    from .outputs import Define
    pre = cname(lk.link.name)
    return [Define(f"{pre}_WINDOWS_BASE", lk.windows[0], "virtio-mmio windows"),
            Define(f"{pre}_WINDOWS_SIZE", lk.windows[1], "virtio-mmio windows"),
            Define(f"{pre}_VRINGS_BASE", lk.vrings[0], "__shmem0_start"),
            Define(f"{pre}_VRINGS_SIZE", lk.vrings[1], "all vrings"),
            Define(f"{pre}_POOL_NEED", lk.pool_need, "bytes the queues' buffers take of the pool")]


def _device_file(layout, lk: HvlLinkLayout) -> str:
    """The device side's view of an HVL link (JSON): what a kvmtool-like device process
    needs to serve the driver: region, windows, queues, pool, IPI."""
    doc = {
        "format": "zephyr-amp-hvl-device", "version": 1,
        "system": layout.system.name, "link": lk.link.name,
        "driver": lk.link.driver, "device": lk.link.device,
        "shm": {"name": lk.shm.name, "base": lk.shm.base, "size": lk.shm.size,
                "dt_label": f"{lk.link.name}_shm",
                "uio": f"{lk.link.name.replace('_', '-')}-uio@{lk.shm.base:x}"},
        "windows": [{"device": dev.device.name, "type": dev.device.type,
                     "device_id": dev.device.id, "base": dev.window.base,
                     "size": dev.window.size, "queue_size": dev.device.queue_size,
                     "buffer_size": dev.device.buffer_size,
                     "queues": [{"index": q.index, "name": q.name, "base": q.region.base,
                                 "size": q.size, "align": q.align} for q in dev.queues]}
                    for dev in lk.devices],
        "vrings": {"base": lk.vrings[0], "size": lk.vrings[1]},
        "pool": {"base": lk.pool.base, "size": lk.pool.size, "need": lk.pool_need},
        "ipi": lk.ipi,
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


KIND = Hvl()
