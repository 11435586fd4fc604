"""System -> Layout: the address and size of everything, in every address space.

This is the one place that decides where things go:

- TCM banks of remote cores (global base, core-local view)
- each remote's firmware memory, and at its top the slot for the resource
  table and the trace buffer
- carveouts, shared-memory pools, and per link: vrings, then rpmsg buffers
- the resource table of every remote: entries, offsets, size

Sizes are derived, never guessed: a vring takes vring_size(num, align)
rounded up to the host's page (Linux remoteproc allocates whole pages), an
rpmsg buffer pool takes min(2 x num, 512) x 512 bytes for a Linux host. The
function place() is deterministic: same System in, same Layout out.
"""

from dataclasses import dataclass, field
from pathlib import Path

from .boards import REPO_ROOT
from .errors import LayoutError

FW_DEFAULT_SIZE = 1 << 20       # firmware carveout when the YAML gives no size
REGION_ALIGN = 0x10000          # carveouts and pools start on 64 KiB
SLOT_ALIGN = 0x1000             # the table+trace slot: whole 4 KiB (Zephyr's SRAM size is in KiB)
TABLE_ALIGN = 8                 # remoteproc wants .resource_table 8-byte aligned (RSC-06)
MAX_RPMSG_NUM_BUFS = 512        # Linux virtio_rpmsg_bus.c
ADDR32 = 1 << 32

# Resource table constants (formats.md 2)
RSC_CARVEOUT, RSC_DEVMEM, RSC_TRACE, RSC_VDEV = 0, 1, 2, 3
VIRTIO_ID_RPMSG = 7
VIRTIO_RPMSG_F_NS = 1
HDR_SIZE = 16
CARVEOUT_SIZE = 56
TRACE_SIZE = 48
VDEV_SIZE = 28
VRING_ENTRY_SIZE = 20
NOTIFY_ID_LIMIT = 32            # OpenAMP's notify-ID bitmap (VDEV-04)


def align_up(n, a):
    return (n + a - 1) // a * a


def vring_size(num, align):
    """Bytes of a split virtqueue (formats.md 3; virtio_ring.h vring_size)."""
    return align_up(16 * num + 4 + 2 * num + 2, align) + 4 + 8 * num + 2


def rpmsg_buffer_count(num):
    """Linux virtio_rpmsg_bus: 2 x num buffers, at most MAX_RPMSG_NUM_BUFS."""
    return min(2 * num, MAX_RPMSG_NUM_BUFS)


def rsc_table_size(carveouts, vdevs, vrings_per_vdev, trace):
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
    origin: tuple = ()          # the YAML path that asked for it, for errors

    @property
    def end(self):
        return self.base + self.size

    def view(self, domain):
        """Address of this region's base as the domain sees it."""
        return self.views.get(domain, self.base)

    def span(self):
        return f"[{self.base:#x}, {self.end:#x})"

    def to_json(self):
        return {"name": self.name, "kind": self.kind, "owner": self.owner,
                "users": sorted(self.users), "base": self.base, "size": self.size,
                "views": dict(sorted(self.views.items())), "parent": self.parent,
                "link": self.link, "dt_name": self.dt_name, "space": self.space}


@dataclass
class Vring:
    name: str          # vdev0vring0: the carveout name Linux looks for
    region: Region
    da: int
    align: int
    num: int
    notifyid: int
    size: int          # vring_size(num, align)

    def to_json(self):
        return {"name": self.name, "region": self.region.name, "da": self.da,
                "align": self.align, "num": self.num, "notifyid": self.notifyid,
                "size": self.size, "alloc": self.region.size}


@dataclass
class Vdev:
    index: int         # per remote: vdev0, vdev1, ...
    link: str
    id: int
    notifyid: int
    dfeatures: int
    vrings: list
    buffers: Region
    buffer_count: int
    buffer_size: int

    def to_json(self):
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

    def to_json(self):
        d = {"type": self.type, "offset": self.offset}
        d.update(self.fields)
        if self.vdev:
            d["vrings"] = [{"da": v.da, "align": v.align, "num": v.num,
                            "notifyid": v.notifyid} for v in self.vdev.vrings]
        return d


