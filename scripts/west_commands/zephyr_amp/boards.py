"""Board data: cores, clusters, memory, IPI mailboxes, virtio-mmio transports.

One YAML file per board in boards/ of this repository or of a user board
root (--board-root DIR, searched first). The files are facts with sources;
see boards/kv260.yaml.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Optional

from . import schema
from .board_check import check_references
from .source import Source, did_you_mean, parse_size

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BOARD_ROOT = REPO_ROOT / "boards"


@dataclass
class Core:
    """A core of the board: its cluster, CPU, architecture and the OSes it may run."""
    name: str
    cluster: str
    cpu: str
    arch: str                  # "arm" | "aarch64"
    os: list
    zephyr_target: str = None

    @property
    def elf(self) -> dict:
        """What an image for this core must be (loader-rules ELF-05)."""
        if self.arch == "aarch64":
            return {"class": 64, "machine": "EM_AARCH64"}
        return {"class": 32, "machine": "EM_ARM"}


@dataclass
class Bank:
    """Core-local memory (TCM) in one cluster mode: global base, local view."""
    name: str
    base: int
    view: int
    size: int
    power_domain: str = None


@dataclass(frozen=True)
class LinuxClusterNode:
    """The cluster's remoteproc node in a Linux overlay (xlnx,zynqmp-r5fss)."""
    compatible: str
    core_compatible: str
    address: int
    firmware_node: Optional[str] = None
    power_domains: dict = field(default_factory=dict)    # core -> power-domain ID
    base_labels: dict = field(default_factory=dict)      # mode -> label of the base's node
    tcm_modes: dict = field(default_factory=dict)        # mode -> xlnx,tcm-mode
    max_memory_regions: Optional[int] = None             # the binding's maxItems


@dataclass
class Cluster:
    """Cores that share a loader and, on the ZynqMP RPU, modes with TCM banks."""
    name: str
    platform: str = None
    loader: str = None
    boot: dict = None
    default_mode: str = None
    linux_node: Optional[LinuxClusterNode] = None
    modes: dict = field(default_factory=dict)   # mode -> core -> [Bank]


@dataclass
class Memory:
    """A memory of the board that regions are placed in (DDR, OCM, ...)."""
    name: str
    kind: str
    base: int
    size: int
    shared: bool = False
    alloc_from: int = None
    by_zephyr: tuple = ()      # ((version, size), ...): the size with that Zephyr's board

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass
class Ipi:
    """An IPI agent: its registers, interrupt and mask, and the core it serves."""
    name: str
    ipi_id: int
    reg: int
    irq: int
    zephyr_node: str = None
    core: str = None
    mask: int = None           # this agent's bit in the other agents' TRIG/ISR registers


@dataclass(frozen=True)
class LinuxReserved:
    """A /reserved-memory node the board's own Linux devicetree (the base an overlay is
    applied to) already has: node name without unit address, label, range, and the
    core whose firmware image the base reserves it for, if any."""
    name: str
    label: str
    base: int
    size: int
    core: Optional[str] = None

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass(frozen=True)
class LinuxMailbox:
    """The APU-side node of an IPI mailbox: its agents and its four message buffers."""
    local: str
    remote: str
    buffers: tuple = ()


@dataclass
class Mailbox:
    """An IPI channel between two agents, with its Zephyr and Linux nodes."""
    name: str
    between: list
    zephyr_label: str = None
    zephyr_parent: str = None
    linux: Optional[LinuxMailbox] = None


@dataclass(frozen=True)
class VirtioMmio:
    """The board's own virtio-mmio transports (QEMU virt): slot N at base + N x stride,
    interrupt SPI first_spi + N."""
    base: int
    stride: int
    slots: int
    first_spi: int
    dt_parent: Optional[str] = None
    dt_label: Optional[str] = None
    qemu_args: tuple = ()
    board_slots: tuple = ()     # ((device type, slot), ...) that Zephyr's board.cmake uses

    @property
    def end(self) -> int:
        return self.base + self.slots * self.stride


@dataclass(frozen=True)
class Qemu:
    """How one QEMU instance of the board is started."""
    binary: str
    machine_args: tuple = ()


@dataclass(frozen=True)
class IvshmemPci:
    """The PCI IDs of QEMU's ivshmem device."""
    vendor_id: int
    device_id: int


