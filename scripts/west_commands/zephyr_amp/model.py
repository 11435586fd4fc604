"""System YAML -> validated System.

Structure is checked by schema/system.yaml (pykwalify) with each link kind's keys
merged in (links/); meaning is checked here for domains and shared memory, and by
each link kind for its links: names that must refer to something, cores that
must exist and be free, numbers that must be powers of two. Every error points
at the YAML key it is about. Nothing here assigns addresses: that is layout.py's
job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from os import PathLike
from typing import Iterable, Optional, Union

from . import boards as boards_mod
from . import links as links_mod
from . import schema
from . import zephyr_version as zephyr_version_mod
from .errors import AmpError, InputError
from .links.base import CheckContext
from .source import Source, did_you_mean

_RESERVED_CARVEOUT = re.compile(r"memory|r5f|vdev[0-9]+(buffer|vring[0-9]+)")
_DT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")
_RESERVED_DT_NAME = re.compile(r"vdev[0-9]+(buffer|vring[0-9]+)")
_TRACE_NAME = re.compile(r"[ !#-\[\]-~]{1,31}")     # printable, no '"' or '\\'
TRACE_NAME = "Zephyr_log"
LOCKSTEP_DEFAULT = "a domain without mode: is lockstep and takes both cores"


@dataclass
class Firmware:
    """Where a Zephyr domain's image goes: a memory and, optionally, base and size."""
    memory: str            # "tcm", "ddr" or a board memory name
    base: int = None
    size: int = None
    table: int = None      # the resource table's address in the remote's view (fixed)


@dataclass
class Carveout:
    """An extra carveout of a domain, as a resource-table entry."""
    name: str
    size: int
    base: int = None
    memory: str = None
    path: tuple = ()
    dt_name: str = None      # the reserved-memory node name (default: name)
    in_table: bool = True    # False: Linux maps it (memory-region), no table entry


@dataclass
class Domain:
    """One OS instance of the system: its cores, mode, loader, firmware."""
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
    trace_name: str = None       # the trace entry's name (default Zephyr_log)
    arch: str = None
    path: tuple = ()

    @property
    def core(self) -> str:
        return self.cores[0]


@dataclass
class Pool:
    """A shared-memory pool that links are placed in."""
    name: str
    memory: str
    base: int = None
    size: int = None
    path: tuple = ()


@dataclass
class System:
    """The checked system YAML: board, domains, pools and links."""
    name: str
    board: object            # boards.Board
    source: Source
    description: str = ""
    domains: list = field(default_factory=list)
    pools: list = field(default_factory=list)
    links: list = field(default_factory=list)       # link records (links/)
    zephyr_version: str = zephyr_version_mod.DEFAULT  # the Zephyr the files target

    def domain(self, name: str) -> Optional[Domain]:
        return next((d for d in self.domains if d.name == name), None)

    def pool(self, name: str) -> Optional[Pool]:
        return next((p for p in self.pools if p.name == name), None)

    def error(self, path: tuple, what: str, fix: str = "", cls: type = InputError,
              of_key: bool = False) -> AmpError:
        return self.source.error(path, what, fix, cls=cls, of_key=of_key)


def system_schema() -> dict:
    """schema/system.yaml with the keys of every registered link kind."""
    return links_mod.system_schema(schema.load_schema("system"))


def load_system(path: Union[str, PathLike], board_roots: Iterable = (),
                display: Optional[str] = None,
                zephyr_version: str = zephyr_version_mod.DEFAULT) -> System:
    """Read, schema-check and semantically check a system YAML, for the Zephyr version
    its files will target ('MAJOR.MINOR', one of zephyr_version.SUPPORTED)."""
    zephyr_version = zephyr_version_mod.check(zephyr_version)
    src = Source(path, display=display)
    if not isinstance(src.data, dict):
        raise src.error((), "a system YAML is a map with name, board, domains and links",
                        "start from one of the files in systems/")
    schema.check(src, "system", schema_data=system_schema())
    return Checker(src, board_roots, zephyr_version).system()