@dataclass
class ResourceTable:
    domain: str
    region: Region
    address: int       # in the remote's view
    size: int
    entries: list

    def to_json(self):
        return {"region": self.region.name, "address": self.address, "size": self.size,
                "num": len(self.entries), "entries": [e.to_json() for e in self.entries]}


@dataclass
class LinkLayout:
    link: object       # model.Link
    shm: Region = None
    vdev: Vdev = None
    mailbox: object = None     # boards.Mailbox

    def to_json(self):
        lk = self.link
        d = {"name": lk.name, "type": lk.type, "host": lk.host, "remote": lk.remote,
             "shm": self.shm.name if self.shm else None}
        if self.mailbox:
            d["mailbox"] = {"name": self.mailbox.name, "remote_label": self.mailbox.zephyr_label}
        if self.vdev:
            d["vdev"] = self.vdev.to_json()
        return d


@dataclass
class DomainLayout:
    domain: object                 # model.Domain
    role: str                      # host | remote | peer
    load_regions: list = field(default_factory=list)     # [Region]
    sram: tuple = None             # (view address, size) for zephyr,sram
    extra_ram: list = field(default_factory=list)        # [(label, view, size)] more RAM
    rsc_table: ResourceTable = None
    trace: Region = None
    carveouts: list = field(default_factory=list)        # [Region]

    def to_json(self):
        dom = self.domain
        cluster = dom.cluster
        d = {"os": dom.os, "role": self.role, "cores": list(dom.cores), "target": dom.target,
             "mode": dom.mode, "arch": dom.arch,
             "elf": _elf(dom) if dom.os == "zephyr" else None,
             "loader": dom.loader if dom.os == "zephyr" else None,
             "platform": cluster.platform if cluster and dom.os == "zephyr" else None,
             "boot": dict(cluster.boot) if cluster and cluster.boot and dom.os == "zephyr"
             else None,
             "load_regions": [r.name for r in self.load_regions],
             "sram": {"address": self.sram[0], "size": self.sram[1]} if self.sram else None,
             "resource_table": None}
        if self.rsc_table:
            t = self.rsc_table
            d["resource_table"] = {"region": t.region.name, "address": t.address,
                                   "size": t.size}
        return d


def _elf(dom):
    if dom.arch == "aarch64":
        return {"class": 64, "machine": "EM_AARCH64"}
    return {"class": 32, "machine": "EM_ARM"}


@dataclass
class Layout:
    system: object
    page_size: int
    regions: list
    domains: dict          # name -> DomainLayout
    links: list            # [LinkLayout]

    def region(self, name):
        return next((r for r in self.regions if r.name == name), None)

    def children(self, region):
        return [r for r in self.regions if r.parent == region.name]

    @property
    def tables(self):
        return {n: d.rsc_table for n, d in self.domains.items() if d.rsc_table}

    def to_json(self, source_display=None):
        s = self.system
        return {
            "format": "zephyr-amp-layout", "version": 1,
            "system": {"name": s.name, "board": s.board.name,
                       "source": source_display or _source_name(s.source.path)},
            "page_size": self.page_size,
            "domains": {n: d.to_json() for n, d in sorted(self.domains.items())},
            "regions": [r.to_json() for r in self.regions],
            "links": [lk.to_json() for lk in self.links],
            "resource_tables": {n: t.to_json() for n, t in sorted(self.tables.items())},
        }


# ---------------------------------------------------------------------------

class _Allocator:
    """First-fit, upward, in one board memory; user-fixed ranges are holes."""

    def __init__(self, memory):
        self.memory = memory
        self.cursor = memory.alloc_from if memory.alloc_from is not None else memory.base
        self.taken = []

    def take(self, base, size):
        self.taken.append((base, base + size))

    def alloc(self, size, align):
        base = align_up(self.cursor, align)
        moved = True
        while moved:
            moved = False
            for lo, hi in sorted(self.taken):
                if base < hi and lo < base + size:
                    base = align_up(hi, align)
                    moved = True
        if base + size > self.memory.end:
            return None
        self.cursor = base + size
        self.take(base, size)
        return base


