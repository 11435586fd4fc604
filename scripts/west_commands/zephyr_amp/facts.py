"""Typed facts read from the files of an existing AMP setup (amp-lint, amp-import).

The readers (readers/) turn a Linux devicetree, a Zephyr overlay with its
board DTS, or a firmware ELF into these; lint.py cross-checks them and
importer.py turns them into a system YAML. Every fact says where it came
from (file and line, or the ELF section and offset), so that a finding can
name both sides of a disagreement.

Addresses are the ones the file states: Linux's are physical, Zephyr's are
the core's own view (on a ZynqMP R5 the TCM is at 0x0, DDR at its physical
address), an ELF's are p_paddr / the resource table's da.
"""

import re
from dataclasses import dataclass, field

from . import ivshmem_server

VDEV_NAME = re.compile(r"vdev(\d+)(vring(\d+)|buffer)")


@dataclass(frozen=True)
class Where:
    """A place in an input file: line 1-based (0 = none), detail for what has no line."""
    file: str
    line: int = 0
    detail: str = ""

    def __str__(self):
        text = f"{self.file}:{self.line}" if self.line else self.file
        return f"{text} ({self.detail})" if self.detail else text

    def to_json(self):
        return {"file": self.file, "line": self.line or None, "detail": self.detail or None}


def span(base, size):
    return f"[{base:#x}, {base + size:#x})"


