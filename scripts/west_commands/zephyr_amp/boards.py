"""Board data: cores, clusters, memory, IPI mailboxes, virtio-mmio transports.

One YAML file per board in boards/ of this repository or of a user board
root (--board-root DIR, searched first). The files are facts with sources;
see boards/kv260.yaml.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from . import schema
from .source import Source, did_you_mean, parse_size

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BOARD_ROOT = REPO_ROOT / "boards"


@dataclass
class Core:
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


@dataclass
class Cluster:
    name: str
    platform: str = None
    loader: str = None
    boot: dict = None
    default_mode: str = None
    linux_node: Optional[LinuxClusterNode] = None
    modes: dict = field(default_factory=dict)   # mode -> core -> [Bank]


@dataclass
class Memory:
    name: str
    kind: str
    base: int
    size: int
    shared: bool = False
    alloc_from: int = None

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass
class Ipi:
    name: str
    ipi_id: int
    reg: int
    irq: int
    zephyr_node: str = None
    core: str = None
    mask: int = None           # this agent's bit in the other agents' TRIG/ISR registers


@dataclass(frozen=True)
class LinuxMailbox:
    """The APU-side node of an IPI mailbox: its agents and its four message buffers."""
    local: str
    remote: str
    buffers: tuple = ()


@dataclass
class Mailbox:
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
                     if "alloc-from" in m else None)
              for i, m in enumerate(d["memory"])]
    ipi = {p["name"]: Ipi(p["name"], p["ipi-id"], size(("ipi", i, "reg"), p["reg"]), p["irq"],
                          p.get("zephyr-node"), p.get("core"),
                          size(("ipi", i, "mask"), p["mask"]) if "mask" in p else None)
           for i, p in enumerate(d.get("ipi", []))}
    mailboxes = [_mailbox(i, m, size) for i, m in enumerate(d.get("mailboxes", []))]
    ipi_registers = {k: size(("ipi-registers", k), v)
                     for k, v in (d.get("ipi-registers") or {}).items()} or None
    return Board(d["name"], d.get("description", ""), path,
                 _page_size(src, d["page-size"], size(("page-size",), d["page-size"])),
                 d.get("address-cells", 2),
                 bool(d.get("instance-per-domain", False)), cores, clusters, memory, ipi,
                 mailboxes, _virtio_mmio(d, size), _qemu(d), _ivshmem(d, size), ipi_registers)


def check_references(src: Source, d: dict) -> None:
    """What the schema cannot say: names unique, and every name that refers to a core,
    cluster mode or IPI agent names one of this board (else a KeyError later)."""
    for key in ("cores", "clusters", "memory", "ipi", "mailboxes"):
        _unique_names(src, d, key)
    cores = {c["name"]: c for c in d["cores"]}
    ipis = {p["name"] for p in d.get("ipi", [])}
    clusters = {c["name"] for c in d.get("clusters", [])}
    for i, c in enumerate(d.get("clusters", [])):
        _check_cluster(src, ("clusters", i), c, cores)
    for i, p in enumerate(d.get("ipi", [])):
        if "core" in p:
            _known(src, ("ipi", i, "core"), p["core"], cores, "core")
    _virtio_spis(src, d)
    _pci_ids(src, d)
    for i, m in enumerate(d.get("mailboxes", [])):
        for j, agent in enumerate(m["between"]):
            _known(src, ("mailboxes", i, "between", j), agent, [*cores, *clusters, *ipis],
                   "core, cluster or IPI agent")
        for side in ("local", "remote"):
            if m.get("linux"):
                _known(src, ("mailboxes", i, "linux", side), m["linux"][side], ipis,
                       "IPI agent")
        if m.get("linux") and len(m["linux"].get("buffers") or []) != 4:
            raise src.error(("mailboxes", i, "linux", "buffers"), "the Linux node of an IPI "
                            "mailbox has four message buffers (local request, local response, "
                            "remote request, remote response)", "give their four addresses")


def _virtio_spis(src: Source, d: dict) -> None:
    """Transport N interrupts on SPI first-spi + N: the last one is a GIC SPI (0..987)."""
    v = d.get("virtio-mmio")
    if v and v["first-spi"] + v["slots"] - 1 > 987:
        raise src.error(("virtio-mmio", "slots"), f"{v['slots']} transports from SPI "
                        f"{v['first-spi']} end at SPI {v['first-spi'] + v['slots'] - 1}, past "
                        "987, the last GIC SPI", f"use at most {988 - v['first-spi']} slots")


def _pci_ids(src: Source, d: dict) -> None:
    """PCI vendor and device IDs are 16 bits (the overlay's vendor-id / device-id)."""
    for key in ("vendor-id", "device-id"):
        try:
            n = parse_size((d.get("ivshmem") or {}).get(key, 0))
        except ValueError:
            continue            # load_board() says what is wrong with it
        if n > 0xffff:
            raise src.error(("ivshmem", key), f"{n:#x} is not a 16-bit PCI ID",
                            "use QEMU's ivshmem IDs, vendor 0x1af4 and device 0x1110")


def _unique_names(src: Source, d: dict, key: str) -> None:
    seen = {}
    for i, item in enumerate(d.get(key) or []):
        if item["name"] in seen:
            raise src.error((key, i, "name"), f"'{item['name']}' is already defined "
                            f"({key}[{seen[item['name']]}])", "give each its own name")
        seen[item["name"]] = i


def _known(src: Source, path: tuple, name: str, names, what: str) -> None:
    if name not in names:
        raise src.error(path, f"no {what} named '{name}' on this board",
                        did_you_mean(name, list(names)) or "use one of: " + ", ".join(names))


def _check_cluster(src: Source, p: tuple, c: dict, cores: dict) -> None:
    modes = c.get("modes") or {}
    if modes and "default-mode" not in c:
        raise src.error(p, "a cluster with modes needs a default-mode (a domain that gives "
                        "no mode: runs in it)", "add default-mode: " + " or ".join(modes))
    if modes and c["default-mode"] not in modes:
        raise src.error(p + ("default-mode",), f"the default mode {c['default-mode']} is "
                        "not one of the cluster's modes", "use " + " or ".join(modes))
    for mode, per_core in modes.items():
        for core in per_core:
            _known(src, p + ("modes", mode, core), core, cores, "core")
    if c.get("linux-node"):
        for core in (n for n, x in cores.items() if x["cluster"] == c["name"]):
            if not core.rpartition("_")[2].isdigit():
                raise src.error(p + ("linux-node",), f"core {core} of a cluster with a "
                                "linux-node needs its index at the end of its name (r5_0): "
                                "it is the unit address of its remoteproc node",
                                f"rename it {core}_0")
        for core in c["linux-node"].get("power-domains") or {}:
            _known(src, p + ("linux-node", "power-domains", core), core, cores, "core")


def _page_size(src: Source, given: object, n: int) -> int:
    """The board's page size: every base is aligned to it, so a power of two."""
    if n <= 0 or n & (n - 1):
        raise src.error(("page-size",), f"page size {given} is not a power of two",
                        "use the MMU's page size, such as 4K")
    return n


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
                                n.get("firmware-node"), dict(n.get("power-domains") or {}))
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


def _virtio_mmio(d, size) -> Optional[VirtioMmio]:
    v = d.get("virtio-mmio")
    if not v:
        return None
    return VirtioMmio(size(("virtio-mmio", "base"), v["base"]),
                      size(("virtio-mmio", "stride"), v["stride"]), v["slots"], v["first-spi"],
                      v.get("dt-parent"), v.get("dt-label"), tuple(v.get("qemu-args", [])))


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
