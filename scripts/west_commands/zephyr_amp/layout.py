"""System -> Layout: the address and size of everything, in every address space.

This is the one place that decides where things go:

- TCM banks of remote cores (global base, core-local view)
- each remote's firmware memory, and at its top the slot for the resource
  table and the trace buffer
- carveouts, shared-memory pools, and per link: vrings, then rpmsg buffers
- virtio-mmio links: native transport windows (QEMU's slots), HVL windows,
  vrings and bounce-buffer pool in shared memory (_virtio_native, _hvl)
- ivshmem links: status area, vrings and buffers in the BAR (_ivshmem)

Address spaces (Region.space): "phys" is the board's physical space;
"qemu:<domain>" the physical space of one QEMU instance on boards that run each
domain in its own QEMU (qemu_cortex_a53); "ivshmem:<link>" offsets into the
shared-memory BAR of an ivshmem link.
- the resource table of every remote: entries, offsets, size

Sizes are derived, never guessed: a vring takes vring_size(num, align)
rounded up to the host's page (Linux remoteproc allocates whole pages), an
rpmsg buffer pool takes min(2 x num, 512) x 512 bytes for a Linux host. The
function place() is deterministic: same System in, same Layout out.
"""

from dataclasses import dataclass, field
from pathlib import Path

from . import virtio
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
    qemu: dict = None              # its own QEMU instance: binary, args file, start order

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
        if self.qemu:
            d["qemu"] = dict(sorted(self.qemu.items()))
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
# virtio-mmio and ivshmem links (formats.md 5.2 and 6)

VIRTIO_MMIO_WINDOW = 0x200          # registers 0x000-0x0ff, config space from 0x100 (6.3)
VIRTIO_MMIO_VRING_ALIGN = 0x1000    # VIRTIO_MMIO_VRING_ALIGNMENT: legacy QueuePFN = pa / 4096
IVSHMEM_MIN_SIZE = 1 << 20          # ivshmem-server -l and Zephyr's PLAIN_MEM_SIZE count MiB
RUN_DIR = "run"                     # sockets and memory files, relative to the output directory
QEMU_ARGS = "qemu.args"             # <domain>/qemu.args: one QEMU argument per line
SERVER_ARGS = "ivshmem-server.args" # <link>/ivshmem-server.args


def pow2_at_least(n):
    return 1 << max(n - 1, 0).bit_length()


def run_path(system, *parts, suffix=""):
    """A runtime file (socket, shared-memory file) of a system, relative to its output
    directory: run/<system>-<part>-...<suffix>. The output directory and the system
    name keep two systems, or two copies of one, from sharing a path."""
    return f"{RUN_DIR}/{system}-{'-'.join(parts)}{suffix}"


@dataclass
class Queue:
    """One virtqueue of a virtio device; on HVL its vring sits in shared memory."""
    index: int
    name: str          # the spec's name: receiveq, transmitq, requestq, ...
    num: int
    align: int
    size: int          # vring_size(num, align)
    region: Region = None
    section: str = None  # HVL: the input section the driver defines the vring in

    def to_json(self):
        d = {"index": self.index, "name": self.name, "num": self.num, "align": self.align,
             "size": self.size}
        if self.region:
            d.update(region=self.region.name, base=self.region.base, alloc=self.region.size,
                     section=self.section)
        return d


@dataclass
class VirtioDeviceLayout:
    device: object     # model.VirtioDevice
    window: Region     # its virtio-mmio register window
    queues: list       # [Queue]
    irq: int = None    # native: GIC SPI number
    qemu: dict = None  # native: bus, QEMU device, id, socket

    def to_json(self):
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