@dataclass
class Board:
    """Everything boards/<name>.yaml says of a board (load_board())."""
    name: str
    description: str
    path: Path
    page_size: int
    address_cells: int
    instance_per_domain: bool
    cores: dict            # name -> Core
    clusters: dict         # name -> Cluster
    memory: list           # [Memory]
    ipi: dict              # name -> Ipi
    mailboxes: list        # [Mailbox]
    virtio_mmio: Optional[VirtioMmio] = None
    qemu: Optional[Qemu] = None
    ivshmem: Optional[IvshmemPci] = None
    ipi_registers: dict = None # register name -> offset from an IPI agent's reg
    linux_reserved: tuple = ()  # [LinuxReserved] of the base Linux devicetree

    def for_zephyr(self, version: str) -> "Board":
        """The board as the given Zephyr ('MAJOR.MINOR') has it: a memory that the
        Zephyr's board files declare larger (its QEMU machine) takes that size."""
        sizes = [dict(m.by_zephyr).get(version) for m in self.memory]
        if not any(sizes):
            return self
        return replace(self, memory=[replace(m, size=size) if size else m
                                     for m, size in zip(self.memory, sizes)])

    def memory_named(self, name: str) -> Optional[Memory]:
        return next((m for m in self.memory if m.name == name), None)

    def agents(self, cores: Iterable) -> list:
        """The names a mailbox's 'between' may use for these cores: the cores,
        their clusters (the APU agent for Linux on the A53s) and their IPI agents."""
        clusters = sorted({self.cores[c].cluster for c in cores})
        return list(cores) + clusters + [ipi.name for ipi in self.ipi.values()
                                         if ipi.core in cores]

    def mailbox_between(self, a: str, b: Iterable) -> Optional[Mailbox]:
        """The mailbox core a uses to reach b (cores or IPI agents).

        The first name of 'between' is the side whose devicetree label the
        mailbox is (rpu0_rpu1_mailbox is RPU0's, rpu1_rpu0_mailbox RPU1's);
        one that only names a elsewhere is the fallback."""
        near = [mb for mb in self.mailboxes if a in mb.between
                and any(x in mb.between for x in b if x != a)]
        return next((mb for mb in near if mb.between[0] == a), near[0] if near else None)


def board_roots(extra=()) -> list:
    return [Path(r) for r in extra] + [DEFAULT_BOARD_ROOT]


def known_boards(extra=()) -> list:
    names = set()
    for root in board_roots(extra):
        names.update(p.stem for p in Path(root).glob("*.yaml"))
    return sorted(names)


def find_board_file(name: str, extra=()) -> Optional[Path]:
    for root in board_roots(extra):
        path = Path(root) / f"{name}.yaml"
        # whatever is there: Source refuses a directory, FIFO or device at its path
        # (is_file() skipped them, and the bundled board of that name was used instead)
        if os.path.lexists(path):
            return path
    return None


def load_board(name: str, extra=()) -> Board:
    """Board data by name; raises LookupError when no board root has it, InputError
    (at the board file's line) when the file is wrong."""
    path = find_board_file(name, extra)
    if path is None:
        raise LookupError(name)
    src = Source(path, display=_display(path))
    schema.check(src, "board")
    d = src.data
    check_references(src, d)

    def size(path_, value: object):
        try:
            return parse_size(value)
        except ValueError as e:
            raise src.error(path_, str(e)) from None

    cores = {c["name"]: Core(c["name"], c["cluster"], c["cpu"], c["arch"], list(c["os"]),
                             c.get("zephyr-target")) for c in d["cores"]}
    clusters = {c["name"]: _cluster(i, c, size) for i, c in enumerate(d.get("clusters", []))}
    memory = [Memory(m["name"], m["kind"], size(("memory", i, "base"), m["base"]),
                     size(("memory", i, "size"), m["size"]), bool(m.get("shared", False)),
                     size(("memory", i, "alloc-from"), m["alloc-from"])
                     if "alloc-from" in m else None,
                     tuple((str(v), size(("memory", i, "size-by-zephyr", v), n))
                           for v, n in (m.get("size-by-zephyr") or {}).items()))
              for i, m in enumerate(d["memory"])]
    ipi = {p["name"]: Ipi(p["name"], p["ipi-id"], size(("ipi", i, "reg"), p["reg"]), p["irq"],
                          p.get("zephyr-node"), p.get("core"),
                          size(("ipi", i, "mask"), p["mask"]) if "mask" in p else None)
           for i, p in enumerate(d.get("ipi", []))}
    mailboxes = [_mailbox(i, m, size) for i, m in enumerate(d.get("mailboxes", []))]
    ipi_registers = {k: size(("ipi-registers", k), v)
                     for k, v in (d.get("ipi-registers") or {}).items()} or None
    return Board(d["name"], d.get("description", ""), path,
                 size(("page-size",), d["page-size"]), d.get("address-cells", 2),
                 bool(d.get("instance-per-domain", False)), cores, clusters, memory, ipi,
                 mailboxes, _virtio_mmio(d, size), _qemu(d), _ivshmem(d, size), ipi_registers,
                 _linux_reserved(d, size))


