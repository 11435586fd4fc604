"""System -> Layout: the address and size of everything, in every address space.

This is the one place that decides where things go. The core places what
belongs to domains and pools:

- TCM banks of remote cores (global base, core-local view)
- each remote's firmware memory, and at its top the slot for the resource
  table and the trace buffer
- carveouts and shared-memory pools
- the resource table of every remote: entries, offsets, size
- one QEMU instance per domain on boards that run each domain in its own QEMU

and each link kind (links/) places its own regions: Placer is the API they use
(add, alloc, memory_for, space, err). Kinds are placed in phase order, links
inside a pool when their pool is placed.

Address spaces (Region.space): "phys" is the board's physical space;
"qemu:<domain>" the physical space of one QEMU instance on boards that run each
domain in its own QEMU (qemu_cortex_a53); any other (ivshmem:<link>) offsets
into a device's memory.

Sizes are derived, never guessed. The function place() is deterministic: same
System in, same Layout out. Layout.from_json() reads a layout.json back.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .errors import LayoutError

if TYPE_CHECKING:
    from .boards import Memory
    from .links.base import LinkKind, LinkRecord
    from .model import Pool, System

FW_DEFAULT_SIZE = 1 << 20       # firmware carveout when the YAML gives no size
REGION_ALIGN = 0x10000          # carveouts and pools start on 64 KiB
SLOT_ALIGN = 0x1000             # the table+trace slot: whole 4 KiB (Zephyr's SRAM size is in KiB)
ADDR32 = 1 << 32
RUN_DIR = "run"                 # sockets and memory files, relative to the output directory
QEMU_ARGS = "qemu.args"         # <domain>/qemu.args: one QEMU argument per line

# Resource table sizes (formats.md 2)
HDR_SIZE = 16
CARVEOUT_SIZE = 56
TRACE_SIZE = 48
VDEV_SIZE = 28
VRING_ENTRY_SIZE = 20


def align_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def vring_size(num: int, align: int) -> int:
    """Bytes of a split virtqueue (formats.md 3; virtio_ring.h vring_size)."""
    return align_up(16 * num + 4 + 2 * num + 2, align) + 4 + 8 * num + 2


def run_path(system: str, *parts: str, suffix: str = "") -> str:
    """A runtime file (socket, shared-memory file) of a system, relative to its output
    directory: run/<system>-<part>-...<suffix>. The output directory and the system
    name keep two systems, or two copies of one, from sharing a path."""
    return f"{RUN_DIR}/{system}-{'-'.join(parts)}{suffix}"


def rsc_table_size(carveouts: int, vdevs: int, vrings_per_vdev: int, trace: int) -> int:
    n = carveouts + vdevs + (1 if trace else 0)
    return (HDR_SIZE + 4 * n + CARVEOUT_SIZE * carveouts
            + (VDEV_SIZE + VRING_ENTRY_SIZE * vrings_per_vdev) * vdevs
            + (TRACE_SIZE if trace else 0))


@dataclass
class Region:
    """A named range of memory. base is physical; views holds core-local aliases."""
    name: str
    kind: str
    owner: str
    base: int
    size: int
    users: list = field(default_factory=list)
    views: dict = field(default_factory=dict)
    parent: str = None
    link: str = None
    dt_name: str = None
    space: str = "phys"
    origin: tuple = field(default=(), compare=False)   # the YAML path, for errors
    device: bool = field(default=False, compare=False)  # a device's range, in no board memory

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def physical(self) -> bool:
        """In a physical address space (not offsets into a device's memory)."""
        return self.space == "phys" or self.space.startswith("qemu:")

    def view(self, domain: str) -> int:
        """Address of this region's base as the domain sees it."""
        return self.views.get(domain, self.base)

    def span(self) -> str:
        return f"[{self.base:#x}, {self.end:#x})"

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "owner": self.owner,
                "users": sorted(self.users), "base": self.base, "size": self.size,
                "views": dict(sorted(self.views.items())), "parent": self.parent,
                "link": self.link, "dt_name": self.dt_name, "space": self.space}

    @classmethod
    def from_json(cls, d: dict) -> "Region":
        return cls(d["name"], d["kind"], d["owner"], d["base"], d["size"], list(d["users"]),
                   dict(d["views"]), d["parent"], d["link"], d["dt_name"], d["space"])


