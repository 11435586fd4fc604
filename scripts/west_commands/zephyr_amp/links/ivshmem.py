"""type: ivshmem -- rpmsg between two QEMU instances over QEMU's inter-VM shared memory.

Model: host, remote (both Zephyr), doorbell, vectors, size (the BAR), vring,
buffers. Layout: offsets in the shared-memory BAR (its own address space
ivshmem:<link>): status area, vring0 (host to remote), vring1 (remote to host),
buffer pool; runtime files (socket, memory file). Outputs: the qemu,ivshmem node
(and linaro,ivshmem-ipm with a doorbell), PCIe and IVSHMEM Kconfig, BAR offsets as
defines, QEMU's -device arguments, ivshmem-server arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from ..layout import RUN_DIR, LinkLayout, Queue, Region, align_up, run_path, vring_size
from .base import LinkKind, LinkRecord, is_pow2, pow2_at_least
from .rpmsg import BUFFERS, VRING, buffer_count, rpmsg_only
from .virtio_mmio import cname

if TYPE_CHECKING:
    from ..layout import DomainLayout, Layout, Placer
    from .base import CheckContext
    from .outputs import Run, Zephyr

VECTORS = 2                 # Zephyr's CONFIG_IVSHMEM_MSI_X_VECTORS default
MIN_SIZE = 1 << 20          # ivshmem-server -l and Zephyr's PLAIN_MEM_SIZE count MiB
# Zephyr maps the BAR into its kernel's virtual address space (device_map()), which
# amp.conf makes 2 GiB (CONFIG_KERNEL_VM_SIZE=0x80000000) and which also holds its RAM
# and its other mappings: a power-of-two BAR is at most half of it.
MAX_SIZE = 1 << 30
SERVER_ARGS = "ivshmem-server.args"     # <link>/ivshmem-server.args


@dataclass(frozen=True)
class IvshmemLink(LinkRecord):
    """An ivshmem link between two QEMU instances, as the model checked it."""
    host: str = None
    remote: str = None
    vring_num: int = 8
    vring_align: int = 16
    buffer_count: Optional[int] = None
    buffer_size: int = 512
    doorbell: bool = False
    vectors: Optional[int] = None
    size: Optional[int] = None      # the shared-memory BAR, None: derived


@dataclass
class IvshmemLinkLayout(LinkLayout):
    """Offsets in BAR2: status area, vrings, buffer pool."""
    status: Region = None
    vrings: list = field(default_factory=list)      # [Queue]
    buffers: Region = None
    buffer_count: int = 0
    peers: dict = None         # domain -> ivshmem peer ID (doorbell: connection order)
    run: dict = None           # runtime files, relative to the output directory

    def to_json(self) -> dict:
        lk = self.link
        bar = self.shm
        return {"name": lk.name, "type": lk.type, "host": lk.host, "remote": lk.remote,
                "domains": [lk.host, lk.remote], "shm": bar.name,
                "ivshmem": {
                    "space": bar.space, "size": bar.size, "doorbell": lk.doorbell,
                    "vectors": lk.vectors, "peers": self.peers,
                    "status": {"offset": self.status.base, "size": self.status.size},
                    "vrings": [{"index": q.index, "direction": q.name, "region": q.region.name,
                                "offset": q.region.base, "alloc": q.region.size,
                                "num": q.num, "align": q.align, "size": q.size}
                               for q in self.vrings],
                    "buffers": {"offset": self.buffers.base, "size": self.buffers.size,
                                "count": self.buffer_count, "buf_size": lk.buffer_size}},
                "run": self.run}

    @classmethod
    def from_json(cls, d: dict, regions: dict) -> "IvshmemLinkLayout":
        iv = d["ivshmem"]
        vrings = [Queue(q["index"], q["direction"], q["num"], q["align"], q["size"],
                        regions[q["region"]]) for q in iv["vrings"]]
        b = iv["buffers"]
        link = IvshmemLink(d["name"], d["type"], host=d["host"], remote=d["remote"],
                           vring_num=vrings[0].num, vring_align=vrings[0].align,
                           buffer_count=b["count"], buffer_size=b["buf_size"],
                           doorbell=iv["doorbell"], vectors=iv["vectors"], size=iv["size"])
        bar = regions[d["shm"]]
        status = next(r for r in regions.values() if r.parent == bar.name
                      and r.kind == "status")
        bufs = next(r for r in regions.values() if r.parent == bar.name
                    and r.kind == "buffer")
        return cls(link, bar, status=status, vrings=vrings, buffers=bufs,
                   buffer_count=b["count"], peers=iv["peers"], run=d["run"])


class Ivshmem(LinkKind):
    type = "ivshmem"
    schema = {"host": {"type": "str"}, "remote": {"type": "str"},
              "doorbell": {"type": "bool"}, "vectors": {"type": "int"},
              "size": {"type": "scalar"}, "vring": VRING, "buffers": BUFFERS}
    phase = 30
    order = 40
    layout_class = IvshmemLinkLayout

    # -- model ---------------------------------------------------------------------

    def check(self, ctx: CheckContext, ld: dict, p: tuple) -> IvshmemLink:
        f = ctx.common(ld, p)
        rpmsg_only(ctx, ld, p)
        board = ctx.board
        for role in ("host", "remote"):
            if role not in f:
                raise ctx.err(p, f"an ivshmem link needs a {role} domain",
                              f"add {role}: <domain>")
        if f["host"] == f["remote"]:
            raise ctx.err(p + ("remote",), "host and remote are the same domain",
                          "an ivshmem link joins two QEMU instances")
        if not (board.instance_per_domain and board.ivshmem):
            raise ctx.err(p + ("type",), "ivshmem joins two QEMU instances, and on board "
                          f"{board.name} the domains are not QEMU instances of their own",
                          "use an rpmsg link, or a board with one QEMU per domain "
                          "(qemu_cortex_a53)")
        for role in ("host", "remote"):
            dom = ctx.system.domain(f[role])
            if dom.os != "zephyr":
                raise ctx.err(p + (role,), f"{role} '{dom.name}' runs {dom.os}; this tool "
                              "generates ivshmem files for Zephyr only",
                              "make it a Zephyr domain")
        f["doorbell"] = bool(ld.get("doorbell", False))
        f["vectors"] = self._vectors(ctx, ld, p, f["doorbell"])
        if "size" in ld:
            f["size"] = ctx.size(p + ("size",), ld["size"])
            if not is_pow2(f["size"]):
                up = pow2_at_least(max(f["size"], 2))
                raise ctx.err(p + ("size",), f"{ld['size']} is not a power of two; QEMU maps "
                              "the shared memory as a PCI BAR", f"use {up:#x}")
            _size_fits(ctx, p + ("size",), f["size"])
        link = IvshmemLink(ld["name"], ld["type"], p, **f)
        if link.buffer_count is not None and link.buffer_count < link.vring_num:
            raise ctx.err(p + ("buffers", "count"), f"the OpenAMP host hands the remote "
                          f"{link.vring_num} receive buffers up front; {link.buffer_count} "
                          "buffers are not enough", f"use {2 * link.vring_num}")
        return link

    def _vectors(self, ctx, ld: dict, p: tuple, doorbell: bool) -> Optional[int]:
        if "vectors" not in ld:
            return VECTORS if doorbell else None
        if not doorbell:
            raise ctx.err(p + ("vectors",), "vectors are the doorbell's MSI-X interrupts "
                          "and this link has no doorbell",
                          "remove vectors, or add doorbell: true", of_key=True)
        if not 1 <= ld["vectors"] <= 64:
            raise ctx.err(p + ("vectors",), f"{ld['vectors']} vectors: ivshmem-server "
                          "gives each peer from 1 to 64", f"use {VECTORS}")
        return ld["vectors"]

    def qemu_order(self, link: IvshmemLink) -> tuple:
        return (link.host,), (link.remote,)

    # -- layout --------------------------------------------------------------------

    def need(self, placer: Placer, lk: IvshmemLink) -> tuple:
        """(status, vring bytes, vring alloc, buffer count, buffer bytes)."""
        vr = vring_size(lk.vring_num, lk.vring_align)
        count = lk.buffer_count or buffer_count(lk.vring_num)
        return (placer.page, vr, align_up(vr, placer.page), count,
                align_up(count * lk.buffer_size, placer.page))

    def place(self, placer: Placer, lk: IvshmemLink) -> None:
        """Offsets in BAR2, with no overlap (the reference sample's pool runs over its
        vrings, formats.md 5.2): status area, vring0 (host to remote), vring1 (remote to
        host), buffer pool; the rest of the BAR stays unused."""
        status, vr, vr_alloc, count, buf = self.need(placer, lk)
        need = status + 2 * vr_alloc + buf
        size = lk.size if lk.size is not None else max(MIN_SIZE, pow2_at_least(need))
        if size < need:
            raise placer.err(lk.path + ("size",), f"{size:#x} bytes of shared memory cannot "
                             f"hold {lk.name}: status {status:#x}, vrings 2 x {vr_alloc:#x}, "
                             f"buffers {count} x {lk.buffer_size} ({need:#x} in all)",
                             f"use {pow2_at_least(need):#x}, or leave size out")
        if size > MAX_SIZE:         # derived (a given size is checked in check())
            raise placer.err(lk.path + ("buffers",),
                             f"{lk.name} needs {need:#x} bytes of shared memory (buffers "
                             f"{count} x {lk.buffer_size}), more than the {MAX_SIZE:#x} a "
                             "Zephyr domain can map (CONFIG_KERNEL_VM_SIZE is 2 GiB)",
                             "use fewer or smaller buffers")
        space = f"ivshmem:{lk.name}"
        users = [lk.host, lk.remote]

        def region(name: str, kind, base, rsize, parent):
            return placer.add(Region(f"{lk.name}_{name}", kind, "shared", base, rsize,
                                     users=users, parent=parent, link=lk.name, space=space,
                                     origin=lk.path, device=True))
        bar = region("bar", "bar", 0, size, None)
        st = region("status", "status", 0, status, bar.name)
        vrings = []
        for j in range(2):
            r = region(f"vring{j}", "vring", status + j * vr_alloc, vr_alloc, bar.name)
            vrings.append(Queue(j, ("host to remote", "remote to host")[j], lk.vring_num,
                                lk.vring_align, vr, r))
        bufs = region("buffers", "buffer", status + 2 * vr_alloc, buf, bar.name)
        placer.links.append(IvshmemLinkLayout(
            lk, shm=bar, status=st, vrings=vrings, buffers=bufs, buffer_count=count,
            peers={lk.host: 0, lk.remote: 1} if lk.doorbell else None,
            run=_run_files(placer.system.name, lk)))

    # -- outputs -------------------------------------------------------------------

    def zephyr(self, layout: Layout, dl: DomainLayout, layouts: list) -> Zephyr:
        """The qemu,ivshmem node of each link, where openamp-system-reference's
        dual_qemu_ivshmem sample declares its own (/ivhsmem/ivshmem, label ivshmem0, as
        spelt there), so that the two merge into one device. The doorbell's
        linaro,ivshmem-ipm node stays disabled: enabled, it turns on IPM_IVSHMEM, whose
        driver defines the ivshmem_ev_loop_stack the sample's backend defines too."""
        from .outputs import Block, Zephyr
        name = dl.domain.name
        pci = layout.system.board.ivshmem
        out = Zephyr()
        nodes = []
        for i, lk in enumerate(layouts):
            role = "host" if lk.link.host == name else "remote"
            other = lk.link.remote if role == "host" else lk.link.host
            label = f"ivshmem{i}"
            v = {"label": label, "name": "ivshmem" if i == 0 else f"ivshmem{i}",
                 "vendor_id": pci.vendor_id, "device_id": pci.device_id, "ipm": None,
                 "comment": f"{lk.link.name}: rpmsg {role} of {other}, shared memory "
                            f"{lk.shm.size:#x} bytes "
                            f"({'doorbell' if lk.link.doorbell else 'plain'})"}
            if lk.link.doorbell:
                v["ipm"] = f"amp_{label}_ipm"
                v["ipm_comment"] = (f"{lk.link.name}: doorbell kicks to peer "
                                    f"{lk.peers[other]} ({other}) through IPM")
            nodes.append(v)
            out.defines += _defines(lk, name)
        out.blocks.append(Block("zephyr/ivshmem.overlay.j2", {"nodes": nodes}))
        out.kconfig = _kconfig(layouts)
        out.qemu_ivshmem = [{"id": lk.link.name, "doorbell": lk.link.doorbell,
                             "size": lk.shm.size, "vectors": lk.link.vectors, "run": lk.run}
                            for lk in layouts]
        return out

    def run(self, layout: Layout, layouts: list) -> Run:
        from .outputs import Block, Run
        out = Run()
        for lk in layouts:
            if lk.link.doorbell:
                out.files[lk.run["server_args"]] = Block("qemu/ivshmem-server.args.j2",
                                                         {"link": lk})
                out.servers.append({"link": lk.link.name, "args": lk.run["server_args"],
                                    "socket": lk.run["socket"], "vectors": lk.link.vectors})
        return out


