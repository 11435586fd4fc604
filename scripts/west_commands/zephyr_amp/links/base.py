"""The link-kind interface, and the typed records the stages hand each other.

A link kind is one class (one file in this package) that owns everything about
one YAML link `type` (and `transport`):

    schema          pykwalify rules of the keys the kind accepts (merged into
                    schema/system.yaml's links mapping)
    check()         semantic checks: YAML map -> frozen link record (model stage)
    place()         regions it needs and where they go (layout stage); links in a
                    shared-memory pool are placed by place_in_pool()
    zephyr()        what it adds to a Zephyr domain's files (overlay nodes and
                    chosen properties, Kconfig options, header defines, linker
                    sections, extra files, QEMU arguments)
    linux()         what it adds to a Linux domain's overlay
    run()           system-wide runtime files (servers a QEMU run needs)
                    (these three return the records of outputs.py)
    layout_class    its LinkLayout subclass: layout.json fields and from_json()

Core modules (model.py, layout.py, render.py) call these and never ask what
type a link is. See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from ..source import did_you_mean, parse_size

if TYPE_CHECKING:
    from ..boards import Mailbox
    from ..errors import InputError
    from ..layout import DomainLayout, Layout, Placer
    from ..model import Domain
    from .outputs import Linux, Run, Zephyr

MAX_ADDR = 1 << 64
VRING_NUM_MAX = 32768
ALIGN_MAX = 1 << 31         # the largest power of two in fw_rsc_vdev_vring's uint32 align


def is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def near_pow2(n: int) -> int:
    """The power of two nearest to n (the lower one on a tie)."""
    if n <= 1:
        return 1
    lo = 1 << (n.bit_length() - 1)
    return lo if n - lo <= 2 * lo - n else 2 * lo


def pow2_at_least(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


# -- model records -------------------------------------------------------------

@dataclass(frozen=True)
class LinkRecord:
    """What every validated link has. Kinds subclass it with their own fields."""
    name: str
    type: str
    path: tuple = ()
    shm: Optional[str] = None       # the shared-memory pool the link is placed in


# -- the kind ------------------------------------------------------------------

class LinkKind:
    """Base of every link kind. Subclasses set the class attributes and override
    what they need; the defaults contribute nothing."""
    type: ClassVar[str] = ""
    transport: ClassVar[Optional[str]] = None   # None: the type has one kind
    default: ClassVar[bool] = True               # the kind when transport is left out
    schema: ClassVar[dict] = {}                  # key -> pykwalify rule
    phase: ClassVar[int] = 50                    # placement order (lower first)
    order: ClassVar[int] = 50                    # order of contributions in outputs
    takes_shm_whole: ClassVar[bool] = False      # its shm pool is its region alone
    layout_class: ClassVar[Any] = None           # its layout.LinkLayout subclass
    # ((major, minor), what) when the kind needs a Zephyr of at least that version on
    # its Zephyr domains: model.py stops at the link otherwise
    zephyr_needs: ClassVar[Optional[tuple]] = None

    @property
    def keys(self) -> frozenset:
        return frozenset(self.schema)

    def __repr__(self) -> str:
        return f"<link kind {self.type}{'/' + self.transport if self.transport else ''}>"

    # model
    def check(self, ctx: "CheckContext", ld: dict, path: tuple) -> LinkRecord:
        raise NotImplementedError

    def domains(self, link: LinkRecord) -> tuple:
        """The domains the link joins."""
        return tuple(d for d in (getattr(link, "host", None), getattr(link, "remote", None))
                     if d)

    def roles(self, link: LinkRecord) -> dict:
        """{"host": domain, "remote": domain} for the domains' roles in layout.json."""
        return {r: getattr(link, r) for r in ("host", "remote") if getattr(link, r, None)}

    # layout
    def vdevs_for(self, link: LinkRecord, domain: str) -> int:
        """Resource-table vdev entries the link puts in a domain's table."""
        return 0

    def shm_need(self, placer: Placer, link: LinkRecord) -> int:
        """Bytes the link takes inside its shared-memory pool."""
        return 0

    def shm_size(self, placer: Placer, link: LinkRecord) -> int:
        """takes_shm_whole kinds: the size of the pool it needs."""
        raise NotImplementedError

    def reserve(self, placer: Placer, link: LinkRecord) -> None:
        """Before anything is allocated: reserve the ranges the YAML pins (base:)."""

    def place(self, placer: Placer, link: LinkRecord) -> None:
        """Place a link that is not inside a shared pool."""

    def place_in_pool(self, placer: Placer, link: LinkRecord, base: int, pool: str) -> int:
        """Place a link inside a pool from base; returns the end."""
        raise NotImplementedError

    def finish(self, placer: Placer, layouts: list) -> None:
        """After every link is placed: numbering across this kind's links."""

    def qemu_order(self, link: LinkRecord) -> tuple:
        """(domains that must start first, domains that start after them)."""
        return (), ()

    # render
    def zephyr(self, layout: Layout, dl: DomainLayout, layouts: list) -> Optional[Zephyr]:
        return None

    def linux(self, layout: Layout, dl: DomainLayout, layouts: list) -> Optional[Linux]:
        return None

    def run(self, layout: Layout, layouts: list) -> Optional[Run]:
        return None