@dataclass
class Vring:
    """A vring of a vdev: its region, device address, alignment, size, notify ID."""
    name: str          # vdev0vring0: the carveout name Linux looks for
    region: Region
    da: int
    align: int
    num: int
    notifyid: int
    size: int          # vring_size(num, align)

    def to_json(self) -> dict:
        return {"name": self.name, "region": self.region.name, "da": self.da,
                "align": self.align, "num": self.num, "notifyid": self.notifyid,
                "size": self.size, "alloc": self.region.size}


@dataclass
class Vdev:
    """A virtio device entry of a resource table (rpmsg: one per link)."""
    index: int         # per remote: vdev0, vdev1, ...
    link: str
    id: int
    notifyid: int
    dfeatures: int
    vrings: list
    buffers: Region
    buffer_count: int
    buffer_size: int

    def to_json(self) -> dict:
        return {"index": self.index, "id": self.id, "notifyid": self.notifyid,
                "dfeatures": self.dfeatures, "vrings": [v.to_json() for v in self.vrings],
                "buffers": {"region": self.buffers.name, "base": self.buffers.base,
                            "size": self.buffers.size, "count": self.buffer_count,
                            "buf_size": self.buffer_size}}


@dataclass
class Entry:
    """One resource-table entry; fields keep the spec names (da, pa, len)."""
    type: str          # carveout | trace | vdev
    offset: int
    fields: dict
    c_name: str        # member name in struct fw_resource_table
    vdev: Vdev = None

    def to_json(self) -> dict:
        d = {"type": self.type, "offset": self.offset}
        d.update(self.fields)
        if self.vdev:
            d["vrings"] = [{"da": v.da, "align": v.align, "num": v.num,
                            "notifyid": v.notifyid} for v in self.vdev.vrings]
        return d


@dataclass
class ResourceTable:
    """The resource table of a domain: where it sits and its entries."""
    domain: str
    region: Region
    address: int       # in the remote's view
    size: int
    entries: list

    def to_json(self) -> dict:
        return {"region": self.region.name, "address": self.address, "size": self.size,
                "num": len(self.entries), "entries": [e.to_json() for e in self.entries]}




@dataclass
class Queue:
    """One virtqueue of a virtio device or of an ivshmem link; where its vring is in
    memory when the layout places it (region; section: the input section of HVL)."""
    index: int
    name: str          # the spec's name: receiveq, transmitq, requestq, ...
    num: int
    align: int
    size: int          # vring_size(num, align)
    region: Region = None
    section: str = None

    def to_json(self) -> dict:
        d = {"index": self.index, "name": self.name, "num": self.num, "align": self.align,
             "size": self.size}
        if self.region:
            d.update(region=self.region.name, base=self.region.base, alloc=self.region.size,
                     section=self.section)
        return d

    @classmethod
    def from_json(cls, d: dict, regions: dict) -> "Queue":
        return cls(d["index"], d["name"], d["num"], d["align"], d["size"],
                   regions.get(d.get("region")), d.get("section"))


@dataclass
class LinkLayout:
    """Where one link is. Each kind subclasses it (links/) with its own fields,
    to_json() (its layout.json entry) and from_json()."""
    link: object       # the kind's model record
    shm: Region = None
    vdev: Vdev = None
    mailbox: object = None     # boards.Mailbox

    def vdevs(self, domain: str) -> list:
        """The vdevs this link puts in the resource table of domain."""
        return []

    def to_json(self) -> dict:
        return {"name": self.link.name, "type": self.link.type,
                "shm": self.shm.name if self.shm else None}

    @classmethod
    def from_json(cls, d: dict, regions: dict) -> "LinkLayout":
        """A kind's entry of layout.json read back; kinds with more fields override it."""
        from .links.base import LinkRecord
        return cls(LinkRecord(d["name"], d["type"]), regions.get(d["shm"]))