class Checker:
    """The semantic checks of domains and shared memory; links go to their kinds."""

    def __init__(self, src: Source, board_roots=(), zephyr_version: str = "4.4"):
        self.src = src
        self.zephyr_version = zephyr_version
        self.d = src.data
        self.board_roots = board_roots
        self.ctx = None

    def err(self, path: tuple, what: str, fix: str = "", of_key: bool = False) -> InputError:
        return self.src.error(path, what, fix, of_key=of_key)

    def size(self, path: tuple, value: object, what: str = "size") -> int:
        return self.ctx.size(path, value, what)

    def system(self) -> System:
        d = self.d
        try:
            board = boards_mod.load_board(d["board"], self.board_roots).for_zephyr(
                self.zephyr_version)
        except LookupError:
            raise self.err(("board",), f"unknown board '{d['board']}'",
                           boards_mod.unknown_board_hint(d["board"], self.board_roots)) from None
        self.board = board
        system = System(d["name"], board, self.src, d.get("description", ""),
                        zephyr_version=self.zephyr_version)
        self.ctx = CheckContext(self.src, board, system)
        self._domains(system)
        self._pools(system)
        self._links(system)
        return system

    # -- domains -----------------------------------------------------------

    def _domains(self, system: System) -> None:
        seen, used = {}, {}
        self.by_default = set()      # domains that are lockstep because they give no mode
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
            dom = self._cores(dd, p, used)
            self._mode(dom, dd, p, used)
            self._target(dom, dd, p)
            dom.loader = dd.get("loader") or (dom.cluster.loader if dom.cluster else None)
            self._firmware(dom, dd, p)
            self._trace(dom, dd, p)
            self._carveouts(dom, dd, p)
            system.domains.append(dom)

    def _cores(self, dd: dict, p: tuple, used: dict) -> Domain:
        board = self.board
        cores = dd["cores"]
        if not cores:
            raise self.err(p + ("cores",), "a domain needs at least one core",
                           "name one of: " + ", ".join(board.cores))
        clusters = set()
        for j, c in enumerate(cores):
            if c not in board.cores:
                raise self.err(p + ("cores", j), f"board {board.name} has no core '{c}'",
                               did_you_mean(c, board.cores) or "cores: " + ", ".join(board.cores))
            if c in used:
                owner = used[c]
                if owner in self.by_default:
                    raise self.err(p + ("cores", j), f"core {c} is already used by domain "
                                   f"'{owner}' ({LOCKSTEP_DEFAULT})",
                                   f"write mode: split in domain '{owner}'")
                raise self.err(p + ("cores", j), f"core {c} is already used by domain "
                               f"'{owner}'", "give each core to one domain")
            used[c] = dd["name"]
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
        return Domain(dd["name"], dd["os"], list(cores), cluster=cluster,
                      arch=board.cores[cores[0]].arch, path=p)

    def _mode(self, dom: Domain, dd: dict, p: tuple, used: dict) -> None:
        """Cluster mode (split / lockstep); lockstep takes the cluster's other cores."""
        board, cluster, cores = self.board, dom.cluster, dom.cores
        modes = cluster.modes if cluster else {}
        if "mode" in dd:
            if not modes:
                raise self.err(p + ("mode",), f"cluster of {cores[0]} has no modes",
                               "remove 'mode'")
            if dd["mode"] not in modes:
                raise self.err(p + ("mode",), f"board {board.name} has no {dd['mode']} mode "
                               f"for {cores[0]}", "use " + " or ".join(modes))
        if not modes:
            return
        dom.mode = dd.get("mode", cluster.default_mode)
        banks = modes[dom.mode]
        for c in cores:
            if c not in banks:
                raise self.err(p + ("cores",), f"in {dom.mode} mode core {c} is not a "
                               "core of its own", f"use {', '.join(banks)}")
        if dom.mode != "lockstep":
            return
        if "mode" not in dd:
            self.by_default.add(dom.name)
        for other in board.cores.values():
            if other.cluster == cluster.name and other.name not in cores:
                if other.name in used:
                    if "mode" not in dd:
                        raise self.err(p, f"domain '{dom.name}' gives no mode: and so is "
                                       f"lockstep, which takes core {other.name}, and domain "
                                       f"'{used[other.name]}' uses it", "write mode: split")
                    raise self.err(p + ("mode",), f"lockstep takes core {other.name}, "
                                   f"which domain '{used[other.name]}' uses", "use split mode")
                used[other.name] = dom.name

    def _target(self, dom: Domain, dd: dict, p: tuple) -> None:
        if dd["os"] == "zephyr":
            dom.target = dd.get("target", self.board.cores[dom.core].zephyr_target)
            if not dom.target:
                raise self.err(p, f"domain '{dom.name}' needs a Zephyr board target",
                               "add target: <board>")
        elif "target" in dd:
            raise self.err(p + ("target",), "only Zephyr domains take a board target",
                           "remove it", of_key=True)

    def _firmware(self, dom: Domain, dd: dict, p: tuple) -> None:
        board = self.board
        fw = dd.get("firmware")
        if fw is not None and dd["os"] != "zephyr":
            raise self.err(p + ("firmware",), "only Zephyr domains have firmware that "
                           "amp-config places", "remove it", of_key=True)
        if fw is None and dd["os"] != "zephyr":
            return
        fw = fw or {}
        has_tcm = bool(dom.cluster and dom.cluster.modes)
        memory = fw.get("memory", "tcm" if has_tcm else "ddr")
        fp = p + ("firmware",)
        if memory == "tcm" and not has_tcm:
            raise self.err(fp + ("memory",), f"core {dom.core} has no TCM", "use memory: ddr")
        if memory not in ("tcm", "ddr") and not board.memory_named(memory):
            names = [m.name for m in board.memory]
            raise self.err(fp + ("memory",), f"unknown memory '{memory}'",
                           did_you_mean(memory, ["tcm", "ddr"] + names) or
                           "use tcm, ddr or one of: " + ", ".join(names))
        dom.firmware = Firmware(memory)
        if "base" in fw:
            dom.firmware.base = self.size(fp + ("base",), fw["base"], "address")
        if "size" in fw:
            dom.firmware.size = self.size(fp + ("size",), fw["size"])
            if dom.firmware.size == 0:
                raise self.err(fp + ("size",), "firmware size is 0",
                               "give the room the image needs, e.g. 1M")
        if "table" in fw:
            self._fixed_table(dom, fw, fp)
        if memory == "tcm" and ("base" in fw or "size" in fw):
            raise self.err(fp + ("base" if "base" in fw else "size",),
                           "TCM firmware uses the TCM banks of its mode",
                           "remove base and size, or use memory: ddr")

    def _trace(self, dom: Domain, dd: dict, p: tuple) -> None:
        if "trace" not in dd:
            return
        value, vp = dd["trace"], p + ("trace",)
        if isinstance(value, dict):
            value, vp = self._trace_map(dom, value, vp)
        dom.trace = self.size(vp, value)
        if dom.trace == 0:
            raise self.err(vp, "a trace buffer of 0 bytes is ignored by "
                           "both loaders", "give a size such as 4K, or remove trace")
        if dom.os != "zephyr":
            raise self.err(p + ("trace",), "only a remote Zephyr domain has a trace "
                           "buffer", "remove it", of_key=True)

    def _carveouts(self, dom: Domain, dd: dict, p: tuple) -> None:
        board = self.board
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
            self._carveout_extensions(c, cv, cp)
            c.memory = cv.get("memory")
            if c.memory and not board.memory_named(c.memory):
                raise self.err(cp + ("memory",), f"unknown memory '{c.memory}'",
                               did_you_mean(c.memory, [m.name for m in board.memory]) or
                               "use one of: " + ", ".join(m.name for m in board.memory))
            dom.carveouts.append(c)

    def _fixed_table(self, dom: Domain, fw: dict, fp: tuple) -> None:
        """firmware.table: ADDR, where a hand-linked firmware has its .resource_table."""
        addr = dom.firmware.table = self.size(fp + ("table",), fw["table"], "address")
        if addr % 8:
            raise self.err(fp + ("table",), f"{addr:#x} is not 8-byte aligned (the table's "
                           "entries are 32- and 64-bit words)",
                           f"use {addr - addr % 8:#x} or {addr - addr % 8 + 8:#x}")

    def _trace_map(self, dom: Domain, tr: dict, tp: tuple) -> tuple:
        """trace: {size: SIZE, name: NAME}: a trace entry not named Zephyr_log.
        -> (the size's value, its path)"""
        for key in tr:
            if key not in ("size", "name"):
                raise self.err(tp + (key,), f"unknown key '{key}' in trace",
                               did_you_mean(key, ["size", "name"]) or
                               "trace: {size: SIZE, name: NAME}", of_key=True)
        if "size" not in tr:
            raise self.err(tp, "trace: {...} needs a size", "add size: 4K")
        name = tr.get("name", TRACE_NAME)
        if not isinstance(name, str) or not _TRACE_NAME.fullmatch(name):
            raise self.err(tp + ("name",), f"{name!r} is not a resource-table entry name "
                           "(1 to 31 printable ASCII characters, no quote or backslash: "
                           "the entry's name is char[32])", f"use e.g. {TRACE_NAME}")
        dom.trace_name = name if name != TRACE_NAME else None
        return tr["size"], tp + ("size",)

    def _carveout_extensions(self, c: Carveout, cv: dict, cp: tuple) -> None:
        """dt-name and in-table of a carveout (hand-written trees: memory@3ed00000)."""
        if "dt-name" in cv:
            c.dt_name = cv["dt-name"]
            if not _DT_NAME.fullmatch(c.dt_name):
                raise self.err(cp + ("dt-name",), f"{c.dt_name!r} is not a reserved-memory "
                               "node name amp-config writes: 1 to 31 lowercase letters, "
                               "digits, '_' and '-', starting with a letter (the unit "
                               "address @<base> is added)", "e.g. memory")
            if _RESERVED_DT_NAME.fullmatch(c.dt_name):
                raise self.err(cp + ("dt-name",), f"'{c.dt_name}' is a name Linux remoteproc "
                               "gives vrings and rpmsg buffers (vdevNvringM, vdevNbuffer)",
                               "give the node another name")
        c.in_table = cv.get("in-table", True)

    # -- shared memory -----------------------------------------------------

    def _pools(self, system: System) -> None:
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

    def _links(self, system: System) -> None:
        """Names unique and keys of the link's type; the rest is its kind's."""
        seen = {}
        for i, ld in enumerate(self.d.get("links", [])):
            p = ("links", i)
            name, type_ = ld["name"], ld["type"]
            if name in seen:
                raise self.err(p + ("name",), f"link '{name}' is already defined "
                               f"(links[{seen[name]}])", "give each link its own name")
            seen[name] = i
            keys = links_mod.keys_of_type(type_)
            for key in ld:
                if key not in ("name", "type") and key not in keys:
                    raise self.err(p + (key,), f"'{key}' does not apply to a {type_} link",
                                   "keys of a " + type_ + " link: " +
                                   ", ".join(sorted(keys)), of_key=True)
            kind = links_mod.kind_for(type_, ld.get("transport"))
            system.links.append(kind.check(self.ctx, ld, p))
            self._zephyr_has(kind, system, ld, p)

    def _zephyr_has(self, kind, system: System, ld: dict, p: tuple) -> None:
        """A link whose kind needs what the targeted Zephyr lacks (kind.zephyr_needs)."""
        need = kind.zephyr_needs
        zephyr = [d for d in kind.domains(system.links[-1])
                  if system.domain(d) and system.domain(d).os == "zephyr"]
        if need and zephyr and not zephyr_version_mod.at_least(system.zephyr_version,
                                                                need[0]):
            key = "transport" if "transport" in ld else "type"
            raise self.err(p + (key,), f"link '{ld['name']}' needs {need[1]}, which "
                           f"Zephyr {system.zephyr_version} (the targeted Zephyr) does not "
                           f"have (domain {zephyr[0]})",
                           f"target Zephyr {'.'.join(map(str, need[0]))} or later "
                           f"(--zephyr-version, or a workspace of that Zephyr)")
