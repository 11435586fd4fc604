"""type: rpmsg -- OpenAMP rpmsg between a host and a remote Zephyr domain.

Model: host, remote, shm, mailbox, vring, buffers. Layout: vring0, vring1 and the
buffer pool in one region (in the link's pool, or a region of its own); one vdev in
the remote's resource table. Outputs: the zephyr,ipc_shm region and the mailbox on
both sides, OpenAMP Kconfig, vring defines; for a Linux host the remoteproc
carveouts (vdevNvringM, vdevNbuffer) and the remote processor node.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Optional

from ..layout import (
    ADDR32,
    REGION_ALIGN,
    LinkLayout,
    Region,
    Vdev,
    Vring,
    align_up,
    vring_size,
)
from .base import LinkKind, LinkRecord

if TYPE_CHECKING:
    from ..layout import DomainLayout, Layout, Placer
    from .base import CheckContext
    from .outputs import Linux, Zephyr

MAX_RPMSG_NUM_BUFS = 512        # Linux virtio_rpmsg_bus.c
LINUX_BUFFER_SIZE = 512         # MAX_RPMSG_BUF_SIZE
VIRTIO_ID_RPMSG = 7
VIRTIO_RPMSG_F_NS = 1
NOTIFY_ID_LIMIT = 32            # OpenAMP's notify-ID bitmap (VDEV-04)


def buffer_count(num: int) -> int:
    """Linux virtio_rpmsg_bus allocates 2 x num buffers, at most MAX_RPMSG_NUM_BUFS,
    from vdevNbuffer in one go."""
    return min(2 * num, MAX_RPMSG_NUM_BUFS)


# vring and buffers are one rule for every kind that takes them (the links mapping
# is their union); reserve and base are rpmsg's: other kinds refuse them (rpmsg_only)
VRING = {"type": "map", "mapping": {"num": {"type": "int"}, "align": {"type": "scalar"},
                                    "reserve": {"type": "scalar"},
                                    "base": {"type": "seq", "sequence": [{"type": "scalar"}]}}}
BUFFERS = {"type": "map", "mapping": {"count": {"type": "int"}, "size": {"type": "scalar"},
                                      "reserve": {"type": "scalar"}, "base": {"type": "scalar"}}}
RPMSG_ONLY = ("reserve", "base")


def rpmsg_only(ctx: CheckContext, ld: dict, p: tuple) -> None:
    """Refuse vring/buffers keys that only an rpmsg link's placement honours."""
    for part in ("vring", "buffers"):
        for key in RPMSG_ONLY:
            if key in (ld.get(part) or {}):
                article = "an" if ld["type"][:1] in "aeiou" else "a"
                raise ctx.err(p + (part, key), f"'{key}' applies to the {part} of an rpmsg "
                              f"link only; {article} {ld['type']} link places its {part} "
                              "itself",
                              "remove it", of_key=True)


@dataclass(frozen=True)
class RpmsgLink(LinkRecord):
    """An rpmsg link (a remoteproc vdev), as the model checked it."""
    host: str = None
    remote: str = None
    mailbox: Optional[str] = None
    vring_num: int = 8
    vring_align: int = 16
    buffer_count: Optional[int] = None     # None: derived (buffer_count(vring_num))
    buffer_size: int = 512
    vring_reserve: Optional[int] = None    # bytes of each vdevNvringM (None: derived)
    buffer_reserve: Optional[int] = None   # bytes of vdevNbuffer (None: derived)
    base: Optional[int] = None             # the link pinned without a pool
    vring_bases: Optional[tuple] = None    # (vring0, vring1) pinned one by one
    buffer_base: Optional[int] = None