@dataclass
class VirtioLinkLayout(LinkLayout):
    """A virtio-mmio link. Native: each device in one of QEMU's transport slots, vrings
    in the driver's RAM. HVL: windows, vrings and bounce-buffer pool in shm."""
    devices: list = field(default_factory=list)     # [VirtioDeviceLayout]
    windows: tuple = None      # hvl: (base, size) of the window area
    vrings: tuple = None       # hvl: (base, size) of the vring area
    pool: Region = None        # hvl: the bounce-buffer pool
    pool_need: int = 0         # hvl: what the queues need of it
    ipi: dict = None           # hvl: the kick path

    @property
    def symbols(self):
        """HVL linker symbols (landscape.md 1.6): vrings from __shmem0_start, the pool
        from __shmem0_pool_start to __shmem0_end."""
        if not self.pool:
            return {}
        return {"__shmem0_start": self.vrings[0], "__shmem0_pool_start": self.pool.base,
                "__shmem0_end": self.pool.end}

    def to_json(self):
        lk = self.link
        d = {"name": lk.name, "type": lk.type, "transport": lk.transport, "driver": lk.driver,
             "device": lk.device, "domains": [x for x in (lk.driver, lk.device) if x],
             "shm": self.shm.name if self.shm else None,
             "devices": [dev.to_json() for dev in self.devices]}
        if self.pool:
            d["windows"] = {"base": self.windows[0], "size": self.windows[1]}
            d["vrings"] = {"base": self.vrings[0], "size": self.vrings[1]}
            d["vring_section_base"] = self.vrings[0]
            d["pool"] = {"region": self.pool.name, "base": self.pool.base,
                         "size": self.pool.size, "need": self.pool_need}
            d["symbols"] = self.symbols
            d["ipi"] = self.ipi
        return d