@dataclass
class DomainLayout:
    """What the layout gives one domain: RAM, load regions, table, trace."""
    domain: object                 # model.Domain
    role: str                      # host | remote | peer
    load_regions: list = field(default_factory=list)     # [Region]
    sram: tuple = None             # (view address, size) for zephyr,sram
    extra_ram: list = field(default_factory=list)        # [(label, view, size)] more RAM
    rsc_table: ResourceTable = None
    trace: Region = None
    carveouts: list = field(default_factory=list)        # [Region]
    qemu: dict = None              # its own QEMU instance: binary, args file, start order
    elf: dict = None               # what its image must be: {"class", "machine"}

    def to_json(self) -> dict:
        dom = self.domain
        cluster = dom.cluster
        zephyr = dom.os == "zephyr"
        d = {"os": dom.os, "role": self.role, "cores": list(dom.cores), "target": dom.target,
             "mode": dom.mode, "arch": dom.arch,
             "elf": self.elf if zephyr else None,
             "loader": dom.loader if zephyr else None,
             "platform": cluster.platform if cluster and zephyr else None,
             "boot": dict(cluster.boot) if cluster and cluster.boot and zephyr else None,
             "load_regions": [r.name for r in self.load_regions],
             "sram": {"address": self.sram[0], "size": self.sram[1]} if self.sram else None,
             "resource_table": None}
        if self.rsc_table:
            t = self.rsc_table
            d["resource_table"] = {"region": t.region.name, "address": t.address,
                                   "size": t.size}
        if self.qemu:
            d["qemu"] = dict(sorted(self.qemu.items()))
        return d


@dataclass
class Layout:
    """The whole layout of a system: regions, domains, links (layout.json)."""
    system: object         # model.System (from_json: a SystemRef)
    page_size: int
    regions: list
    domains: dict          # name -> DomainLayout
    links: list            # [LinkLayout]
    source_name: str = None

    def region(self, name: str) -> Optional[Region]:
        return next((r for r in self.regions if r.name == name), None)

    @property
    def tables(self) -> dict:
        return {n: d.rsc_table for n, d in self.domains.items() if d.rsc_table}

    def to_json(self, source_display: str = None) -> dict:
        s = self.system
        return {
            "format": "zephyr-amp-layout", "version": 1,
            "system": {"name": s.name, "board": s.board.name,
                       "source": source_display or self.source_name},
            "page_size": self.page_size,
            "domains": {n: d.to_json() for n, d in sorted(self.domains.items())},
            "regions": [r.to_json() for r in self.regions],
            "links": [lk.to_json() for lk in self.links],
            "resource_tables": {n: t.to_json() for n, t in sorted(self.tables.items())},
        }

    @classmethod
    def from_json(cls, doc: dict) -> "Layout":
        """The typed layout of a layout.json document (what amp-config wrote)."""
        from .layout_read import read_json
        return read_json(doc)


# ---------------------------------------------------------------------------

class _Allocator:
    """First-fit, upward, in one board memory; user-fixed ranges are holes.

    taken stays sorted by start; the ranges before `passed` end at or below the cursor,
    which only moves up, so an allocation looks at the ranges from there to the first
    one that starts above it: linear in the ranges it meets, not in all of them."""

    def __init__(self, memory):
        self.memory = memory
        self.cursor = memory.alloc_from if memory.alloc_from is not None else memory.base
        self.taken = []
        self.passed = 0

    def take(self, base: int, size: int) -> None:
        hole = (base, base + size)
        i = bisect.bisect(self.taken, hole)
        self.taken.insert(i, hole)
        if i < self.passed:
            self.passed = self.passed + 1 if hole[1] <= self.cursor else i

    def alloc(self, size: int, align: int) -> Optional[int]:
        taken = self.taken
        while self.passed < len(taken) and taken[self.passed][1] <= self.cursor:
            self.passed += 1
        base = align_up(self.cursor, align)
        for i in range(self.passed, len(taken)):
            lo, hi = taken[i]
            if lo >= base + size:
                break
            if base < hi:
                base = align_up(hi, align)
        if base + size > self.memory.end:
            return None
        self.cursor = base + size
        self.take(base, size)
        return base


