"""Board data: cores, clusters, memory, IPI mailboxes, virtio-mmio transports.

One YAML file per board in boards/ of this repository or of a user board
root (--board-root DIR, searched first). The files are facts with sources;
see boards/kv260.yaml.
"""

from dataclasses import dataclass, field
from pathlib import Path

from . import schema
from .errors import InputError
from .source import Source, parse_size, did_you_mean

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
    def elf(self):
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


@dataclass
class Cluster:
    name: str
    platform: str = None
    loader: str = None
    boot: dict = None
    default_mode: str = None
    linux_node: dict = None
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
    def end(self):
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


@dataclass
class Mailbox:
    name: str
    between: list
    zephyr_label: str = None
    zephyr_parent: str = None
    linux: dict = None


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
    virtio_mmio: dict = None
    qemu: dict = None          # {"binary", "machine_args"}: how one instance is started
    ivshmem: dict = None       # {"vendor_id", "device_id"}: the ivshmem PCI device
    ipi_registers: dict = None # register name -> offset from an IPI agent's reg

    def memory_named(self, name):
        return next((m for m in self.memory if m.name == name), None)

    def agents(self, cores):
        """The names a mailbox's 'between' may use for these cores: the cores,
        their clusters (the APU agent for Linux on the A53s) and their IPI agents."""
        clusters = sorted({self.cores[c].cluster for c in cores})
        return list(cores) + clusters + [ipi.name for ipi in self.ipi.values()
                                         if ipi.core in cores]

    def mailbox_between(self, a, b):
        """The mailbox core a uses to reach b (cores or IPI agents).

        The first name of 'between' is the side whose devicetree label the
        mailbox is (rpu0_rpu1_mailbox is RPU0's, rpu1_rpu0_mailbox RPU1's);
        one that only names a elsewhere is the fallback."""
        near = [mb for mb in self.mailboxes if a in mb.between
                and any(x in mb.between for x in b if x != a)]
        return next((mb for mb in near if mb.between[0] == a), near[0] if near else None)


def board_roots(extra=()):
    return [Path(r) for r in extra] + [DEFAULT_BOARD_ROOT]


def known_boards(extra=()):
    names = set()
    for root in board_roots(extra):
        names.update(p.stem for p in Path(root).glob("*.yaml"))
    return sorted(names)


def find_board_file(name, extra=()):
    for root in board_roots(extra):
        path = Path(root) / f"{name}.yaml"
        if path.is_file():
            return path
    return None


def load_board(name, extra=()):
    """Board data by name; raises InputError (no position) when unknown."""
    path = find_board_file(name, extra)
    if path is None:
        raise LookupError(name)
    src = Source(path, display=_display(path))
    schema.check(src, "board")
    d = src.data

    def size(path_, value):
        try:
            return parse_size(value)
        except ValueError as e:
            raise src.error(path_, str(e)) from None

    cores = {}
    for i, c in enumerate(d["cores"]):
        cores[c["name"]] = Core(c["name"], c["cluster"], c["cpu"], c["arch"], list(c["os"]),
                                c.get("zephyr-target"))
    clusters = {}
    for i, c in enumerate(d.get("clusters", [])):
        modes = {}
        for mode, per_core in (c.get("modes") or {}).items():
            modes[mode] = {}
            for core, banks in per_core.items():
                modes[mode][core] = [
                    Bank(b["name"], size(("clusters", i, "modes", mode, core, j, "base"), b["base"]),
                         size(("clusters", i, "modes", mode, core, j, "view"), b["view"]),
                         size(("clusters", i, "modes", mode, core, j, "size"), b["size"]),
                         b.get("power-domain"))
                    for j, b in enumerate(banks)]
        boot = None
        if c.get("boot"):
            boot = {k: size(("clusters", i, "boot", k), v) for k, v in c["boot"].items()}
        node = dict(c["linux-node"]) if c.get("linux-node") else None
        if node and "address" in node:
            node["address"] = size(("clusters", i, "linux-node", "address"), node["address"])
        clusters[c["name"]] = Cluster(c["name"], c.get("platform"), c.get("loader"), boot,
                                      c.get("default-mode"), node, modes)
    memory = [Memory(m["name"], m["kind"], size(("memory", i, "base"), m["base"]),
                     size(("memory", i, "size"), m["size"]), bool(m.get("shared", False)),
                     size(("memory", i, "alloc-from"), m["alloc-from"])
                     if "alloc-from" in m else None)
              for i, m in enumerate(d["memory"])]
    ipi = {p["name"]: Ipi(p["name"], p["ipi-id"], size(("ipi", i, "reg"), p["reg"]), p["irq"],
                          p.get("zephyr-node"), p.get("core"),
                          size(("ipi", i, "mask"), p["mask"]) if "mask" in p else None)
           for i, p in enumerate(d.get("ipi", []))}
    mailboxes = []
    for i, m in enumerate(d.get("mailboxes", [])):
        linux = dict(m["linux"]) if m.get("linux") else None
        if linux and "buffers" in linux:
            linux["buffers"] = [size(("mailboxes", i, "linux", "buffers", j), b)
                                for j, b in enumerate(linux["buffers"])]
        mailboxes.append(Mailbox(m["name"], list(m["between"]), m.get("zephyr-label"),
                                 m.get("zephyr-parent"), linux))
    virtio = None
    if d.get("virtio-mmio"):
        v = d["virtio-mmio"]
        virtio = {"base": size(("virtio-mmio", "base"), v["base"]),
                  "stride": size(("virtio-mmio", "stride"), v["stride"]),
                  "slots": v["slots"], "first_spi": v["first-spi"],
                  "dt_parent": v.get("dt-parent"), "dt_label": v.get("dt-label"),
                  "qemu_args": list(v.get("qemu-args", []))}
    qemu = None
    if d.get("qemu"):
        qemu = {"binary": d["qemu"]["binary"],
                "machine_args": list(d["qemu"]["machine-args"])}
    ivshmem = None
    if d.get("ivshmem"):
        ivshmem = {"vendor_id": size(("ivshmem", "vendor-id"), d["ivshmem"]["vendor-id"]),
                   "device_id": size(("ivshmem", "device-id"), d["ivshmem"]["device-id"])}
    ipi_registers = {k: size(("ipi-registers", k), v)
                     for k, v in (d.get("ipi-registers") or {}).items()} or None
    return Board(d["name"], d.get("description", ""), path,
                 size(("page-size",), d["page-size"]), d.get("address-cells", 2),
                 bool(d.get("instance-per-domain", False)), cores, clusters, memory, ipi,
                 mailboxes, virtio, qemu, ivshmem, ipi_registers)


def _display(path):
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def unknown_board_hint(name, extra=()):
    names = known_boards(extra)
    return did_you_mean(name, names) or ("known boards: " + ", ".join(names))