def _size_fits(ctx, path: tuple, size: int) -> None:
    """An ivshmem BAR the driver domain can map (MAX_SIZE)."""
    if size > MAX_SIZE:
        raise ctx.err(path, f"{size:#x} bytes is more than Zephyr can map: the BAR goes "
                      f"into its 2 GiB of kernel virtual address space (CONFIG_KERNEL_VM_SIZE)"
                      " beside its RAM", f"use at most {MAX_SIZE:#x} (1 GiB), or leave size "
                      "out to have it computed")


def _run_files(system: str, lk: IvshmemLink) -> dict:
    run = {"server_args": f"{lk.name}/{SERVER_ARGS}"} if lk.doorbell else {}
    if lk.doorbell:
        run["socket"] = run_path(system, lk.name, suffix=".sock")
        run["pidfile"] = run_path(system, lk.name, suffix=".pid")
        run["shm_dir"] = RUN_DIR
    else:
        run["mem_path"] = run_path(system, lk.name, suffix=".shm")
    return run


def _kconfig(layouts: list) -> list:
    from .outputs import Kconfig
    names = ", ".join(lk.link.name for lk in layouts)
    why = "the ECAM host bridge chosen as zephyr,pcie-controller"
    opts = [Kconfig("PCIE", "y", f"ivshmem ({names}) is a PCI device of QEMU's virt machine"),
            Kconfig("PCIE_CONTROLLER", "y", why), Kconfig("PCIE_ECAM", "y", why),
            Kconfig("KERNEL_VM_SIZE", "0x80000000", "map the PCIe windows as well as RAM"),
            Kconfig("ARM64_VA_BITS_40", "y", "the 64-bit PCIe window is at 0x8000000000"),
            Kconfig("ARM64_PA_BITS_40", "y", "the 64-bit PCIe window is at 0x8000000000"),
            Kconfig("VIRTUALIZATION", "y", "the ivshmem driver lives under "
                    "drivers/virtualization"),
            Kconfig("IVSHMEM", "y", "the qemu,ivshmem nodes of amp.overlay"),
            Kconfig("OPENAMP", "y", f"rpmsg over {names}")]
    bell = [lk for lk in layouts if lk.link.doorbell]
    if bell:
        msix = "doorbell interrupts are MSI-X"
        opts += [Kconfig("GIC_V3_ITS", "y", f"{msix}, translated by the GIC ITS"),
                 Kconfig("PCIE_MSI", "y", msix), Kconfig("PCIE_MSI_X", "y", msix),
                 Kconfig("PCIE_MSI_MULTI_VECTOR", "y", "one MSI-X vector per doorbell vector"),
                 Kconfig("IVSHMEM_DOORBELL", "y", "ivshmem-doorbell with an ivshmem-server"),
                 Kconfig("IVSHMEM_MSI_X_VECTORS", str(max(lk.link.vectors for lk in bell)),
                         "vectors per peer, as ivshmem-server -n gives them"),
                 Kconfig("POLL", "y", "the doorbell raises a k_poll_signal per vector "
                         "(virt_ivshmem.c); IVSHMEM_DOORBELL does not select POLL"),
                 Kconfig("HEAP_MEM_POOL_SIZE", "1048576", "the GIC ITS allocates its "
                         "tables from the heap (OpenAMP's dual_qemu_ivshmem sets 1 MiB)")]
    return opts