def _cluster(i, c, size) -> Cluster:
    modes = {}
    for mode, per_core in (c.get("modes") or {}).items():
        modes[mode] = {}
        for core, banks in per_core.items():
            at = ("clusters", i, "modes", mode, core)
            modes[mode][core] = [
                Bank(b["name"], size(at + (j, "base"), b["base"]),
                     size(at + (j, "view"), b["view"]), size(at + (j, "size"), b["size"]),
                     b.get("power-domain"))
                for j, b in enumerate(banks)]
    boot = None
    if c.get("boot"):
        boot = {k: size(("clusters", i, "boot", k), v) for k, v in c["boot"].items()}
    node = None
    if c.get("linux-node"):
        n = c["linux-node"]
        node = LinuxClusterNode(n["compatible"], n["core-compatible"],
                                size(("clusters", i, "linux-node", "address"), n["address"]),
                                n.get("firmware-node"), dict(n.get("power-domains") or {}),
                                dict(n.get("base-labels") or {}), dict(n.get("tcm-modes") or {}),
                                n.get("max-memory-regions"))
    return Cluster(c["name"], c.get("platform"), c.get("loader"), boot,
                   c.get("default-mode"), node, modes)


def _mailbox(i, m, size) -> Mailbox:
    linux = None
    if m.get("linux"):
        lx = m["linux"]
        linux = LinuxMailbox(lx["local"], lx["remote"],
                             tuple(size(("mailboxes", i, "linux", "buffers", j), b)
                                   for j, b in enumerate(lx.get("buffers", []))))
    return Mailbox(m["name"], list(m["between"]), m.get("zephyr-label"),
                   m.get("zephyr-parent"), linux)


def _linux_reserved(d, size) -> tuple:
    at = "linux-reserved"
    return tuple(LinuxReserved(r["name"], r["label"], size((at, i, "base"), r["base"]),
                               size((at, i, "size"), r["size"]), r.get("core"))
                 for i, r in enumerate(d.get(at) or []))


def _virtio_mmio(d, size) -> Optional[VirtioMmio]:
    v = d.get("virtio-mmio")
    if not v:
        return None
    return VirtioMmio(size(("virtio-mmio", "base"), v["base"]),
                      size(("virtio-mmio", "stride"), v["stride"]), v["slots"], v["first-spi"],
                      v.get("dt-parent"), v.get("dt-label"), tuple(v.get("qemu-args", [])),
                      tuple(sorted((v.get("board-slots") or {}).items())))


def _qemu(d) -> Optional[Qemu]:
    q = d.get("qemu")
    return Qemu(q["binary"], tuple(q["machine-args"])) if q else None


def _ivshmem(d, size) -> Optional[IvshmemPci]:
    v = d.get("ivshmem")
    if not v:
        return None
    return IvshmemPci(size(("ivshmem", "vendor-id"), v["vendor-id"]),
                      size(("ivshmem", "device-id"), v["device-id"]))


def _display(path):
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except (ValueError, OSError, RuntimeError):     # RuntimeError: a link loop (< 3.13)
        return str(path)


def unknown_board_hint(name: str, extra=()) -> str:
    names = known_boards(extra)
    return did_you_mean(name, names) or ("known boards: " + ", ".join(names))