@dataclass
class RpmsgLinkLayout(LinkLayout):
    """Where an rpmsg link's vrings and buffers are, and its vdev."""
    def vdevs(self, domain: str) -> list:
        return [self.vdev] if self.vdev and self.link.remote == domain else []

    def to_json(self) -> dict:
        lk = self.link
        d = {"name": lk.name, "type": lk.type, "host": lk.host, "remote": lk.remote,
             "shm": self.shm.name if self.shm else None}
        if self.mailbox:
            d["mailbox"] = {"name": self.mailbox.name, "remote_label": self.mailbox.zephyr_label}
        if self.vdev:
            d["vdev"] = self.vdev.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict, regions: dict) -> "RpmsgLinkLayout":
        from ..layout_read import MailboxRef
        v = d["vdev"]
        vrings = [Vring(x["name"], regions[x["region"]], x["da"], x["align"],
                        x["num"], x["notifyid"], x["size"]) for x in v["vrings"]]
        b = v["buffers"]
        vdev = Vdev(v["index"], d["name"], v["id"], v["notifyid"], v["dfeatures"], vrings,
                    regions[b["region"]], b["count"], b["buf_size"])
        mb = d.get("mailbox")
        link = RpmsgLink(d["name"], d["type"], host=d["host"], remote=d["remote"],
                         shm=regions[d["shm"]].parent if d["shm"] else None,
                         mailbox=mb["name"] if mb else None, vring_num=vrings[0].num,
                         vring_align=vrings[0].align, buffer_count=b["count"],
                         buffer_size=b["buf_size"])
        mailbox = MailboxRef(mb["name"], [], mb["remote_label"]) if mb else None
        return cls(link, regions.get(d["shm"]), vdev, mailbox)