# -- the model stage's view for kinds ----------------------------------------

class CheckContext:
    """What a kind's check() gets: errors at YAML positions, sizes, the board, the
    domains and pools checked so far, the raw links, and a memo shared by all
    links of a system (for checks across links)."""

    def __init__(self, src, board, system):
        self.src = src
        self.board = board
        self.system = system
        self.raw_links = src.data.get("links", []) or []
        self.memo = {}

    def err(self, path: tuple, what: str, fix: str = "", of_key: bool = False) -> InputError:
        return self.src.error(path, what, fix, of_key=of_key)

    def size(self, path: tuple, value: object, what: str = "size") -> int:
        try:
            n = parse_size(value)
        except ValueError as e:
            raise self.err(path, str(e), f"write a {what} such as 4096, 0x1000, 64K or 1M") \
                from None
        if n >= MAX_ADDR:
            raise self.err(path, f"{n:#x} does not fit in 64 bits",
                           f"use a {what} below 0x10000000000000000")
        return n

    def domain_ref(self, p: tuple, key: str, ld: dict, what: str) -> Domain:
        """The domain ld[key] names; an error when it is missing or unknown."""
        if key not in ld:
            raise self.err(p, f"{what} needs a {key} domain", f"add {key}: <domain>")
        dom = self.system.domain(ld[key])
        if dom is None:
            names = [d.name for d in self.system.domains]
            raise self.err(p + (key,), f"no domain named '{ld[key]}'",
                           did_you_mean(ld[key], names) or "domains: " + ", ".join(sorted(names)))
        return dom

    def mailbox_named(self, p: tuple, name: str) -> Mailbox:
        """The board mailbox called name; an error that lists the others if none."""
        board = self.board
        mb = next((m for m in board.mailboxes if m.name == name), None)
        if mb is None:
            names = [m.name for m in board.mailboxes]
            raise self.err(p, f"board {board.name} has no mailbox '{name}'",
                           did_you_mean(name, names) or
                           ("mailboxes: " + ", ".join(names) if names else
                            "this board has no mailboxes"))
        return mb

    def common(self, ld: dict, p: tuple) -> dict:
        """The keys several kinds share, checked in file order of importance:
        host and remote, shm, vring, buffers. Returns record fields."""
        out = {}
        names = {d.name for d in self.system.domains}
        for role in ("host", "remote"):
            if role in ld:
                if ld[role] not in names:
                    raise self.err(p + (role,), f"no domain named '{ld[role]}'",
                                   did_you_mean(ld[role], names) or
                                   "domains: " + ", ".join(sorted(names)))
                out[role] = ld[role]
        if "shm" in ld:
            if not self.system.pool(ld["shm"]):
                pools = [pl.name for pl in self.system.pools]
                raise self.err(p + ("shm",), f"no shared memory named '{ld['shm']}'",
                               did_you_mean(ld["shm"], pools) or
                               ("shared-memory: " + ", ".join(pools) if pools else
                                "declare it under shared-memory"))
            out["shm"] = ld["shm"]
        out.update(self._vring(ld.get("vring", {}), p))
        out.update(self._buffers(ld.get("buffers", {}), p, out.get("vring_num", 8)))
        return out

    def _vring(self, vring: dict, p: tuple) -> dict:
        out = {}
        if "num" in vring:
            num = out["vring_num"] = vring["num"]
            if not is_pow2(num) or num > VRING_NUM_MAX:
                raise self.err(p + ("vring", "num"),
                               f"{num} is not a power of two up to {VRING_NUM_MAX}"
                               if not is_pow2(num) else
                               f"{num} is more than the {VRING_NUM_MAX} "
                               "descriptors a vring can have",
                               f"use {min(near_pow2(num), VRING_NUM_MAX)}")
        if "align" in vring:
            align = out["vring_align"] = self.size(p + ("vring", "align"), vring["align"],
                                                   "alignment")
            if not is_pow2(align) or align < 4:
                raise self.err(p + ("vring", "align"),
                               f"{vring['align']} is not a power of two of at least 4",
                               "use 16 (Zephyr) or 0x1000 (Linux page)")
            if align > ALIGN_MAX:
                raise self.err(p + ("vring", "align"), f"{vring['align']} does not fit the "
                               "32-bit align field of a resource-table vring",
                               "use 16 (Zephyr) or 0x1000 (Linux page)")
        return out

    def _buffers(self, buffers: dict, p: tuple, num: int) -> dict:
        out = {}
        if "count" in buffers:
            out["buffer_count"] = buffers["count"]
            if buffers["count"] <= 0:
                raise self.err(p + ("buffers", "count"), "buffer count must be positive",
                               f"use {2 * num}")
        if "size" in buffers:
            size = out["buffer_size"] = self.size(p + ("buffers", "size"), buffers["size"])
            if size < 32 or size % 16:
                raise self.err(p + ("buffers", "size"),
                               f"{buffers['size']} is not a usable rpmsg buffer size",
                               "use a multiple of 16 of at least 32; Linux uses 512")
        return out