class _Placer:
    def __init__(self, system):
        self.system = system
        self.board = system.board
        self.page = self.board.page_size
        self.regions = []
        self.domains = {}
        self.links = []
        self.allocators = {m.name: _Allocator(m) for m in self.board.memory}

    def err(self, path, what, fix=""):
        return self.system.error(path, what, fix, cls=LayoutError)

    def add(self, region):
        self.regions.append(region)
        return region

    # -- public --------------------------------------------------------------

    def place(self):
        s = self.system
        roles = self._roles()
        for dom in s.domains:
            self.domains[dom.name] = DomainLayout(dom, roles[dom.name])
        self._reserve_fixed()
        for dom in s.domains:
            self._tcm(dom)
        for dom in s.domains:
            if dom.firmware:
                self._firmware(dom)
            self._carveouts(dom)
        self._pools_and_links()
        self._tables()
        self._check()
        self.regions.sort(key=lambda r: (r.space, r.base, -r.size, r.name))
        return Layout(s, self.page, self.regions, self.domains, self.links)

    # -- steps ---------------------------------------------------------------

    def _roles(self):
        roles = {d.name: "peer" for d in self.system.domains}
        for lk in self.system.links:
            if lk.host:
                roles[lk.host] = "host"
        for lk in self.system.links:
            if lk.remote:
                roles[lk.remote] = "remote"
        return roles

    def _memory_for(self, name, path):
        mem = self.board.memory_named(name) if name not in (None, "ddr") else None
        if mem is None:
            shared = [m for m in self.board.memory if m.kind == "ddr"]
            if not shared:
                raise self.err(path, f"board {self.board.name} has no DDR to allocate from")
            mem = shared[0]
        return mem

    def _fixed(self, mem_name, base, size, path, what):
        """Check a user-given base and reserve it in its memory."""
        mem = self._memory_for(mem_name, path)
        if size is not None and not (mem.base <= base and base + size <= mem.end):
            raise self.err(path, f"{what} [{base:#x}, {base + size:#x}) is outside {mem.name} "
                           f"[{mem.base:#x}, {mem.end:#x})",
                           f"give a base between {mem.base:#x} and {mem.end - size:#x}")
        if base % self.page:
            raise self.err(path, f"{what} base {base:#x} is not aligned to the "
                           f"{self.page:#x}-byte page", f"use {align_up(base, self.page):#x}")
        if size is not None:
            self.allocators[mem.name].take(base, size)
        return mem

    def _reserve_fixed(self):
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
                size = pool.size if pool.size is not None else self._auto_pool_size(pool)
                self._fixed(pool.memory, pool.base, size, pool.path + ("base",),
                            f"shared memory {pool.name}")

    def _auto_pool_size(self, pool):
        """Size of a pool the YAML gives no size: what its rpmsg links need."""
        total = 0
        for lk in self.system.links:
            if lk.type == "rpmsg" and lk.shm == pool.name:
                need = self._link_need(lk)
                total += 2 * need[1] + need[3]
        return max(align_up(total, self.page), self.page)

    def _alloc(self, mem, size, align, path, what):
        base = self.allocators[mem.name].alloc(size, align)
        if base is None:
            raise self.err(path, f"no room for {what} ({size:#x} bytes) in {mem.name} "
                           f"[{mem.base:#x}, {mem.end:#x}) above {self.allocators[mem.name].cursor:#x}",
                           "shrink it, or give bases that leave room")
        return base

    def _tcm(self, dom):
        if not dom.mode:
            return
        dl = self.domains[dom.name]
        for core in dom.cores:
            for bank in dom.cluster.modes[dom.mode][core]:
                r = self.add(Region(f"{dom.name}_{bank.name}", "tcm", dom.name, bank.base,
                                    bank.size, users=[dom.name], views={dom.name: bank.view},
                                    origin=dom.path + ("cores",)))
                dl.load_regions.append(r)

    def _table_shape(self, dom):
        vdevs = [lk for lk in self.system.links if lk.type == "rpmsg" and lk.remote == dom.name]
        return rsc_table_size(len(dom.carveouts), len(vdevs), 2, dom.trace), vdevs

    def _firmware(self, dom):
        dl = self.domains[dom.name]
        fw = dom.firmware
        fpath = dom.path + ("firmware",)
        table_size, _ = self._table_shape(dom)
        table_room = align_up(table_size, 64)
        slot = align_up(table_room + align_up(dom.trace, 64), SLOT_ALIGN)
        if fw.memory == "tcm":
            banks = sorted(dl.load_regions, key=lambda r: r.view(dom.name))
            top = banks[-1]
            # zephyr,sram: the contiguous run of banks from the lowest view
            run_start = banks[0].view(dom.name)
            run_end = run_start
            run = []
            for b in banks:
                if b.view(dom.name) != run_end:
                    break
                run_end += b.size
                run.append(b)
            if top.size < slot:
                raise self.err(dom.path + ("trace",) if dom.trace else fpath,
                               f"the resource table and trace buffer ({slot:#x} bytes) "
                               f"do not fit {top.name} ({top.size:#x})", "shrink the trace")
            slot_base, slot_view = top.end - slot, top.view(dom.name) + top.size - slot
            parent = top.name
            if top in run:
                dl.sram = (run_start, slot_view - run_start)
            else:
                dl.sram = (run_start, run_end - run_start)
                dl.extra_ram.append((top.name, top.view(dom.name), top.size - slot))
            for b in banks:
                if b not in run and b is not top:
                    dl.extra_ram.append((b.name, b.view(dom.name), b.size))
            views = lambda off: {dom.name: slot_view + off}    # noqa: E731
        else:
            mem = self._memory_for(fw.memory, fpath + ("memory",))
            size = fw.size or FW_DEFAULT_SIZE
            if size < slot + SLOT_ALIGN:
                raise self.err(fpath + ("size",), f"firmware memory of {size:#x} bytes leaves "
                               f"no room beside the {slot:#x}-byte table and trace slot",
                               f"use at least {slot + SLOT_ALIGN:#x}")
            base = fw.base if fw.base is not None else self._alloc(
                mem, size, REGION_ALIGN, fpath, f"the firmware of {dom.name}")
            r = self.add(Region(f"{dom.name}_fw", "firmware", dom.name, base, size,
                                users=[dom.name], origin=fpath, dt_name="memory"))
            dl.load_regions.insert(0, r)
            slot_base = r.end - slot
            parent = r.name
            dl.sram = (base, size - slot)
            views = lambda off: {}    # noqa: E731
        # the slot: trace buffer first (page aligned for the RAM console), then the table
        trace_room = align_up(dom.trace, 64)
        if dom.trace:
            dl.trace = self.add(Region(f"{dom.name}_trace", "trace", dom.name, slot_base,
                                       dom.trace, users=[dom.name], views=views(0),
                                       parent=parent, origin=dom.path + ("trace",)))
        rt = self.add(Region(f"{dom.name}_rsc_table", "rsc_table", dom.name,
                             slot_base + trace_room, table_room, users=[dom.name],
                             views=views(trace_room), parent=parent, origin=fpath))
        dl.rsc_table = ResourceTable(dom.name, rt, rt.view(dom.name), table_size, [])

    def _carveouts(self, dom):
        dl = self.domains[dom.name]
        for cv in dom.carveouts:
            mem = self._memory_for(cv.memory, cv.path)
            size = align_up(cv.size, self.page)
            base = cv.base if cv.base is not None else self._alloc(
                mem, size, REGION_ALIGN, cv.path, f"carveout {cv.name}")
            r = self.add(Region(f"{dom.name}_{cv.name}", "carveout", dom.name, base, size,
                                users=[dom.name], origin=cv.path, dt_name=cv.name))
            dl.carveouts.append(r)
            dl.load_regions.append(r)

    def _link_need(self, lk):
        """(vring bytes each, buffer bytes) for an rpmsg link."""
        vsize = vring_size(lk.vring_num, lk.vring_align)
        count = lk.buffer_count or rpmsg_buffer_count(lk.vring_num)
        return vsize, align_up(vsize, self.page), count, align_up(count * lk.buffer_size,
                                                                    self.page)

    def _pools_and_links(self):
        s = self.system
        rpmsg = [lk for lk in s.links if lk.type == "rpmsg"]
        need = {lk.name: self._link_need(lk) for lk in rpmsg}
        per_pool = {p.name: [] for p in s.pools}
        for lk in rpmsg:
            if lk.shm:
                per_pool[lk.shm].append(lk)
        # explicit pools: size them, place them, then the links inside
        for pool in s.pools:
            links = per_pool[pool.name]
            total = sum(2 * need[lk.name][1] + need[lk.name][3] for lk in links)
            size = pool.size if pool.size is not None else self._auto_pool_size(pool)
            if size < total:
                lk = links[-1]
                raise self.err(pool.path + ("size",),
                               f"{pool.name} is {size:#x} bytes, its links need {total:#x} "
                               f"(vrings and rpmsg buffers of {', '.join(x.name for x in links)})",
                               f"use at least {total:#x}, or leave size out")
            mem = self._memory_for(pool.memory, pool.path)
            base = pool.base if pool.base is not None else self._alloc(
                mem, size, REGION_ALIGN, pool.path, f"shared memory {pool.name}")
            users = sorted({d for lk in links for d in (lk.host, lk.remote)})
            self.add(Region(pool.name, "pool", "shared", base, size, users=users,
                            origin=pool.path))
            cursor = base
            for lk in links:
                cursor = self._rpmsg_link(lk, need[lk.name], cursor, pool.name)
        # links without a pool get a region of their own
        vdev_index = {}
        for lk in rpmsg:
            if not lk.shm:
                mem = self._memory_for(None, lk.path)
                vr, vr_alloc, count, buf = need[lk.name]
                base = self._alloc(mem, 2 * vr_alloc + buf, REGION_ALIGN, lk.path,
                                   f"the vrings and buffers of {lk.name}")
                self._rpmsg_link(lk, need[lk.name], base, None)
        # vdev indices and notify IDs per remote, in link order
        for lk in self.links:
            if lk.vdev is None:
                continue
            k = vdev_index.get(lk.link.remote, 0)
            vdev_index[lk.link.remote] = k + 1
            lk.vdev.index = k
            for j, v in enumerate(lk.vdev.vrings):
                v.notifyid = 2 * k + j
                v.name = f"vdev{k}vring{j}"
                v.region.dt_name = v.name
            lk.vdev.buffers.dt_name = f"vdev{k}buffer"
        for lk in self.links:
            if lk.vdev is not None:
                total = vdev_index[lk.link.remote]
                lk.vdev.notifyid = 2 * total + lk.vdev.index
                if lk.vdev.notifyid >= NOTIFY_ID_LIMIT:
                    raise self.err(lk.link.path, f"remote {lk.link.remote} has {total} vdevs; "
                                   f"their notify IDs pass {NOTIFY_ID_LIMIT - 1}",
                                   "use at most 10 rpmsg links per remote")

    def _rpmsg_link(self, lk, need, base, parent):
        vr, vr_alloc, count, buf = need
        size = 2 * vr_alloc + buf
        users = [lk.host, lk.remote]
        shm = self.add(Region(f"{lk.name}_shm", "shm", "shared", base, size, users=users,
                              parent=parent, link=lk.name, origin=lk.path))
        vrings = []
        for j in range(2):
            r = self.add(Region(f"{lk.name}_vring{j}", "vring", "shared", base + j * vr_alloc,
                                vr_alloc, users=users, parent=shm.name, link=lk.name,
                                origin=lk.path + ("vring",)))
            if r.end > ADDR32:
                raise self.err(lk.path, f"vring {j} of {lk.name} at {r.span()} is above 4 GiB; "
                               "resource-table addresses are 32-bit", "place it below 4 GiB")
            if r.base % lk.vring_align:
                # vring_init aligns the used ring in absolute addresses: a misaligned
                # da moves it past vring_size(num, align)
                raise self.err(lk.path + ("vring", "align"),
                               f"vring {j} of {lk.name} at {r.base:#x} is not aligned to its "
                               f"align {lk.vring_align:#x}",
                               f"use an align of at most the page size ({self.page:#x})")
            vrings.append(Vring(f"vring{j}", r, r.base, lk.vring_align, lk.vring_num, j, vr))
        bufs = self.add(Region(f"{lk.name}_buffers", "buffer", "shared", base + 2 * vr_alloc,
                               buf, users=users, parent=shm.name, link=lk.name,
                               origin=lk.path + ("buffers",)))
        vdev = Vdev(0, lk.name, VIRTIO_ID_RPMSG, 0, VIRTIO_RPMSG_F_NS, vrings, bufs, count,
                    lk.buffer_size)
        mailbox = next((m for m in self.board.mailboxes if m.name == lk.mailbox), None)
        self.links.append(LinkLayout(lk, shm, vdev, mailbox))
        return base + size

    def _tables(self):
        for name, dl in self.domains.items():
            t = dl.rsc_table
            if t is None:
                continue
            dom = dl.domain
            n = len(dom.carveouts) + sum(1 for lk in self.links if lk.vdev and
                                         lk.link.remote == name) + (1 if dom.trace else 0)
            offset = HDR_SIZE + 4 * n
            for cv, r in zip(dom.carveouts, dl.carveouts):
                t.entries.append(Entry("carveout", offset, {
                    "da": r.view(name), "pa": r.base, "len": r.size, "flags": 0,
                    "reserved": 0, "name": cv.name}, f"carveout_{cv.name}"))
                offset += CARVEOUT_SIZE
            for lk in self.links:
                if lk.vdev and lk.link.remote == name:
                    v = lk.vdev
                    c_name = "vdev" if v.index == 0 else f"vdev{v.index}"
                    t.entries.append(Entry("vdev", offset, {
                        "id": v.id, "notifyid": v.notifyid, "dfeatures": v.dfeatures,
                        "gfeatures": 0, "config_len": 0, "status": 0,
                        "num_of_vrings": len(v.vrings)}, c_name, vdev=v))
                    offset += VDEV_SIZE + VRING_ENTRY_SIZE * len(v.vrings)
            if dom.trace:
                t.entries.append(Entry("trace", offset, {
                    "da": dl.trace.view(name), "len": dl.trace.size, "reserved": 0,
                    "name": "Zephyr_log"}, "cm_trace"))
                offset += TRACE_SIZE
            assert offset == t.size, (offset, t.size)

    # -- checks --------------------------------------------------------------

    def _ancestors(self, region, by_name):
        seen = set()
        while region.parent:
            seen.add(region.parent)
            region = by_name[region.parent]
        return seen

    def _check(self):
        by_name = {}
        for r in self.regions:
            if r.name in by_name:
                raise self.err(r.origin, f"two regions are named {r.name}",
                               "rename the domain, carveout or link so names differ")
            by_name[r.name] = r
        anc = {r.name: self._ancestors(r, by_name) for r in self.regions}
        # containment in board memory (TCM banks are board facts)
        for r in self.regions:
            if r.kind == "tcm" or r.parent:
                continue
            if not any(m.base <= r.base and r.end <= m.end for m in self.board.memory):
                raise self.err(r.origin, f"{r.name} {r.span()} is outside every memory of "
                               f"board {self.board.name}",
                               "memories: " + ", ".join(f"{m.name} [{m.base:#x}, {m.end:#x})"
                                                        for m in self.board.memory))
        # no overlap between unrelated regions
        ordered = sorted(self.regions, key=lambda r: (r.space, r.base, r.name))
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                if b.space != a.space or b.base >= a.end:
                    break
                if a.name in anc[b.name] or b.name in anc[a.name]:
                    continue
                later = max(a, b, key=lambda r: (r.origin, r.name))
                other = b if later is a else a
                raise self.err(later.origin, f"{later.name} {later.span()} overlaps "
                               f"{other.name} {other.span()}",
                               "move one of them (or leave base out to have it allocated)")
        # an R5 sees its TCM, not DDR, in the low addresses of its view
        for name, dl in self.domains.items():
            tcm = [r for r in dl.load_regions if r.kind == "tcm"]
            if not tcm:
                continue
            low_end = max(r.view(name) + r.size for r in tcm)
            for r in self.regions:
                if r.kind != "tcm" and name in r.users and not r.views and r.base < low_end \
                        and not (set(anc[r.name]) & {t.name for t in tcm}):
                    raise self.err(r.origin, f"{r.name} {r.span()} is hidden behind the TCM "
                                   f"of {name} (local addresses below {low_end:#x})",
                                   f"place it at or above {low_end:#x}")


def _source_name(path):
    """The system file as layout.json names it, the same from any cwd or spelling of the
    path: relative to this repository for bundled systems, else the file name."""
    path = Path(path).resolve()
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.name


def place(system):
    """The layout of a validated system. Raises LayoutError when it cannot fit."""
    return _Placer(system).place()