class Rpmsg(LinkKind):
    type = "rpmsg"
    schema = {"host": {"type": "str"}, "remote": {"type": "str"}, "shm": {"type": "str"},
              "mailbox": {"type": "str"}, "vring": VRING, "buffers": BUFFERS,
              "base": {"type": "scalar"}}
    phase = 10
    order = 10
    layout_class = RpmsgLinkLayout

    # -- model ---------------------------------------------------------------------

    def check(self, ctx: CheckContext, ld: dict, p: tuple) -> RpmsgLink:
        f = ctx.common(ld, p)
        link = RpmsgLink(ld["name"], ld["type"], p, **f)
        for role in ("host", "remote"):
            if getattr(link, role) is None:
                raise ctx.err(p, f"an rpmsg link needs a {role} domain", f"add {role}: <domain>")
        if link.host == link.remote:
            raise ctx.err(p + ("remote",), "host and remote are the same domain",
                          "an rpmsg link joins two domains")
        remote = ctx.system.domain(link.remote)
        host = ctx.system.domain(link.host)
        board = ctx.board
        if board.instance_per_domain:
            raise ctx.err(p + ("type",), f"on board {board.name} every domain is its own "
                          f"QEMU instance, so {host.name} and {remote.name} share no memory "
                          "for vrings", "use a link of type ivshmem between them")
        if remote.os != "zephyr":
            raise ctx.err(p + ("remote",), f"remote '{remote.name}' runs {remote.os}; this tool "
                          "generates remote firmware files for Zephyr only",
                          "make a Zephyr domain the remote")
        self._check_linux_host(ctx, link, host, p)
        if "mailbox" in ld:
            mailbox = ctx.mailbox_named(p + ("mailbox",), ld["mailbox"]).name
        else:
            mb = board.mailbox_between(remote.core, board.agents(host.cores))
            mailbox = mb.name if mb else None
        if mailbox is None and board.mailboxes:
            raise ctx.err(p, f"board {board.name} has no mailbox between "
                          f"{remote.core} and {host.name}", "name one with mailbox:")
        link = replace(link, mailbox=mailbox)
        return replace(link, **_extensions(ctx, ld, p, link))

    def _check_linux_host(self, ctx, link: RpmsgLink, host, p: tuple) -> None:
        if host.os != "linux":
            return
        if link.buffer_size != LINUX_BUFFER_SIZE:
            raise ctx.err(p + ("buffers", "size"), "Linux's virtio_rpmsg_bus uses 512-byte "
                          "buffers (MAX_RPMSG_BUF_SIZE)", "use 512 or remove it")
        linux_count = buffer_count(link.vring_num)
        if link.buffer_count is not None and link.buffer_count < linux_count:
            raise ctx.err(p + ("buffers", "count"), f"Linux's virtio_rpmsg_bus allocates "
                          f"{linux_count} buffers for {link.vring_num}-entry vrings; a pool "
                          f"of {link.buffer_count} makes its probe fail",
                          f"use {linux_count} or remove count")

    def vdevs_for(self, link: RpmsgLink, domain: str) -> int:
        return 1 if link.remote == domain else 0

    # -- layout --------------------------------------------------------------------

    def need(self, placer: Placer, lk: RpmsgLink) -> tuple:
        """(vring bytes, vring alloc, buffer count, buffer bytes): each area page
        aligned, as Linux remoteproc allocates whole pages."""
        vsize = vring_size(lk.vring_num, lk.vring_align)
        count = lk.buffer_count or buffer_count(lk.vring_num)
        return (vsize, lk.vring_reserve or align_up(vsize, placer.page), count,
                lk.buffer_reserve or align_up(count * lk.buffer_size, placer.page))

    def shm_need(self, placer: Placer, lk: RpmsgLink) -> int:
        _, vr_alloc, _, buf = self.need(placer, lk)
        return 2 * vr_alloc + buf

    def reserve(self, placer: Placer, lk: RpmsgLink) -> None:
        _reserve_pinned(placer, lk, self.need(placer, lk))

    def place(self, placer: Placer, lk: RpmsgLink) -> None:
        if lk.vring_bases is not None:
            return _place_parts(self, placer, lk)
        mem = placer.memory_for(None, lk.path)
        base = lk.base if lk.base is not None else placer.alloc(
            mem, self.shm_need(placer, lk), REGION_ALIGN, lk.path,
            f"the vrings and buffers of {lk.name}")
        self.place_in_pool(placer, lk, base, None)

    def place_in_pool(self, placer: Placer, lk: RpmsgLink, base: int, pool: Optional[str]) -> int:
        vr, vr_alloc, count, buf = self.need(placer, lk)
        size = 2 * vr_alloc + buf
        users = [lk.host, lk.remote]
        shm = placer.add(Region(f"{lk.name}_shm", "shm", "shared", base, size, users=users,
                                parent=pool, link=lk.name, origin=lk.path))
        vrings = []
        for j in range(2):
            r = placer.add(Region(f"{lk.name}_vring{j}", "vring", "shared",
                                  base + j * vr_alloc, vr_alloc, users=users, parent=shm.name,
                                  link=lk.name, origin=lk.path + ("vring",)))
            self._check_vring(placer, lk, j, r)
            vrings.append(Vring(f"vring{j}", r, r.base, lk.vring_align, lk.vring_num, j, vr))
        bufs = placer.add(Region(f"{lk.name}_buffers", "buffer", "shared", base + 2 * vr_alloc,
                                 buf, users=users, parent=shm.name, link=lk.name,
                                 origin=lk.path + ("buffers",)))
        vdev = Vdev(0, lk.name, VIRTIO_ID_RPMSG, 0, VIRTIO_RPMSG_F_NS, vrings, bufs, count,
                    lk.buffer_size)
        mailbox = next((m for m in placer.board.mailboxes if m.name == lk.mailbox), None)
        placer.links.append(RpmsgLinkLayout(lk, shm, vdev, mailbox))
        return base + size

    def _check_vring(self, placer, lk: RpmsgLink, j: int, r: Region) -> None:
        if r.end > ADDR32:
            raise placer.err(lk.path, f"vring {j} of {lk.name} at {r.span()} is above 4 GiB; "
                             "resource-table addresses are 32-bit", "place it below 4 GiB")
        if r.base % lk.vring_align:
            # vring_init aligns the used ring in absolute addresses: a misaligned
            # da moves it past vring_size(num, align)
            raise placer.err(lk.path + ("vring", "align"),
                             f"vring {j} of {lk.name} at {r.base:#x} is not aligned to its "
                             f"align {lk.vring_align:#x}",
                             f"use an align of at most the page size ({placer.page:#x})")

    def finish(self, placer: Placer, layouts: list) -> None:
        """vdev indices and notify IDs per remote, in link order."""
        vdev_index = {}
        for lk in layouts:
            k = vdev_index.get(lk.link.remote, 0)
            vdev_index[lk.link.remote] = k + 1
            lk.vdev.index = k
            for j, v in enumerate(lk.vdev.vrings):
                v.notifyid = 2 * k + j
                v.name = f"vdev{k}vring{j}"
                v.region.dt_name = v.name
            lk.vdev.buffers.dt_name = f"vdev{k}buffer"
        for lk in layouts:
            total = vdev_index[lk.link.remote]
            lk.vdev.notifyid = 2 * total + lk.vdev.index
            if lk.vdev.notifyid >= NOTIFY_ID_LIMIT:
                raise placer.err(lk.link.path, f"remote {lk.link.remote} has {total} vdevs; "
                                 f"their notify IDs pass {NOTIFY_ID_LIMIT - 1}",
                                 "use at most 10 rpmsg links per remote")

    # -- outputs -------------------------------------------------------------------

    def zephyr(self, layout: Layout, dl: DomainLayout, layouts: list) -> Zephyr:
        from .outputs import MemoryNode, Zephyr
        name = dl.domain.name
        out = Zephyr()
        for lk in layouts:
            label = f"amp_{lk.link.name}_shm"
            out.chosen.append(("zephyr,ipc_shm", label))
            out.reserved.append(MemoryNode(label, lk.shm.view(name), lk.shm.size,
                                           f"{lk.link.type} link {lk.link.name}: vrings and "
                                           "buffers", ("zephyr,memory-region", "mmio-sram"),
                                           f"AMP_{lk.link.name.upper()}_SHM"))
            mb = _own_mailbox(layout, lk, name)
            if mb and mb.zephyr_label:
                out.chosen.append(("zephyr,ipc", mb.zephyr_label))
                if mb.zephyr_parent:
                    out.enable.append(mb.zephyr_parent)
        out.kconfig = self._kconfig(dl, layouts)
        for lk in layouts:
            out.defines += _defines(lk)
        return out

    def _kconfig(self, dl, layouts: list) -> list:
        from .outputs import Kconfig
        opts = []
        remote = [lk for lk in layouts if lk.link.remote == dl.domain.name]
        if layouts:
            opts.append(Kconfig("OPENAMP", "y", "rpmsg over OpenAMP"))
            opts.append(Kconfig("IPM", "y", "kicks go through the mailbox chosen as zephyr,ipc"))
        if remote:
            opts.append(Kconfig("OPENAMP_MASTER", "n", "this core is the remote of "
                                + ", ".join(lk.link.name for lk in remote)))
            opts.append(Kconfig("OPENAMP_RSC_TABLE", "y", "resource_table.h/.c generated "
                                "beside this file take the place of lib/open-amp's "
                                "(amp.cmake)"))
            opts.append(Kconfig("OPENAMP_RSC_TABLE_NUM_RPMSG_BUFF",
                                str(remote[0].vdev.vrings[0].num),
                                "descriptors per vring, as in the generated table"))
        return opts

    def linux(self, layout: Layout, dl: DomainLayout, layouts: list) -> Linux:
        """The remotes this Linux hosts: vdevNbuffer and vdevNvringM carveouts."""
        from .outputs import Linux, LinuxNode, LinuxRemote
        out = Linux()
        for lk in layouts:
            if lk.link.host != dl.domain.name or not lk.vdev:
                continue
            rname, v = lk.link.remote, lk.vdev
            buf = f"{rname}_vdev{v.index}buffer"
            nodes = [LinuxNode(buf, f"vdev{v.index}buffer", v.buffers.base, v.buffers.size,
                               f"rpmsg buffers of {lk.link.name} "
                               f"({v.buffer_count} x {v.buffer_size})", ("shared-dma-pool",))]
            labels = [buf]
            for vr in v.vrings:
                nodes.append(LinuxNode(f"{rname}_{vr.name}", vr.name, vr.region.base,
                                       vr.region.size, f"{vr.name} of {lk.link.name}: num "
                                       f"{vr.num}, align {vr.align}"))
                labels.append(f"{rname}_{vr.name}")
            out.remotes.append(LinuxRemote(rname, tuple(labels), tuple(nodes), lk.mailbox))
        return out