def size_text(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:#x} bytes"


@dataclass
class Region:
    """A range of memory one file names: a reserved-memory node, a chosen node, a segment.

    kind: vring | buffer | firmware | carveout | reserved | ipc_shm | sram | trace | segment
    owner: the remote it belongs to (a Linux remoteproc core node name, or the Zephyr
    side's name), or None; vdev/ring: for vdevNvringM / vdevNbuffer.
    """
    name: str
    base: int
    size: int
    kind: str
    where: Where
    label: str = None
    path: str = None
    owner: str = None
    compatible: tuple = ()
    no_map: bool = False
    vdev: int = None
    ring: int = None

    @property
    def end(self):
        return self.base + self.size

    def span(self):
        return span(self.base, self.size)

    def overlaps(self, other):
        return self.base < other.end and other.base < self.end

    def title(self):
        return f"{self.name} {self.span()} ({size_text(self.size)})"

    def to_json(self):
        return {"name": self.name, "kind": self.kind, "base": self.base, "size": self.size,
                "label": self.label, "path": self.path, "owner": self.owner,
                "where": self.where.to_json()}


@dataclass
class Mailbox:
    """One end of a ZynqMP-style IPI mailbox: its buffers by reg-name and the IPI IDs.

    Linux child node: ipi_id = xlnx,ipi-id (the remote agent), local_id = the
    parent's xlnx,ipi-id when known. Zephyr node: local_id = the parent's
    local-ipi-id, ipi_id = remote-ipi-id (the other agent)."""
    label: str
    path: str
    where: Where
    local_id: int = None
    ipi_id: int = None
    buffers: dict = field(default_factory=dict)    # reg-name -> address

    def to_json(self):
        return {"label": self.label, "path": self.path, "local_id": self.local_id,
                "ipi_id": self.ipi_id, "buffers": dict(sorted(self.buffers.items())),
                "where": self.where.to_json()}


@dataclass
class Remote:
    """A Linux remoteproc core node (xlnx,zynqmp-r5f or the memory-region/mboxes pattern)."""
    name: str                  # node name, r5f@0
    path: str
    where: Where
    index: int = None          # unit address of r5f@N: the core of the cluster
    label: str = None
    enabled: bool = True       # its own and its cluster's status
    cluster: str = None        # cluster node path
    mode: str = None           # split | lockstep, when the cluster node says
    mode_where: Where = None
    compatible: tuple = ()
    regions: list = field(default_factory=list)    # [Region] in memory-region order
    mailboxes: list = field(default_factory=list)  # [Mailbox] in mboxes order
    implicit: bool = False     # vdev reservations no remoteproc node names

    def vdev_regions(self):
        return [r for r in self.regions if r.kind in ("vring", "buffer")]

    def to_json(self):
        return {"name": self.name, "path": self.path, "index": self.index,
                "enabled": self.enabled, "mode": self.mode,
                "regions": [r.name for r in self.regions],
                "mailboxes": [m.label for m in self.mailboxes], "where": self.where.to_json()}


@dataclass
class LinuxFacts:
    files: list                                    # the input files, as given
    regions: list = field(default_factory=list)    # every reserved-memory child
    remotes: list = field(default_factory=list)    # [Remote]
    mailboxes: list = field(default_factory=list)  # [Mailbox]
    merged: bool = False                           # base + overlays (fdtoverlay)
    base_regions: set = field(default_factory=set) # merged: (name, base, size) of the base's

    side = "linux"

    def enabled_remotes(self):
        """The enabled remote cores, one node per core; in lock-step the cluster is one
        remote, its first core (xlnx_r5_remoteproc runs r5f@0 only)."""
        out = {}
        for r in self.remotes:
            if not r.enabled or (r.mode == "lockstep" and r.index):
                continue
            out.setdefault(r.index if r.index is not None else r.path, r)
        return list(out.values())


@dataclass
class VirtioMmio:
    """An enabled virtio,mmio transport of a Zephyr tree and the device node under it."""
    base: int
    size: int
    where: Where
    device_id: int = None      # from the child's compatible virtio,deviceN (hex)
    label: str = None          # the child's label


@dataclass
class HvlQueue:
    """One vring of an HVL device: its index, start and the bytes its num needs."""
    index: int
    base: int
    size: int
    where: Where


@dataclass
class HvlDevice:
    """One virtio device of a hypervisorless virtio link: its virtio-mmio window in the
    pre-shared region and (from the device file only) its queues."""
    name: str
    base: int
    size: int
    where: Where
    device_id: int = None
    queue_size: int = None     # None: the file does not say (Zephyr's overlay)
    buffer_size: int = None
    queues: list = field(default_factory=list)     # [HvlQueue]

    def span(self):
        return span(self.base, self.size)


@dataclass
class HvlLink:
    """A hypervisorless virtio link as one file states it: a Zephyr overlay's
    openamp,virtio-hvl node (side "zephyr") or the device process's <link>.hvl.json
    (side "device"). Areas are (base, size) in the pre-shared region shm."""
    link: str                  # the link name: label amp_<link>, or the file's "link"
    side: str
    file: str
    where: Where
    shm: Region = None
    windows: tuple = None
    vrings: tuple = None
    pool: tuple = None
    ipi: str = None            # the driver's IPI mailbox: its Zephyr label
    ipi_where: Where = None
    devices: list = field(default_factory=list)    # [HvlDevice] by window address
    shm_name: str = None       # the system's shared-memory name (device file)
    driver: str = None         # device file: the driver and device domains
    device: str = None

    def areas(self):
        return {"windows": self.windows, "vrings": self.vrings, "pool": self.pool}


@dataclass
class ZephyrIvshmem:
    """An enabled qemu,ivshmem node of a Zephyr tree."""
    label: str
    path: str
    where: Where


@dataclass
class ZephyrFacts:
    files: list                # overlays (and the board DTS), as given
    target: str = None         # Zephyr board target
    board_dts: str = None
    chosen: dict = field(default_factory=dict)     # name -> Region or Mailbox
    regions: list = field(default_factory=list)    # reserved-memory children
    mailboxes: list = field(default_factory=list)  # every IPI mailbox of the tree
    virtio: list = field(default_factory=list)     # [VirtioMmio] enabled transports
    hvl: list = field(default_factory=list)        # [HvlLink] openamp,virtio-hvl nodes
    ivshmem: list = field(default_factory=list)    # [ZephyrIvshmem]

    side = "zephyr"

    @property
    def name(self):
        return self.files[0] if self.files else "zephyr"

    def region(self, chosen):
        r = self.chosen.get(chosen)
        return r if isinstance(r, Region) else None


@dataclass
class RscEntry:
    """One resource-table entry of an ELF: type carveout | trace | vdev | other."""
    type: str
    where: Where
    fields: dict = field(default_factory=dict)
    vrings: list = field(default_factory=list)     # vdev: [{"da", "align", "num", "notifyid"}]


@dataclass
class ElfFacts:
    file: str
    machine: str = None
    segments: list = field(default_factory=list)   # [Region] kind "segment", by p_paddr
    table: Region = None                           # the .resource_table section
    entries: list = field(default_factory=list)    # [RscEntry]

    side = "elf"

    def vdevs(self):
        return [e for e in self.entries if e.type == "vdev"]

    def trace(self):
        return next((e for e in self.entries if e.type == "trace"), None)


@dataclass
class QemuIvshmem:
    """An ivshmem device of a QEMU command line: ivshmem-doorbell (its -chardev socket)
    or ivshmem-plain (its -object memory-backend-file)."""
    id: str                    # the -device id=, else its chardev/memdev id
    kind: str                  # doorbell | plain
    where: Where
    vectors: int = None        # doorbell: vectors= (QEMU's default 1)
    socket: str = None         # doorbell: the chardev's path=
    mem_path: str = None       # plain: the backend's mem-path=
    size: int = None           # plain: the backend's size=
    size_where: Where = None


@dataclass
class QemuFacts:
    """A QEMU command line (qemu.args: one argument per line, or shell words)."""
    file: str
    ivshmem: list = field(default_factory=list)    # [QemuIvshmem]

    side = "qemu"


@dataclass
class IvshmemServerFacts:
    """The arguments of an ivshmem-server (ivshmem-server.args); unset options are
    the server's defaults (contrib/ivshmem-server/main.c)."""
    file: str
    where: Where
    socket: str = ivshmem_server.DEFAULT_SOCKET
    shm: str = "ivshmem"
    size: int = ivshmem_server.DEFAULT_SIZE
    vectors: int = ivshmem_server.DEFAULT_VECTORS
    wheres: dict = field(default_factory=dict)     # option letter -> Where

    side = "server"

    def at(self, opt):
        return self.wheres.get(opt, self.where)


@dataclass
class HeaderFacts:
    """The #define NAME VALUE lines of a C header (a generated amp_layout.h, or a
    setup's own header using its names): value int, or str for a string."""
    file: str
    defines: dict = field(default_factory=dict)    # name -> (value, Where)

    side = "header"

    def get(self, name):
        v = self.defines.get(name)
        return v[0] if v else None

    def where(self, name):
        v = self.defines.get(name)
        return v[1] if v else Where(self.file)

    def ivshmem_links(self):
        """Prefixes P of the ivshmem links it describes (AMP_P_VRING0_OFFSET)."""
        return sorted(n[len("AMP_"):-len("_VRING0_OFFSET")] for n in self.defines
                      if n.startswith("AMP_") and n.endswith("_VRING0_OFFSET")
                      and f"{n[:-len('_VRING0_OFFSET')]}_BUF_COUNT" in self.defines)


@dataclass
class Facts:
    """Everything read from one set of input files."""
    linux: list = field(default_factory=list)      # [LinuxFacts]
    zephyr: list = field(default_factory=list)     # [ZephyrFacts]
    elves: list = field(default_factory=list)      # [ElfFacts]
    hvl: list = field(default_factory=list)        # [HvlLink] device files (.hvl.json)
    qemu: list = field(default_factory=list)       # [QemuFacts]
    servers: list = field(default_factory=list)    # [IvshmemServerFacts]
    headers: list = field(default_factory=list)    # [HeaderFacts]
    board: object = None                           # the board inferred while reading

    def files(self):
        out = []
        for f in self.linux + self.zephyr:
            out += f.files
        out += [e.file for e in self.elves] + [h.file for h in self.hvl]
        return out + [f.file for f in self.qemu + self.servers + self.headers]

    def hvl_links(self):
        """Every HVL link statement: the Zephyr overlays' nodes, then the device files."""
        return [h for z in self.zephyr for h in z.hvl] + list(self.hvl)