@dataclass
class IvshmemLinkLayout(LinkLayout):
    """rpmsg between two QEMU instances over ivshmem: offsets in the shared-memory BAR
    (status area, vring0 host to remote, vring1 remote to host, buffer pool)."""
    status: Region = None
    vrings: list = field(default_factory=list)      # [Queue]
    buffers: Region = None
    buffer_count: int = 0
    peers: dict = None         # domain -> ivshmem peer ID (doorbell: connection order)
    run: dict = None           # runtime files, relative to the output directory

    def to_json(self):
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
        self._virtio_links()
        self._ivshmem_links()
        self._qemu_instances()
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

    def _space(self, domain):
        """Address space of a domain's own regions: its QEMU instance's on boards that
        run every domain in a QEMU of its own, else the board's physical space.
        Allocation stays one per board memory across spaces: QEMU instances could reuse
        each other's addresses, but automatic placement keeps regions apart everywhere,
        so a layout stays right if two domains share one machine after all (a two-core
        virt). User-given bases may coincide across spaces; _check() compares regions
        within one space only."""
        return f"qemu:{domain}" if self.board.instance_per_domain else "phys"

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
        """Size of a pool the YAML gives no size: what its rpmsg links need, or what the
        hvl link that has it as its pre-shared region needs."""
        hvl = self._hvl_link_of(pool.name)
        if hvl:
            return self._hvl_sizes(hvl)[0]
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

    def _hvl_link_of(self, pool_name):
        """The hvl link whose pre-shared region is this shared-memory pool, or None."""
        return next((lk for lk in self.system.links if lk.type == "virtio-mmio"
                     and lk.transport == "hvl" and lk.shm == pool_name), None)

    def _tcm(self, dom):
        if not dom.mode:
            return
        dl = self.domains[dom.name]
        for core in dom.cores:
            for bank in dom.cluster.modes[dom.mode][core]:
                r = self.add(Region(f"{dom.name}_{bank.name}", "tcm", dom.name, bank.base,
                                    bank.size, users=[dom.name], views={dom.name: bank.view},
                                    space=self._space(dom.name), origin=dom.path + ("cores",)))
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
                given = fw.size is not None
                raise self.err(fpath + ("size",) if given else dom.path + ("trace",),
                               f"firmware memory of {size:#x} bytes"
                               + ("" if given else " (the default size)") + " leaves "
                               f"no room beside the {slot:#x}-byte table and trace slot",
                               f"use at least {slot + SLOT_ALIGN:#x}" if given else
                               f"give firmware a size of at least {slot + SLOT_ALIGN:#x}")
            base = fw.base if fw.base is not None else self._alloc(
                mem, size, REGION_ALIGN, fpath, f"the firmware of {dom.name}")
            r = self.add(Region(f"{dom.name}_fw", "firmware", dom.name, base, size,
                                users=[dom.name], origin=fpath, dt_name="memory",
                                space=self._space(dom.name)))
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
                                       parent=parent, space=self._space(dom.name),
                                       origin=dom.path + ("trace",)))
        rt = self.add(Region(f"{dom.name}_rsc_table", "rsc_table", dom.name,
                             slot_base + trace_room, table_room, users=[dom.name],
                             views=views(trace_room), parent=parent,
                             space=self._space(dom.name), origin=fpath))
        dl.rsc_table = ResourceTable(dom.name, rt, rt.view(dom.name), table_size, [])

    def _carveouts(self, dom):
        dl = self.domains[dom.name]
        for cv in dom.carveouts:
            mem = self._memory_for(cv.memory, cv.path)
            size = align_up(cv.size, self.page)
            base = cv.base if cv.base is not None else self._alloc(
                mem, size, REGION_ALIGN, cv.path, f"carveout {cv.name}")
            r = self.add(Region(f"{dom.name}_{cv.name}", "carveout", dom.name, base, size,
                                users=[dom.name], origin=cv.path, dt_name=cv.name,
                                space=self._space(dom.name)))
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
            if self._hvl_link_of(pool.name):
                continue        # an hvl link's pre-shared region: _hvl() places it
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

    # -- virtio-mmio: QEMU's transports (native) ----------------------------------

    def _virtio_links(self):
        for lk in self.system.links:
            if lk.type == "virtio-mmio" and lk.transport == "native":
                self._virtio_native(lk)
            elif lk.type == "virtio-mmio":
                self._hvl(lk)

    def _virtio_native(self, lk):
        """Each device in QEMU's transport slot N: window base + N x stride, SPI
        first-spi + N, in the driver's QEMU instance. Its vrings are in the driver's RAM,
        allocated by its driver; the layout records their shape only."""
        vm = self.board.virtio_mmio
        space = self._space(lk.driver)
        devices = []
        for dev in lk.devices:
            t = virtio.device_type(dev.type)
            base = vm["base"] + dev.slot * vm["stride"]
            win = self.add(Region(f"{lk.name}_{dev.name}_mmio", "mmio_window", lk.driver, base,
                                  vm["stride"], users=[lk.driver], link=lk.name,
                                  dt_name="virtio_mmio", space=space, origin=dev.path))
            queues = [Queue(q, t.queues[q] if q < len(t.queues) else f"queue{q}",
                            dev.queue_size, VIRTIO_MMIO_VRING_ALIGN,
                            vring_size(dev.queue_size, VIRTIO_MMIO_VRING_ALIGN))
                      for q in range(dev.queues)]
            qemu = {"bus": f"virtio-mmio-bus.{dev.slot}", "device": t.qemu_device,
                    "id": f"{lk.name}_{dev.name}"}
            if t.backend in ("console", "vhost-user"):
                qemu["socket"] = run_path(self.system.name, lk.name, dev.name, suffix=".sock")
            devices.append(VirtioDeviceLayout(dev, win, queues, vm["first_spi"] + dev.slot,
                                              qemu))
        self.links.append(VirtioLinkLayout(lk, devices=devices))

    # -- virtio-mmio: hypervisorless (HVL) ----------------------------------------

    def _hvl_need(self, lk):
        """What an hvl link takes, area by area, each page aligned: a 0x200 window per
        device, one vring per queue (num = queue-size, align 0x1000), and the pool:
        queues x queue-size x buffer-size of every device.
        -> (windows, [(device, queue, vring bytes, alloc)], vrings, pool need in bytes)"""
        step = max(self.page, VIRTIO_MMIO_VRING_ALIGN)
        windows = align_up(len(lk.devices) * VIRTIO_MMIO_WINDOW, step)
        vrings = []
        for dev in lk.devices:
            for q in range(dev.queues):
                size = vring_size(dev.queue_size, VIRTIO_MMIO_VRING_ALIGN)
                vrings.append((dev, q, size, align_up(size, step)))
        pool = sum(d.queues * d.queue_size * d.buffer_size for d in lk.devices)
        return windows, vrings, sum(v[3] for v in vrings), pool

    def _hvl_sizes(self, lk):
        """(region size, pool size) of an hvl link; raises when the pool or the region
        the YAML gives is too small."""
        windows, _, vtotal, need = self._hvl_need(lk)
        decl = self.system.pool(lk.shm) if lk.shm else None
        if lk.pool is not None and lk.pool < need:
            detail = ", ".join(f"{d.name} {d.queues} x {d.queue_size} x {d.buffer_size}"
                               for d in lk.devices)
            raise self.err(lk.path + ("pool",), f"a pool of {lk.pool:#x} bytes is too small "
                           f"for the queues of {lk.name} ({detail} bytes: {need:#x})",
                           f"use at least {need:#x}, or leave pool out")
        pool = align_up(lk.pool if lk.pool is not None else need, self.page)
        if decl is None or decl.size is None:
            return windows + vtotal + pool, pool
        size = decl.size
        n = len(lk.devices)
        if n * VIRTIO_MMIO_WINDOW > size:
            raise self.err(decl.path + ("size",), f"the {n} virtio-mmio windows of {lk.name} "
                           f"({n * VIRTIO_MMIO_WINDOW:#x} bytes) run past the end of shared "
                           f"memory {decl.name} ({size:#x} bytes)",
                           f"use at least {windows + vtotal + pool:#x}, or leave size out")
        if windows + vtotal + pool > size:
            raise self.err(decl.path + ("size",), f"shared memory {decl.name} is {size:#x} "
                           f"bytes; {lk.name} needs {windows + vtotal + pool:#x} (windows "
                           f"{windows:#x}, vrings {vtotal:#x}, pool {pool:#x})",
                           f"use at least {windows + vtotal + pool:#x}, or leave size out")
        if lk.pool is None:
            pool = size - windows - vtotal      # the pool runs to the end of the region
        return size, pool

    def _hvl(self, lk):
        """Windows from the start of the pre-shared region, then the vrings, then the
        bounce-buffer pool (formats.md 6.6: windows at 0x37000000, vrings from 0x37001000)."""
        windows, vrings, vtotal, need = self._hvl_need(lk)
        size, pool_size = self._hvl_sizes(lk)
        users = [lk.driver, lk.device]
        decl = self.system.pool(lk.shm) if lk.shm else None
        if decl:
            mem = self._memory_for(decl.memory, decl.path)
            base = decl.base if decl.base is not None else self._alloc(
                mem, size, REGION_ALIGN, decl.path, f"shared memory {decl.name}")
            shm = self.add(Region(decl.name, "pool", "shared", base, size, users=users,
                                  link=lk.name, origin=decl.path))
        else:
            mem = self._memory_for(None, lk.path)
            base = self._alloc(mem, size, REGION_ALIGN, lk.path,
                               f"the shared region of {lk.name}")
            shm = self.add(Region(f"{lk.name}_shm", "shm", "shared", base, size, users=users,
                                  link=lk.name, origin=lk.path))
        if shm.end > ADDR32 and self.domains[lk.driver].domain.arch == "arm":
            raise self.err(shm.origin, f"{shm.name} {shm.span()} is above 4 GiB, out of reach "
                           f"of {lk.driver}'s 32-bit core", "place it below 4 GiB")
        devices = []
        for k, dev in enumerate(lk.devices):
            win = self.add(Region(f"{lk.name}_{dev.name}_mmio", "mmio_window", "shared",
                                  base + k * VIRTIO_MMIO_WINDOW, VIRTIO_MMIO_WINDOW,
                                  users=users, parent=shm.name, link=lk.name,
                                  dt_name="virtio_mmio", origin=dev.path))
            devices.append(VirtioDeviceLayout(dev, win, []))
        cursor = base + windows
        by_name = {d.device.name: d for d in devices}
        for k, (dev, q, vsize, alloc) in enumerate(vrings):
            t = virtio.device_type(dev.type)
            r = self.add(Region(f"{lk.name}_{dev.name}_vq{q}", "vring", "shared", cursor, alloc,
                                users=users, parent=shm.name, link=lk.name, origin=dev.path))
            by_name[dev.name].queues.append(
                Queue(q, t.queues[q] if q < len(t.queues) else f"queue{q}", dev.queue_size,
                      VIRTIO_MMIO_VRING_ALIGN, vsize, r, f".shared.vring.{k}"))
            cursor += alloc
        pool = self.add(Region(f"{lk.name}_pool", "buffer", "shared", cursor, pool_size,
                               users=users, parent=shm.name, link=lk.name,
                               origin=lk.path + ("pool",) if lk.pool is not None else lk.path))
        self.domains[lk.driver].load_regions.append(shm)
        mailbox = next(m for m in self.board.mailboxes if m.name == lk.ipi)
        self.links.append(VirtioLinkLayout(
            lk, shm=shm, mailbox=mailbox, devices=devices, windows=(base, windows),
            vrings=(base + windows, vtotal), pool=pool, pool_need=need,
            ipi=self._hvl_ipi(lk, mailbox)))

    def _hvl_ipi(self, lk, mb):
        """What either side needs to kick the other: the mailbox, and for each side its
        IPI agent (registers, interrupt, the mask the other side writes to reach it)."""
        board = self.board
        driver = self.system.domain(lk.driver)

        def agent(ipi):
            if ipi is None:
                return None
            return {"name": ipi.name, "ipi_id": ipi.ipi_id, "reg": ipi.reg, "irq": ipi.irq,
                    "mask": ipi.mask}
        mine = next((i for i in board.ipi.values() if i.core == driver.core), None)
        other = next((board.ipi[x] for x in mb.between if x in board.ipi
                      and board.ipi[x] is not mine), None)
        if mb.linux and mb.linux.get("local") in board.ipi:
            other = board.ipi[mb.linux["local"]]
        d = {"mailbox": mb.name, "zephyr_label": mb.zephyr_label,
             "zephyr_parent": mb.zephyr_parent, "driver": agent(mine), "device": agent(other),
             "registers": dict(sorted((board.ipi_registers or {}).items()))}
        if mb.linux:
            d["linux"] = {"label": f"ipi_mailbox_{mb.linux['remote']}",
                          "buffers": list(mb.linux.get("buffers", []))}
        return d

    # -- ivshmem: the shared-memory BAR of two QEMU instances ----------------------

    def _ivshmem_need(self, lk):
        """(status, vring bytes, vring alloc, buffer count, buffer bytes) of an ivshmem link."""
        vr = vring_size(lk.vring_num, lk.vring_align)
        count = lk.buffer_count or rpmsg_buffer_count(lk.vring_num)
        return (self.page, vr, align_up(vr, self.page), count,
                align_up(count * lk.buffer_size, self.page))

    def _ivshmem(self, lk):
        """Offsets in BAR2, with no overlap (the reference sample's pool runs over its
        vrings, formats.md 5.2): status area, vring0 (host to remote), vring1 (remote to
        host), buffer pool; the rest of the BAR stays unused."""
        status, vr, vr_alloc, count, buf = self._ivshmem_need(lk)
        need = status + 2 * vr_alloc + buf
        size = lk.size if lk.size is not None else max(IVSHMEM_MIN_SIZE, pow2_at_least(need))
        if size < need:
            raise self.err(lk.path + ("size",), f"{size:#x} bytes of shared memory cannot hold "
                           f"{lk.name}: status {status:#x}, vrings 2 x {vr_alloc:#x}, buffers "
                           f"{count} x {lk.buffer_size} ({need:#x} in all)",
                           f"use {pow2_at_least(need):#x}, or leave size out")
        space = f"ivshmem:{lk.name}"
        users = [lk.host, lk.remote]

        def region(name, kind, base, rsize, parent):
            return self.add(Region(f"{lk.name}_{name}", kind, "shared", base, rsize,
                                   users=users, parent=parent, link=lk.name, space=space,
                                   origin=lk.path))
        bar = region("bar", "bar", 0, size, None)
        st = region("status", "status", 0, status, bar.name)
        vrings = []
        for j in range(2):
            r = region(f"vring{j}", "vring", status + j * vr_alloc, vr_alloc, bar.name)
            vrings.append(Queue(j, ("host to remote", "remote to host")[j], lk.vring_num,
                                lk.vring_align, vr, r))
        bufs = region("buffers", "buffer", status + 2 * vr_alloc, buf, bar.name)
        run = {"server_args": f"{lk.name}/{SERVER_ARGS}"} if lk.doorbell else {}
        if lk.doorbell:
            run["socket"] = run_path(self.system.name, lk.name, suffix=".sock")
            run["pidfile"] = run_path(self.system.name, lk.name, suffix=".pid")
            run["shm_dir"] = RUN_DIR
        else:
            run["mem_path"] = run_path(self.system.name, lk.name, suffix=".shm")
        self.links.append(IvshmemLinkLayout(
            lk, shm=bar, status=st, vrings=vrings, buffers=bufs, buffer_count=count,
            peers={lk.host: 0, lk.remote: 1} if lk.doorbell else None, run=run))

    def _ivshmem_links(self):
        for lk in self.system.links:
            if lk.type == "ivshmem":
                self._ivshmem(lk)

    def _qemu_instances(self):
        """One QEMU per Zephyr domain on boards like qemu_cortex_a53: its argument file,
        and its place in the start order (ivshmem hosts first: with a doorbell the server
        hands out peer IDs in connection order)."""
        qemu = self.board.qemu
        if not (qemu and self.board.instance_per_domain):
            return
        hosts = {lk.host for lk in self.system.links if lk.type == "ivshmem"}
        remotes = {lk.remote for lk in self.system.links if lk.type == "ivshmem"}
        doms = [d for d in self.system.domains if d.os == "zephyr"]
        doms.sort(key=lambda d: 0 if d.name in hosts - remotes else 1)
        for k, d in enumerate(doms):
            self.domains[d.name].qemu = {"binary": qemu["binary"],
                                         "args": f"{d.name}/{QEMU_ARGS}", "start": k}

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
        # containment in board memory (TCM banks are board facts; an ivshmem BAR is
        # not in any board memory; native virtio-mmio windows are the board's transports)
        vm = self.board.virtio_mmio
        for r in self.regions:
            if r.kind == "tcm" or r.parent or r.space.startswith("ivshmem:"):
                continue
            if r.kind == "mmio_window" and vm and vm["base"] <= r.base \
                    and r.end <= vm["base"] + vm["slots"] * vm["stride"]:
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
        # a 32-bit core reaches only its low 4 GiB; resource-table fields are 32-bit
        for name, dl in self.domains.items():
            in_table = {r.name for r in [dl.trace, *dl.carveouts] if r} if dl.rsc_table else set()
            narrow = dl.domain.arch != "aarch64"
            for r in self.regions:
                if (name in r.users and narrow or r.name in in_table) \
                        and r.view(name) + r.size > ADDR32:
                    why = (f"the 32-bit cores of {name} cannot reach it" if narrow else
                           "resource-table addresses are 32-bit")
                    raise self.err(r.origin, f"{r.name} {r.span()} is above 4 GiB; {why}",
                                   "place it below 4 GiB")


def _source_name(path):
    """The system file as layout.json names it: its file name, the same from any cwd,
    spelling of the path, or copy of the tree."""
    return Path(path).name


def place(system):
    """The layout of a validated system. Raises LayoutError when it cannot fit."""
    return _Placer(system).place()