# -- the format extensions: reservations and pinned bases (docs/system-format.md) ----

def _extensions(ctx: CheckContext, ld: dict, p: tuple, link: RpmsgLink) -> dict:
    """vring.reserve, buffers.reserve, base, vring.base, buffers.base -> record fields."""
    page = ctx.board.page_size
    vring, buffers = ld.get("vring") or {}, ld.get("buffers") or {}
    out = {}
    if "reserve" in vring:
        vp = p + ("vring", "reserve")
        need = align_up(vring_size(link.vring_num, link.vring_align), page)
        out["vring_reserve"] = _reserve_size(ctx, vp, vring["reserve"], need, page,
                                             f"a {link.vring_num}-entry vring with align "
                                             f"{link.vring_align} (PAGE_ALIGN(vring_size))")
    if "reserve" in buffers:
        count = link.buffer_count or buffer_count(link.vring_num)
        out["buffer_reserve"] = _reserve_size(
            ctx, p + ("buffers", "reserve"), buffers["reserve"],
            align_up(count * link.buffer_size, page), page,
            f"{count} buffers of {link.buffer_size} bytes")
    pinned = [k for k, d in (("vring", vring), ("buffers", buffers)) if "base" in d]
    if "base" in ld:
        out["base"] = _pinned_base(ctx, p + ("base",), ld["base"], page, link)
    if pinned:
        out.update(_part_bases(ctx, ld, p, pinned, page, link))
    return out