def _defines(lk: IvshmemLinkLayout, name: str) -> list:
    from .outputs import Define
    pre = cname(lk.link.name)
    host = lk.link.host == name
    out = [Define(f"{pre}_IS_HOST", 1 if host else 0,
                  "this domain is the rpmsg host of the link", decimal=True),
           Define(f"{pre}_SIZE", lk.shm.size, "shared-memory BAR (ivshmem_get_mem)"),
           Define(f"{pre}_STATUS_OFFSET", lk.status.base, "virtio status area"),
           Define(f"{pre}_STATUS_SIZE", lk.status.size, "virtio status area")]
    out += [Define(f"{pre}_VRING{q.index}_OFFSET", q.region.base,
                   f"vring{q.index}, {q.name}: {q.size} bytes") for q in lk.vrings]
    out += [Define(f"{pre}_VRING_NUM", lk.link.vring_num, "descriptors", decimal=True),
            Define(f"{pre}_VRING_ALIGN", lk.link.vring_align, "vring alignment"),
            Define(f"{pre}_BUFFERS_OFFSET", lk.buffers.base, "rpmsg buffer pool"),
            Define(f"{pre}_BUFFERS_SIZE", lk.buffers.size, "rpmsg buffer pool"),
            Define(f"{pre}_BUF_COUNT", lk.buffer_count, "rpmsg buffers", decimal=True),
            Define(f"{pre}_BUF_SIZE", lk.link.buffer_size, "bytes per buffer", decimal=True)]
    if lk.peers:
        other = lk.link.remote if host else lk.link.host
        out += [Define(f"{pre}_PEER_ID", lk.peers[name], "own ivshmem peer ID", decimal=True),
                Define(f"{pre}_OTHER_PEER_ID", lk.peers[other],
                       f"peer ID of {other}, for ipm_send()", decimal=True)]
    return out


KIND = Ivshmem()