class Placer:
    """The layout being built; link kinds place their regions through it."""

    def __init__(self, system):
        from . import links
        self.kinds = links
        self.system = system
        self.board = system.board
        self.page = self.board.page_size
        self.regions = []
        self.domains = {}
        self.links = []
        self.allocators = {m.name: _Allocator(m) for m in self.board.memory}
        self.linux_reserved = []    # [(boards.LinuxReserved, Region)] of the base devicetree
        # domain -> the system's links that join it, in link order: a link's vdevs are
        # in the tables of the domains it joins, and each table looks at those only
        self.joining = self.by_domain(system.links, lambda lk: lk)

    def by_domain(self, items, link_of) -> dict:
        """domain -> the items (links, or what link_of() maps to a link) whose link
        joins it (LinkKind.domains), in the order of items."""
        out = {}
        for item in items:
            lk = link_of(item)
            for name in dict.fromkeys(self.kind(lk).domains(lk)):
                out.setdefault(name, []).append(item)
        return out

    def err(self, path: tuple, what: str, fix: str = "") -> LayoutError:
        return self.system.error(path, what, fix, cls=LayoutError)

    def add(self, region: Region) -> Region:
        self.regions.append(region)
        return region

    def kind(self, link: LinkRecord) -> LinkKind:
        return self.kinds.kind_of(link)

    # -- the API of link kinds -----------------------------------------------------

    def memory_for(self, name: Optional[str], path: tuple) -> Memory:
        """The board memory called name; the first DDR for None or "ddr"."""
        mem = self.board.memory_named(name) if name not in (None, "ddr") else None
        if mem is None:
            shared = [m for m in self.board.memory if m.kind == "ddr"]
            if not shared:
                raise self.err(path, f"board {self.board.name} has no DDR to allocate from")
            mem = shared[0]
        return mem

    def space(self, domain: str) -> str:
        """Address space of a domain's own regions: its QEMU instance's on boards that
        run every domain in a QEMU of its own, else the board's physical space.
        Allocation stays one per board memory across spaces: QEMU instances could reuse
        each other's addresses, but automatic placement keeps regions apart everywhere,
        so a layout stays right if two domains share one machine after all (a two-core
        virt). User-given bases may coincide across spaces; check() compares regions
        within one space only."""
        return f"qemu:{domain}" if self.board.instance_per_domain else "phys"

    def alloc(self, mem: Memory, size: int, align: int, path: tuple, what: str) -> int:
        base = self.allocators[mem.name].alloc(size, align)
        if base is None:
            raise self.err(path, f"no room for {what} ({size:#x} bytes) in {mem.name} "
                           f"[{mem.base:#x}, {mem.end:#x}) above "
                           f"{self.allocators[mem.name].cursor:#x}",
                           "shrink it, or give bases that leave room")
        return base

    def whole_shm_link(self, pool_name: str) -> Optional[LinkRecord]:
        """The link whose kind takes this shared-memory pool as its region, or None."""
        return next((lk for lk in self.system.links if lk.shm == pool_name
                     and self.kind(lk).takes_shm_whole), None)

    # -- the steps -----------------------------------------------------------------

    def place(self) -> Layout:
        from . import checks, firmware, linux_base  # they use this module's records
        s = self.system
        roles = self._roles()
        for dom in s.domains:
            elf = self.board.cores[dom.core].elf if dom.os == "zephyr" else None
            self.domains[dom.name] = DomainLayout(dom, roles[dom.name], elf=elf)
        linux_base.reserve(self)
        self._reserve_fixed()
        for dom in s.domains:
            self._tcm(dom)
        for dom in s.domains:
            if dom.firmware:
                firmware.place(self, dom)
            self._carveouts(dom)
        linux_base.reuse(self)
        self._pools()
        for phase in sorted({self.kind(lk).phase for lk in s.links}):
            for lk in s.links:
                if self.kind(lk).phase == phase and not self._in_pool(lk):
                    self.kind(lk).place(self, lk)
        for kind in self.kinds.kinds():
            kind.finish(self, [x for x in self.links if self.kind(x.link) is kind])
        self._qemu_instances()
        firmware.tables(self)
        checks.check(self)
        self.regions.sort(key=lambda r: (r.space, r.base, -r.size, r.name))
        return Layout(s, self.page, self.regions, self.domains, self.links,
                      _source_name(s.source.path))

    def _roles(self) -> dict:
        roles = {d.name: "peer" for d in self.system.domains}
        for role in ("host", "remote"):       # a remote of one link stays a remote
            for lk in self.system.links:
                dom = self.kind(lk).roles(lk).get(role)
                if dom:
                    roles[dom] = role
        return roles

    def _in_pool(self, lk) -> bool:
        return bool(lk.shm) and not self.kind(lk).takes_shm_whole

    def _fixed(self, mem_name, base, size, path, what):
        """Check a user-given base and reserve it in its memory."""
        mem = self.memory_for(mem_name, path)
        self._not_larger(mem, size, path, what)
        if size is not None and not (mem.base <= base and base + size <= mem.end):
            raise self.err(path, f"{what} [{base:#x}, {base + size:#x}) is outside {mem.name} "
                           f"[{mem.base:#x}, {mem.end:#x}){self._with_zephyr(mem)}",
                           f"give a base between {mem.base:#x} and {mem.end - size:#x}")
        if base % self.page:
            raise self.err(path, f"{what} base {base:#x} is not aligned to the "
                           f"{self.page:#x}-byte page", f"use {align_up(base, self.page):#x}")
        if size is not None:
            self.allocators[mem.name].take(base, size)
        return mem

    def _with_zephyr(self, mem: Memory) -> str:
        """' with Zephyr 3.7's board (Zephyr 4.4's has 128 MiB)' when the memory's size
        is the targeted Zephyr's; '' when every Zephyr has the same."""
        other = [(v, n) for v, n in mem.by_zephyr if n != mem.size]
        if not other:
            return ""
        from .memmap import human
        v, n = other[0]
        return (f" with Zephyr {self.system.zephyr_version}'s {self.board.name} (Zephyr "
                f"{v}'s has {human(n)} there)")

    def _not_larger(self, mem: Memory, size: Optional[int], base_path: tuple,
                    what: str) -> None:
        """A size larger than its whole memory, said as that (not as a base range that
        would end below address 0), at the size key when the YAML has one."""
        if size is None or size <= mem.size:
            return
        at = base_path[:-1] + ("size",)
        if self.system.source.where(at) == self.system.source.where(base_path[:-1]):
            at = base_path
        raise self.err(at, f"{what} is {size:#x} bytes, more than all of {mem.name} "
                       f"({mem.size:#x} bytes at {mem.base:#x})",
                       f"give a size of at most {mem.size:#x}")

    def _reserve_fixed(self) -> None:
        for dom in self.system.domains:
            fw = dom.firmware
            if fw and fw.memory != "tcm" and fw.base is not None:
                self._fixed(fw.memory, fw.base, fw.size or FW_DEFAULT_SIZE,
                            dom.path + ("firmware", "base"), f"firmware of {dom.name}")
            for cv in dom.carveouts:
                if cv.base is not None:
                    self._fixed(cv.memory, cv.base, cv.size, cv.path + ("base",),
                                f"carveout {cv.name}")
        for pool in self.system.pools:
            if pool.base is not None:
                # a fixed base with a computed size is reserved too, so that nothing
                # allocated before the pool is placed lands on it
                size = pool.size if pool.size is not None else self.auto_pool_size(pool)
                self._fixed(pool.memory, pool.base, size, pool.path + ("base",),
                            f"shared memory {pool.name}")
        for lk in self.system.links:
            self.kind(lk).reserve(self, lk)

    def auto_pool_size(self, pool: Pool) -> int:
        """Size of a pool the YAML gives no size: what the links in it need, or what the
        link that takes it whole needs."""
        whole = self.whole_shm_link(pool.name)
        if whole:
            return self.kind(whole).shm_size(self, whole)
        total = sum(self.kind(lk).shm_need(self, lk) for lk in self.system.links
                    if lk.shm == pool.name)
        return max(align_up(total, self.page), self.page)

    def _tcm(self, dom) -> None:
        if not dom.mode:
            return
        dl = self.domains[dom.name]
        for core in dom.cores:
            for bank in dom.cluster.modes[dom.mode][core]:
                r = self.add(Region(f"{dom.name}_{bank.name}", "tcm", dom.name, bank.base,
                                    bank.size, users=[dom.name], views={dom.name: bank.view},
                                    space=self.space(dom.name), origin=dom.path + ("cores",)))
                dl.load_regions.append(r)

    def _carveouts(self, dom) -> None:
        dl = self.domains[dom.name]
        for cv in dom.carveouts:
            mem = self.memory_for(cv.memory, cv.path)
            size = align_up(cv.size, self.page)
            base = cv.base if cv.base is not None else self.alloc(
                mem, size, REGION_ALIGN, cv.path, f"carveout {cv.name}")
            r = self.add(Region(f"{dom.name}_{cv.name}", "carveout", dom.name, base, size,
                                users=[dom.name], origin=cv.path, dt_name=cv.dt_name or cv.name,
                                space=self.space(dom.name)))
            dl.carveouts.append(r)
            dl.load_regions.append(r)

    def _pools(self) -> None:
        """Each shared-memory pool (but those a link takes whole), then the links
        in it, one after the other from its base."""
        for pool in self.system.pools:
            if self.whole_shm_link(pool.name):
                continue
            links = [lk for lk in self.system.links if lk.shm == pool.name]
            total = sum(self.kind(lk).shm_need(self, lk) for lk in links)
            size = pool.size if pool.size is not None else self.auto_pool_size(pool)
            if size < total:
                raise self.err(pool.path + ("size",),
                               f"{pool.name} is {size:#x} bytes, its links need {total:#x} "
                               f"(vrings and rpmsg buffers of {', '.join(x.name for x in links)})",
                               f"use at least {total:#x}, or leave size out")
            mem = self.memory_for(pool.memory, pool.path)
            base = pool.base if pool.base is not None else self.alloc(
                mem, size, REGION_ALIGN, pool.path, f"shared memory {pool.name}")
            users = sorted({d for lk in links for d in self.kind(lk).domains(lk)})
            self.add(Region(pool.name, "pool", "shared", base, size, users=users,
                            origin=pool.path))
            cursor = base
            for lk in links:
                cursor = self.kind(lk).place_in_pool(self, lk, cursor, pool.name)

    def _qemu_instances(self) -> None:
        """One QEMU per Zephyr domain on boards like qemu_cortex_a53: its argument file,
        and its place in the start order (the domains link kinds want first, first:
        with an ivshmem doorbell the server hands out peer IDs in connection order)."""
        qemu = self.board.qemu
        if not (qemu and self.board.instance_per_domain):
            return
        first, later = set(), set()
        for lk in self.system.links:
            a, b = self.kind(lk).qemu_order(lk)
            first.update(a)
            later.update(b)
        doms = [d for d in self.system.domains if d.os == "zephyr"]
        doms.sort(key=lambda d: 0 if d.name in first - later else 1)
        for k, d in enumerate(doms):
            self.domains[d.name].qemu = {"binary": qemu.binary,
                                         "args": f"{d.name}/{QEMU_ARGS}", "start": k}


# -- reading layout.json back ---------------------------------------------------

def _source_name(path) -> str:
    """The system file as layout.json names it: its file name, the same from any cwd,
    spelling of the path, or copy of the tree."""
    return Path(path).name


def place(system: System) -> Layout:
    """The layout of a validated system. Raises LayoutError when it cannot fit."""
    return Placer(system).place()