def _reserve_size(ctx, path: tuple, value, need: int, page: int, what: str) -> int:
    n = ctx.size(path, value)
    if n < need:
        raise ctx.err(path, f"{n:#x} bytes is less than the {need:#x} needed for {what}",
                      f"use at least {need:#x}, or remove reserve")
    if n % page:
        raise ctx.err(path, f"{n:#x} is not a whole number of {page:#x}-byte pages "
                      "(Linux remoteproc maps whole pages)", f"use {align_up(n, page):#x}")
    return n


def _pinned_base(ctx, path: tuple, value, page: int, link: RpmsgLink) -> int:
    base = ctx.size(path, value, "address")
    if link.shm is not None:
        raise ctx.err(path, f"the link is in shared memory {link.shm}, whose base places it",
                      "remove base, or remove shm to pin the link itself", of_key=True)
    if base % page:
        raise ctx.err(path, f"{base:#x} is not aligned to the {page:#x}-byte page",
                      f"use {align_up(base, page):#x}")
    return base


def _part_bases(ctx, ld: dict, p: tuple, pinned: list, page: int, link: RpmsgLink) -> dict:
    """vring: {base: [A, B]} and buffers: {base: C}: all three, and no link base."""
    if len(pinned) == 1 or "base" in ld:
        key = pinned[0] if len(pinned) == 1 else "base"
        raise ctx.err(p + (key, "base") if key != "base" else p + ("base",),
                      "the parts of a link are pinned all or none: vring: {base: [A, B]} "
                      "with buffers: {base: C}", "give both, or one link base: instead",
                      of_key=True)
    bases = ld["vring"]["base"]
    vp = p + ("vring", "base")
    if len(bases) != 2:
        raise ctx.err(vp, f"{len(bases)} vring bases; an rpmsg vdev has two vrings",
                      "give [vring0 base, vring1 base]")
    out = {"vring_bases": tuple(_pinned_base(ctx, vp + (j,), b, page, link)
                                for j, b in enumerate(bases)),
           "buffer_base": _pinned_base(ctx, p + ("buffers", "base"), ld["buffers"]["base"],
                                       page, link)}
    return out


def _parts(kind, placer: Placer, lk: RpmsgLink) -> list:
    """[(base, size, YAML path)] of vring0, vring1, buffers of a link pinned part by part."""
    _, vr_alloc, _, buf = kind.need(placer, lk)
    return [(lk.vring_bases[0], vr_alloc, lk.path + ("vring", "base", 0)),
            (lk.vring_bases[1], vr_alloc, lk.path + ("vring", "base", 1)),
            (lk.buffer_base, buf, lk.path + ("buffers", "base"))]


