"""System YAML -> validated System.

Structure is checked by schema/system.yaml (pykwalify); meaning is checked
here: names that must refer to something, cores that must exist and be free,
numbers that must be powers of two. Every error points at the YAML key it
is about. Nothing here assigns addresses: that is layout.py's job.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import boards as boards_mod
from . import schema
from . import virtio
from .errors import InputError
from .source import Source, did_you_mean, key_text, parse_size

MAX_ADDR = 1 << 64
_RESERVED_CARVEOUT = re.compile(r"memory|r5f|vdev[0-9]+(buffer|vring[0-9]+)")
VRING_NUM_MAX = 32768

# Keys each link type accepts beyond name and type.
LINK_KEYS = {
    "rpmsg": {"host", "remote", "shm", "mailbox", "vring", "buffers"},
    "virtio-mmio": {"driver", "device", "transport", "devices", "shm", "pool", "ipi"},
    "ivshmem": {"host", "remote", "doorbell", "vectors", "size", "vring", "buffers"},
}
# virtio-mmio keys that only the hvl transport takes
HVL_KEYS = ("device", "shm", "pool", "ipi")
IVSHMEM_VECTORS = 2             # Zephyr's CONFIG_IVSHMEM_MSI_X_VECTORS default


@dataclass
class Firmware:
    memory: str            # "tcm", "ddr" or a board memory name
    base: int = None
    size: int = None


@dataclass
class Carveout:
    name: str
    size: int
    base: int = None
    memory: str = None
    path: tuple = ()


@dataclass
class Domain:
    name: str
    os: str
    cores: list
    target: str = None
    mode: str = None
    loader: str = None
    firmware: Firmware = None
    trace: int = 0
    carveouts: list = field(default_factory=list)
    cluster: object = None       # boards.Cluster or None
    arch: str = None
    path: tuple = ()

    @property
    def core(self):
        return self.cores[0]


@dataclass
class Pool:
    name: str
    memory: str
    base: int = None
    size: int = None
    implicit: bool = False
    path: tuple = ()


@dataclass
class VirtioDevice:
    """One virtio device of a virtio-mmio link."""
    name: str
    type: str                  # canonical type name (virtio.TYPES)
    id: int                    # virtio device ID
    queues: int
    queue_size: int
    buffer_size: int
    slot: int = None           # native transport: QEMU's virtio-mmio-bus.<slot>
    path: tuple = ()


@dataclass
class Link:
    name: str
    type: str
    host: str = None
    remote: str = None
    shm: str = None
    mailbox: str = None
    vring_num: int = 8
    vring_align: int = 16
    buffer_count: int = None     # None: derived (2 x num, at most 512)
    buffer_size: int = 512
    raw: dict = field(default_factory=dict)
    path: tuple = ()
    # virtio-mmio
    transport: str = None        # native | hvl
    driver: str = None           # the Zephyr domain with the virtio drivers
    device: str = None           # hvl: the domain that runs the devices
    devices: list = field(default_factory=list)     # [VirtioDevice]
    pool: int = None             # hvl: bounce-buffer pool size, None: derived
    ipi: str = None              # hvl: board mailbox that carries the kicks
    # ivshmem
    doorbell: bool = False
    vectors: int = None
    size: int = None             # the shared-memory BAR, None: derived


@dataclass
class System:
    name: str
    board: object            # boards.Board
    source: Source
    description: str = ""
    domains: list = field(default_factory=list)
    pools: list = field(default_factory=list)
    links: list = field(default_factory=list)

    def domain(self, name):
        return next((d for d in self.domains if d.name == name), None)

    def pool(self, name):
        return next((p for p in self.pools if p.name == name), None)

    def error(self, path, what, fix="", cls=InputError, of_key=False):
        return self.source.error(path, what, fix, cls=cls, of_key=of_key)


def is_pow2(n):
    return n > 0 and n & (n - 1) == 0


def load_system(path, board_roots=(), display=None):
    """Read, schema-check and semantically check a system YAML."""
    src = Source(path, display=display)
    if not isinstance(src.data, dict):
        raise src.error((), "a system YAML is a map with name, board, domains and links",
                        "start from one of the files in systems/")
    schema.check(src, "system")
    return _Checker(src, board_roots).system()


class _Checker:
    def __init__(self, src, board_roots):
        self.src = src
        self.d = src.data
        self.board_roots = board_roots
        self.slots = {}          # driver domain -> slot -> (device, path, given automatically)
        self.hvl_drivers = {}    # driver domain -> path of its hvl link

    def err(self, path, what, fix="", of_key=False):
        return self.src.error(path, what, fix, of_key=of_key)

    def size(self, path, value, what="size"):
        try:
            n = parse_size(value)
        except ValueError as e:
            raise self.err(path, str(e), f"write a {what} such as 4096, 0x1000, 64K or 1M") from None
        if n >= MAX_ADDR:
            raise self.err(path, f"{n:#x} does not fit in 64 bits",
                           f"use a {what} below 0x10000000000000000")
        return n

    def system(self):
        d = self.d
        try:
            board = boards_mod.load_board(d["board"], self.board_roots)
        except LookupError:
            raise self.err(("board",), f"unknown board '{d['board']}'",
                           boards_mod.unknown_board_hint(d["board"], self.board_roots)) from None
        self.board = board
        system = System(d["name"], board, self.src, d.get("description", ""))
        self._domains(system)
        self._pools(system)
        self._links(system)
        return system

    # -- domains -----------------------------------------------------------

    def _domains(self, system):
        board = self.board
        seen, used = {}, {}
        if not self.d["domains"]:
            raise self.err(("domains",), "a system needs at least one domain",
                           "list the domains that run on the board")
        for i, dd in enumerate(self.d["domains"]):
            p = ("domains", i)
            name = dd["name"]
            if name == "shared":
                raise self.err(p + ("name",), "'shared' is the owner layout.json gives to "
                               "shared regions", "give the domain another name")
            if name in seen:
                raise self.err(p + ("name",), f"domain '{name}' is already defined "
                               f"(domains[{seen[name]}])", "give each domain its own name")
            seen[name] = i
            cores = dd["cores"]
            if not cores:
                raise self.err(p + ("cores",), "a domain needs at least one core",
                               "name one of: " + ", ".join(board.cores))
            clusters = set()
            for j, c in enumerate(cores):
                if c not in board.cores:
                    raise self.err(p + ("cores", j), f"board {board.name} has no core '{c}'",
                                   did_you_mean(c, board.cores) or
                                   "cores: " + ", ".join(board.cores))
                if c in used:
                    raise self.err(p + ("cores", j), f"core {c} is already used by domain "
                                   f"'{used[c]}'", "give each core to one domain")
                used[c] = name
                core = board.cores[c]
                if dd["os"] not in core.os:
                    raise self.err(p + ("os",), f"core {c} ({core.cpu}) does not run {dd['os']}",
                                   "it runs: " + ", ".join(core.os))
                clusters.add(core.cluster)
            if len(clusters) > 1:
                raise self.err(p + ("cores",), "the cores of one domain must be in one cluster, "
                               f"these are in {', '.join(sorted(clusters))}",
                               "split them into one domain per cluster")
            cluster = board.clusters.get(clusters.pop())
            first = board.cores[cores[0]]
            dom = Domain(name, dd["os"], list(cores), cluster=cluster, arch=first.arch, path=p)
            # cluster mode (split / lockstep)
            modes = cluster.modes if cluster else {}
            if "mode" in dd:
                if not modes:
                    raise self.err(p + ("mode",), f"cluster of {cores[0]} has no modes",
                                   "remove 'mode'")
                if dd["mode"] not in modes:
                    raise self.err(p + ("mode",), f"board {board.name} has no {dd['mode']} mode "
                                   f"for {cores[0]}", "use " + " or ".join(modes))
            if modes:
                dom.mode = dd.get("mode", cluster.default_mode)
                banks = modes[dom.mode]
                for c in cores:
                    if c not in banks:
                        raise self.err(p + ("cores",), f"in {dom.mode} mode core {c} is not a "
                                       "core of its own", f"use {', '.join(banks)}")
                if dom.mode == "lockstep":
                    for other in board.cores.values():
                        if other.cluster == cluster.name and other.name not in cores:
                            if other.name in used:
                                raise self.err(p + ("mode",), f"lockstep takes core {other.name}, "
                                               f"which domain '{used[other.name]}' uses",
                                               "use split mode")
                            used[other.name] = name
            # target
            if dd["os"] == "zephyr":
                dom.target = dd.get("target", first.zephyr_target)
                if not dom.target:
                    raise self.err(p, f"domain '{name}' needs a Zephyr board target",
                                   "add target: <board>")
            elif "target" in dd:
                raise self.err(p + ("target",), "only Zephyr domains take a board target",
                               "remove it", of_key=True)
            dom.loader = dd.get("loader") or (cluster.loader if cluster else None)
            # firmware
            fw = dd.get("firmware")
            if fw is not None and dd["os"] != "zephyr":
                raise self.err(p + ("firmware",), "only Zephyr domains have firmware that "
                               "amp-config places", "remove it", of_key=True)
            if fw is not None or dd["os"] == "zephyr":
                fw = fw or {}
                memory = fw.get("memory", "tcm" if modes else "ddr")
                if memory == "tcm" and not modes:
                    raise self.err(p + ("firmware", "memory"), f"core {cores[0]} has no TCM",
                                   "use memory: ddr")
                if memory not in ("tcm", "ddr") and not board.memory_named(memory):
                    raise self.err(p + ("firmware", "memory"), f"unknown memory '{memory}'",
                                   did_you_mean(memory, ["tcm", "ddr"] +
                                                [m.name for m in board.memory]) or
                                   "use tcm, ddr or one of: " +
                                   ", ".join(m.name for m in board.memory))
                dom.firmware = Firmware(memory)
                if "base" in fw:
                    dom.firmware.base = self.size(p + ("firmware", "base"), fw["base"], "address")
                if "size" in fw:
                    dom.firmware.size = self.size(p + ("firmware", "size"), fw["size"])
                    if dom.firmware.size == 0:
                        raise self.err(p + ("firmware", "size"), "firmware size is 0",
                                       "give the room the image needs, e.g. 1M")
                if memory == "tcm" and ("base" in fw or "size" in fw):
                    raise self.err(p + ("firmware", "base" if "base" in fw else "size"),
                                   "TCM firmware uses the TCM banks of its mode",
                                   "remove base and size, or use memory: ddr")
            if "trace" in dd:
                dom.trace = self.size(p + ("trace",), dd["trace"])
                if dom.trace == 0:
                    raise self.err(p + ("trace",), "a trace buffer of 0 bytes is ignored by "
                                   "both loaders", "give a size such as 4K, or remove trace")
                if dom.os != "zephyr":
                    raise self.err(p + ("trace",), "only a remote Zephyr domain has a trace "
                                   "buffer", "remove it", of_key=True)
            names = set()
            for j, cv in enumerate(dd.get("carveouts", [])):
                cp = p + ("carveouts", j)
                if cv["name"] in names:
                    raise self.err(cp + ("name",), f"carveout '{cv['name']}' is given twice",
                                   "give each carveout its own name")
                if _RESERVED_CARVEOUT.fullmatch(cv["name"]):
                    # the Linux overlay names nodes <domain>_<name>; remoteproc matches these
                    raise self.err(cp + ("name",), f"'{cv['name']}' is the name of a region "
                                   "amp-config makes for Linux remoteproc (firmware memory, "
                                   "vdevNvringM, vdevNbuffer)", "give the carveout another name")
                names.add(cv["name"])
                c = Carveout(cv["name"], self.size(cp + ("size",), cv["size"]), path=cp)
                if c.size == 0:
                    raise self.err(cp + ("size",), "carveout size is 0", "give its size")
                if "base" in cv:
                    c.base = self.size(cp + ("base",), cv["base"], "address")
                c.memory = cv.get("memory")
                if c.memory and not board.memory_named(c.memory):
                    raise self.err(cp + ("memory",), f"unknown memory '{c.memory}'",
                                   did_you_mean(c.memory, [m.name for m in board.memory]) or
                                   "use one of: " + ", ".join(m.name for m in board.memory))
                dom.carveouts.append(c)
            system.domains.append(dom)

    # -- shared memory -----------------------------------------------------

    def _pools(self, system):
        board = self.board
        seen = {}
        shared = [m for m in board.memory if m.shared]
        for i, pd in enumerate(self.d.get("shared-memory", [])):
            p = ("shared-memory", i)
            if pd["name"] in seen:
                raise self.err(p + ("name",), f"shared memory '{pd['name']}' is already defined "
                               f"(shared-memory[{seen[pd['name']]}])", "give each its own name")
            if system.domain(pd["name"]):
                raise self.err(p + ("name",), f"'{pd['name']}' is already a domain name",
                               "give the shared memory another name")
            seen[pd["name"]] = i
            memory = pd.get("memory", shared[0].name if shared else None)
            mem = board.memory_named(memory) if memory else None
            if mem is None:
                raise self.err(p + ("memory",), f"unknown memory '{memory}'",
                               did_you_mean(memory, [m.name for m in board.memory]) or
                               "use one of: " + ", ".join(m.name for m in board.memory))
            if not mem.shared:
                raise self.err(p + ("memory",), f"{memory} is not reachable by every core",
                               "use one of: " + ", ".join(m.name for m in shared))
            pool = Pool(pd["name"], memory, path=p)
            if "base" in pd:
                pool.base = self.size(p + ("base",), pd["base"], "address")
            if "size" in pd:
                pool.size = self.size(p + ("size",), pd["size"])
                if pool.size == 0:
                    raise self.err(p + ("size",), "size is 0",
                                   "give a size, or leave it out to have it computed")
            system.pools.append(pool)

    # -- links -------------------------------------------------------------

    def _links(self, system):
        seen = {}
        names = {d.name for d in system.domains}
        for i, ld in enumerate(self.d.get("links", [])):
            p = ("links", i)
            name, kind = ld["name"], ld["type"]
            if name in seen:
                raise self.err(p + ("name",), f"link '{name}' is already defined "
                               f"(links[{seen[name]}])", "give each link its own name")
            seen[name] = i
            for key in ld:
                if key not in ("name", "type") and key not in LINK_KEYS[kind]:
                    raise self.err(p + (key,), f"'{key}' does not apply to a {kind} link",
                                   "keys of a " + kind + " link: " +
                                   ", ".join(sorted(LINK_KEYS[kind])), of_key=True)
            link = Link(name, kind, raw=ld, path=p)
            for role in ("host", "remote"):
                if role in ld:
                    if ld[role] not in names:
                        raise self.err(p + (role,), f"no domain named '{ld[role]}'",
                                       did_you_mean(ld[role], names) or
                                       "domains: " + ", ".join(sorted(names)))
                    setattr(link, role, ld[role])
            if "shm" in ld:
                if not system.pool(ld["shm"]):
                    pools = [pl.name for pl in system.pools]
                    raise self.err(p + ("shm",), f"no shared memory named '{ld['shm']}'",
                                   did_you_mean(ld["shm"], pools) or
                                   ("shared-memory: " + ", ".join(pools) if pools else
                                    "declare it under shared-memory"))
                link.shm = ld["shm"]
            vring = ld.get("vring", {})
            if "num" in vring:
                link.vring_num = vring["num"]
                if not is_pow2(link.vring_num) or link.vring_num > VRING_NUM_MAX:
                    raise self.err(p + ("vring", "num"),
                                   f"{link.vring_num} is not a power of two up to {VRING_NUM_MAX}"
                                   if not is_pow2(link.vring_num) else
                                   f"{link.vring_num} is more than the {VRING_NUM_MAX} "
                                   "descriptors a vring can have",
                                   f"use {min(_near_pow2(link.vring_num), VRING_NUM_MAX)}")
            if "align" in vring:
                link.vring_align = self.size(p + ("vring", "align"), vring["align"], "alignment")
                if not is_pow2(link.vring_align) or link.vring_align < 4:
                    raise self.err(p + ("vring", "align"),
                                   f"{vring['align']} is not a power of two of at least 4",
                                   "use 16 (Zephyr) or 0x1000 (Linux page)")
            buffers = ld.get("buffers", {})
            if "count" in buffers:
                link.buffer_count = buffers["count"]
                if link.buffer_count <= 0:
                    raise self.err(p + ("buffers", "count"), "buffer count must be positive",
                                   f"use {2 * link.vring_num}")
            if "size" in buffers:
                link.buffer_size = self.size(p + ("buffers", "size"), buffers["size"])
                if link.buffer_size < 32 or link.buffer_size % 16:
                    raise self.err(p + ("buffers", "size"),
                                   f"{buffers['size']} is not a usable rpmsg buffer size",
                                   "use a multiple of 16 of at least 32; Linux uses 512")
            check = getattr(self, "_link_" + kind.replace("-", "_"))
            check(system, link, ld, p)
            system.links.append(link)

    def _link_rpmsg(self, system, link, ld, p):
        for role in ("host", "remote"):
            if getattr(link, role) is None:
                raise self.err(p, f"an rpmsg link needs a {role} domain", f"add {role}: <domain>")
        if link.host == link.remote:
            raise self.err(p + ("remote",), "host and remote are the same domain",
                           "an rpmsg link joins two domains")
        remote = system.domain(link.remote)
        host = system.domain(link.host)
        if self.board.instance_per_domain:
            raise self.err(p + ("type",), f"on board {self.board.name} every domain is its own "
                           f"QEMU instance, so {host.name} and {remote.name} share no memory "
                           "for vrings", "use a link of type ivshmem between them")
        if remote.os != "zephyr":
            raise self.err(p + ("remote",), f"remote '{remote.name}' runs {remote.os}; this tool "
                           "generates remote firmware files for Zephyr only",
                           "make a Zephyr domain the remote")
        if host.os == "linux" and link.buffer_size != 512:
            raise self.err(p + ("buffers", "size"), "Linux's virtio_rpmsg_bus uses 512-byte "
                           "buffers (MAX_RPMSG_BUF_SIZE)", "use 512 or remove it")
        # virtio_rpmsg_bus allocates min(2 x num, 512) buffers from vdevNbuffer in one go
        linux_count = min(2 * link.vring_num, 512)
        if host.os == "linux" and link.buffer_count is not None \
                and link.buffer_count < linux_count:
            raise self.err(p + ("buffers", "count"), f"Linux's virtio_rpmsg_bus allocates "
                           f"{linux_count} buffers for {link.vring_num}-entry vrings; a pool "
                           f"of {link.buffer_count} makes its probe fail",
                           f"use {linux_count} or remove count")
        if "mailbox" in ld:
            names = [m.name for m in self.board.mailboxes]
            if ld["mailbox"] not in names:
                raise self.err(p + ("mailbox",), f"board {self.board.name} has no mailbox "
                               f"'{ld['mailbox']}'", did_you_mean(ld["mailbox"], names) or
                               ("mailboxes: " + ", ".join(names) if names else
                                "this board has no mailboxes"))
            link.mailbox = ld["mailbox"]
        else:
            mb = self.board.mailbox_between(remote.core, self.board.agents(host.cores))
            link.mailbox = mb.name if mb else None
        if link.mailbox is None and self.board.mailboxes:
            raise self.err(p, f"board {self.board.name} has no mailbox between "
                           f"{remote.core} and {host.name}", "name one with mailbox:")

    # -- virtio-mmio -------------------------------------------------------

    def _domain_ref(self, system, p, key, ld, what):
        """The domain ld[key] names; an error when it is missing or unknown."""
        if key not in ld:
            raise self.err(p, f"{what} needs a {key} domain", f"add {key}: <domain>")
        dom = system.domain(ld[key])
        if dom is None:
            names = [d.name for d in system.domains]
            raise self.err(p + (key,), f"no domain named '{ld[key]}'",
                           did_you_mean(ld[key], names) or "domains: " + ", ".join(sorted(names)))
        return dom

    def _link_virtio_mmio(self, system, link, ld, p):
        link.transport = ld.get("transport", "native")
        driver = self._domain_ref(system, p, "driver", ld, "a virtio-mmio link")
        if driver.os != "zephyr":
            raise self.err(p + ("driver",), f"driver '{driver.name}' runs {driver.os}; this "
                           "tool generates virtio driver files for Zephyr only",
                           "make a Zephyr domain the driver")
        link.driver = driver.name
        if not ld.get("devices"):
            raise self.err(p + ("devices",) if "devices" in ld else p,
                           "a virtio-mmio link needs at least one device",
                           "add devices: [{name: rng0, type: entropy}]")
        self._virtio_devices(link, ld, p)
        if link.transport == "native":
            self._virtio_native(link, ld, p, driver)
        else:
            self._virtio_hvl(system, link, ld, p, driver)

    def _virtio_devices(self, link, ld, p):
        seen = {}
        for j, dd in enumerate(ld["devices"]):
            dp = p + ("devices", j)
            name = dd["name"]
            if name in seen:
                raise self.err(dp + ("name",), f"device '{name}' is already in this link "
                               f"(devices[{seen[name]}])", "give each device its own name")
            seen[name] = j
            t = virtio.device_type(dd["type"])
            if t is None:
                raise self.err(dp + ("type",), f"unknown virtio device type '{dd['type']}'",
                               did_you_mean(dd["type"], virtio.known_names()) or
                               "use one of: " + ", ".join(virtio.known_names()))
            queues = dd.get("queues", len(t.queues))
            if queues < len(t.queues):
                raise self.err(dp + ("queues",), f"a {t.name} device needs at least "
                               f"{len(t.queues)} queue{'s' if len(t.queues) > 1 else ''} "
                               f"({', '.join(t.queues)})", f"use {len(t.queues)} or more")
            qsize = dd.get("queue-size", virtio.DEFAULT_QUEUE_SIZE)
            if not is_pow2(qsize) or qsize > virtio.QUEUE_SIZE_MAX:
                raise self.err(dp + ("queue-size",), f"{qsize} is not a power of two up to "
                               f"{virtio.QUEUE_SIZE_MAX}",
                               f"use {min(_near_pow2(qsize), virtio.QUEUE_SIZE_MAX)}")
            bsize = t.buffer_size
            if "buffer-size" in dd:
                bsize = self.size(dp + ("buffer-size",), dd["buffer-size"])
                if bsize == 0:
                    raise self.err(dp + ("buffer-size",), "buffer-size is 0",
                                   f"give the bytes one descriptor carries, e.g. {t.buffer_size}")
            link.devices.append(VirtioDevice(name, t.name, t.id, queues, qsize, bsize,
                                             dd.get("slot"), dp))

    def _virtio_native(self, link, ld, p, driver):
        board = self.board
        for key in HVL_KEYS:
            if key in ld:
                raise self.err(p + (key,), f"'{key}' applies to transport: hvl only; on the "
                               "native transport QEMU provides the devices",
                               "remove it, or use transport: hvl", of_key=True)
        vm = board.virtio_mmio
        if vm is None:
            raise self.err(p + ("transport",) if "transport" in ld else p,
                           f"board {board.name} has no virtio-mmio transports of its own",
                           "use transport: hvl (virtio-mmio windows in shared memory)")
        taken = self.slots.setdefault(driver.name, {})
        last = vm["slots"] - 1
        for dev in link.devices:
            if dev.slot is None:
                continue
            sp = dev.path + ("slot",)
            if not 0 <= dev.slot <= last:
                raise self.err(sp, f"slot {dev.slot} is out of range: board {board.name} has "
                               f"{vm['slots']} virtio-mmio transports",
                               f"use a slot from 0 to {last}, or leave slot out")
            if dev.slot in taken:
                other, path, auto = taken[dev.slot]
                raise self.err(sp, f"slot {dev.slot} of domain {driver.name} is already taken "
                               f"by device {other} ({key_text(path)}"
                               f"{', given it automatically' if auto else ''})",
                               "give each device its own slot, or leave slot out")
            taken[dev.slot] = (dev.name, dev.path, False)
        for dev in link.devices:
            if dev.slot is None:
                free = next((n for n in range(vm["slots"]) if n not in taken), None)
                if free is None:
                    raise self.err(dev.path, f"no virtio-mmio slot is left for device "
                                   f"{dev.name}: domain {driver.name} uses all {vm['slots']}",
                                   "remove devices")
                dev.slot = free
                taken[free] = (dev.name, dev.path, True)

    def _virtio_hvl(self, system, link, ld, p, driver):
        board = self.board
        for dev in link.devices:
            if dev.slot is not None:
                raise self.err(dev.path + ("slot",), "'slot' applies to the native transport "
                               "only; HVL windows follow each other from the start of the "
                               "shared region", "remove it", of_key=True)
        if driver.name in self.hvl_drivers:
            raise self.err(p + ("driver",), f"domain {driver.name} already drives the hvl link "
                           f"{key_text(self.hvl_drivers[driver.name])}; the HVL code has one "
                           "shared region (__shmem0_*)", "put all its devices in that link")
        self.hvl_drivers[driver.name] = p
        device = self._domain_ref(system, p, "device", ld, "an hvl link")
        if device.name == driver.name:
            raise self.err(p + ("device",), "driver and device are the same domain",
                           "the device side runs on the other OS")
        if device.os != "linux":
            raise self.err(p + ("device",), f"device '{device.name}' runs {device.os}; this "
                           "tool writes the HVL device side (overlay and device file) for "
                           "Linux only", "make a Linux domain the device")
        link.device = device.name
        if board.instance_per_domain:
            raise self.err(p + ("transport",), f"on board {board.name} every domain is its own "
                           "QEMU instance, so driver and device share no memory",
                           "use an ivshmem link, or transport: native")
        link.ipi = self._hvl_ipi(link, ld, p, driver, device).name
        if link.shm:
            for k, other in enumerate(self.d.get("links", [])):
                if other is not ld and other.get("shm") == link.shm:
                    a, b = sorted((p[1], k))
                    raise self.err(("links", b, "shm"), f"shared memory {link.shm} is the "
                                   f"pre-shared region of hvl link links[{a}] and also used "
                                   f"by links[{b}]; HVL takes the whole region",
                                   "give each link its own shared memory")
        if "pool" in ld:
            link.pool = self.size(p + ("pool",), ld["pool"])
            if link.pool == 0:
                raise self.err(p + ("pool",), "pool size is 0", "leave pool out to have the "
                               "bounce-buffer pool sized from the queues")

    def _hvl_ipi(self, link, ld, p, driver, device):
        """The board mailbox that carries an HVL link's kicks."""
        board = self.board
        names = [m.name for m in board.mailboxes]
        if "ipi" in ld:
            mb = next((m for m in board.mailboxes if m.name == ld["ipi"]), None)
            if mb is None:
                raise self.err(p + ("ipi",), f"board {board.name} has no mailbox '{ld['ipi']}'",
                               did_you_mean(ld["ipi"], names) or
                               ("mailboxes: " + ", ".join(names) if names else
                                "this board has no mailboxes"))
            if driver.core not in mb.between:
                raise self.err(p + ("ipi",), f"mailbox {mb.name} does not reach {driver.core}, "
                               f"the core of driver {driver.name}",
                               "name a mailbox between the driver and the device")
            if not any(x in mb.between for x in board.agents(device.cores)):
                raise self.err(p + ("ipi",), f"mailbox {mb.name} does not reach device "
                               f"{device.name}", "name a mailbox between the driver and the "
                               "device")
        else:
            mb = board.mailbox_between(driver.core, board.agents(device.cores))
            if mb is None:
                raise self.err(p, f"HVL kicks go through an IPI, and board {board.name} has no "
                               f"mailbox between {driver.core} (driver {driver.name}) and "
                               f"{device.name}", "name one with ipi:" if names else
                               "use a board with inter-processor interrupts")
        if not mb.zephyr_label:
            raise self.err(p + ("ipi",) if "ipi" in ld else p, f"mailbox {mb.name} has no "
                           "Zephyr node for the driver side", "name another mailbox with ipi:")
        return mb

    # -- ivshmem -------------------------------------------------------------

    def _link_ivshmem(self, system, link, ld, p):
        board = self.board
        for role in ("host", "remote"):
            if getattr(link, role) is None:
                raise self.err(p, f"an ivshmem link needs a {role} domain",
                               f"add {role}: <domain>")
        if link.host == link.remote:
            raise self.err(p + ("remote",), "host and remote are the same domain",
                           "an ivshmem link joins two QEMU instances")
        if not (board.instance_per_domain and board.ivshmem):
            raise self.err(p + ("type",), "ivshmem joins two QEMU instances, and on board "
                           f"{board.name} the domains are not QEMU instances of their own",
                           "use an rpmsg link, or a board with one QEMU per domain "
                           "(qemu_cortex_a53)")
        for role in ("host", "remote"):
            dom = system.domain(getattr(link, role))
            if dom.os != "zephyr":
                raise self.err(p + (role,), f"{role} '{dom.name}' runs {dom.os}; this tool "
                               "generates ivshmem files for Zephyr only",
                               "make it a Zephyr domain")
        link.doorbell = bool(ld.get("doorbell", False))
        if "vectors" in ld:
            if not link.doorbell:
                raise self.err(p + ("vectors",), "vectors are the doorbell's MSI-X interrupts "
                               "and this link has no doorbell",
                               "remove vectors, or add doorbell: true", of_key=True)
            if not 1 <= ld["vectors"] <= 64:
                raise self.err(p + ("vectors",), f"{ld['vectors']} vectors: ivshmem-server "
                               "gives each peer from 1 to 64", f"use {IVSHMEM_VECTORS}")
            link.vectors = ld["vectors"]
        elif link.doorbell:
            link.vectors = IVSHMEM_VECTORS
        if "size" in ld:
            link.size = self.size(p + ("size",), ld["size"])
            if not is_pow2(link.size):
                up = 1 << max(link.size - 1, 1).bit_length()
                raise self.err(p + ("size",), f"{ld['size']} is not a power of two; QEMU maps "
                               "the shared memory as a PCI BAR", f"use {up:#x}")
        if link.buffer_count is not None and link.buffer_count < link.vring_num:
            raise self.err(p + ("buffers", "count"), f"the OpenAMP host hands the remote "
                           f"{link.vring_num} receive buffers up front; {link.buffer_count} "
                           "buffers are not enough", f"use {2 * link.vring_num}")


def _near_pow2(n):
    if n <= 1:
        return 1
    lo = 1 << (n.bit_length() - 1)
    return lo if n - lo <= 2 * lo - n else 2 * lo