def _reserve_pinned(placer: Placer, lk: RpmsgLink, need: tuple) -> None:
    """Reserve a pinned link's ranges before anything is allocated."""
    if lk.base is not None:
        placer._fixed(None, lk.base, 2 * need[1] + need[3], lk.path + ("base",),
                      f"link {lk.name}")
    elif lk.vring_bases is not None:
        # the span of the parts is zephyr,ipc_shm: nothing else is allocated in it
        parts = _parts(placer.kind(lk), placer, lk)
        for base, size, path in parts:
            placer._fixed(None, base, None, path, f"a part of link {lk.name}")
        lo, hi = min(x[0] for x in parts), max(x[0] + x[1] for x in parts)
        placer._fixed(None, lo, hi - lo, lk.path + ("vring", "base"), f"link {lk.name}")


def _place_parts(kind, placer: Placer, lk: RpmsgLink) -> None:
    """A link pinned part by part: its shm region (zephyr,ipc_shm) spans them all."""
    vr, vr_alloc, count, _ = kind.need(placer, lk)
    parts = _parts(kind, placer, lk)
    for a, b in zip(sorted(parts), sorted(parts)[1:]):
        if a[0] + a[1] > b[0]:
            raise placer.err(b[2], f"[{b[0]:#x}, {b[0] + b[1]:#x}) overlaps another part "
                             f"of {lk.name} [{a[0]:#x}, {a[0] + a[1]:#x})",
                             f"start it at {a[0] + a[1]:#x} or later")
    lo, hi = min(x[0] for x in parts), max(x[0] + x[1] for x in parts)
    users = [lk.host, lk.remote]
    shm = placer.add(Region(f"{lk.name}_shm", "shm", "shared", lo, hi - lo, users=users,
                            link=lk.name, origin=lk.path))
    vrings = []
    for j in range(2):
        r = placer.add(Region(f"{lk.name}_vring{j}", "vring", "shared", parts[j][0], vr_alloc,
                              users=users, parent=shm.name, link=lk.name,
                              origin=lk.path + ("vring",)))
        kind._check_vring(placer, lk, j, r)
        vrings.append(Vring(f"vring{j}", r, r.base, lk.vring_align, lk.vring_num, j, vr))
    bufs = placer.add(Region(f"{lk.name}_buffers", "buffer", "shared", parts[2][0], parts[2][1],
                             users=users, parent=shm.name, link=lk.name,
                             origin=lk.path + ("buffers",)))
    vdev = Vdev(0, lk.name, VIRTIO_ID_RPMSG, 0, VIRTIO_RPMSG_F_NS, vrings, bufs, count,
                lk.buffer_size)
    mailbox = next((m for m in placer.board.mailboxes if m.name == lk.mailbox), None)
    placer.links.append(RpmsgLinkLayout(lk, shm, vdev, mailbox))


def _own_mailbox(layout, lk, name: str):
    """The mailbox domain `name` kicks its peer of link lk through: the link's
    for its remote, the host's own channel for a Zephyr host."""
    if name == lk.link.remote:
        return lk.mailbox
    board = layout.system.board
    own = layout.domains[name].domain
    peer = layout.domains[lk.link.remote].domain
    return board.mailbox_between(own.core, board.agents(peer.cores))


def _defines(lk) -> list:
    from .outputs import Define
    pre = lk.link.name.upper().replace("-", "_")
    v = lk.vdev
    out = [Define(f"{pre}_{x.name.upper()}_DA", x.da,
                  f"{x.name}: num {x.num}, align {x.align}, {x.size} bytes") for x in v.vrings]
    out.append(Define(f"{pre}_VRING_NUM", v.vrings[0].num, "descriptors", decimal=True))
    out.append(Define(f"{pre}_VRING_ALIGN", v.vrings[0].align, "vring alignment"))
    out.append(Define(f"{pre}_BUF_COUNT", v.buffer_count, "rpmsg buffers", decimal=True))
    out.append(Define(f"{pre}_BUF_SIZE", v.buffer_size, "bytes per buffer", decimal=True))
    return out


KIND = Rpmsg()
