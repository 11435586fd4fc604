"""The layout's own checks, once everything is placed: region names unique, regions
in board memory, no overlap between unrelated regions, what a core can reach."""

from __future__ import annotations

from . import names
from .errors import clip
from .layout import ADDR32, Placer, Region


def _ancestors(region: Region, by_name: dict) -> set:
    seen = set()
    while region.parent:
        seen.add(region.parent)
        region = by_name[region.parent]
    return seen


def check(placer: Placer) -> None:
    """Names unique, regions inside board memory, no overlaps, reachability."""
    by_name = {}
    for r in placer.regions:
        if r.name in by_name:
            raise placer.err(r.origin, f"two regions are named {r.name}",
                             "rename the domain, carveout or link so names differ")
        by_name[r.name] = r
    anc = {r.name: _ancestors(r, by_name) for r in placer.regions}
    used = {name: [] for name in placer.domains}     # domain -> regions it uses, one pass
    for r in placer.regions:
        for name in dict.fromkeys(r.users):
            if name in used:
                used[name].append(r)
    _check_names(placer)
    _check_in_memory(placer)
    _check_overlaps(placer, anc)
    _check_linux_reserved(placer)
    _check_tcm_shadow(placer, anc, used)
    _check_4g(placer, used)


def _check_names(placer: Placer) -> None:
    """Names the layout made that reach a fixed-size field: a devicetree node name
    (31 characters) and a resource-table entry's name (32 bytes with its NUL). The
    schema's limits keep user names within both; a kind's derived names are held here,
    at the key they come from, not by dtc or gcc later."""
    for r in placer.regions:
        if r.dt_name:
            _name_fits(placer, "dts_node", r.dt_name, r.origin, f"node name of {r.name}")
    for name, dl in placer.domains.items():
        for e in dl.rsc_table.entries if dl.rsc_table else ():
            if "name" in e.fields:
                origin = next((c.path for c in dl.domain.carveouts
                               if c.name == e.fields["name"]), dl.domain.path)
                _name_fits(placer, "rsc_name", e.fields["name"], origin,
                           f"resource-table name of {e.c_name}")


def _name_fits(placer: Placer, kind: str, value: str, origin: tuple, what: str) -> None:
    problem = names.problem(kind, value)
    if problem:
        raise placer.err(origin + ("name",) if origin else origin,
                         f"'{clip(value)}' ({what}) {problem}", names.fix(kind))


def _check_in_memory(placer: Placer) -> None:
    """Top regions lie in board memory (TCM banks are board facts; device ranges such
    as a BAR or a transport window are in none)."""
    board = placer.board
    for r in placer.regions:
        if r.kind == "tcm" or r.parent or r.device:
            continue
        if not any(m.base <= r.base and r.end <= m.end for m in board.memory):
            raise placer.err(r.origin, f"{r.name} {r.span()} is outside every memory of "
                             f"board {board.name}",
                             "memories: " + ", ".join(f"{m.name} [{m.base:#x}, {m.end:#x})"
                                                      for m in board.memory))


def _check_overlaps(placer: Placer, anc: dict) -> None:
    """Sort and sweep: each region against the ones that start before it ends."""
    base = {r.name for _, r in placer.linux_reserved}     # _check_linux_reserved's
    ordered = sorted((r for r in placer.regions if r.name not in base),
                     key=lambda r: (r.space, r.base, r.name))
    for i, a in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            b = ordered[j]
            if b.space != a.space or b.base >= a.end:
                break
            if a.name in anc[b.name] or b.name in anc[a.name]:
                continue
            later = max(a, b, key=lambda r: (r.origin, r.name))
            other = b if later is a else a
            raise placer.err(later.origin, f"{later.name} {later.span()} overlaps "
                             f"{other.name} {other.span()}",
                             "move one of them (or leave base out to have it allocated)")


def _check_linux_reserved(placer: Placer) -> None:
    """Nothing the YAML places lies on what the base Linux devicetree reserves itself
    (allocation goes around it; a given base may not): Linux would see one range
    reserved twice, and dtc two nodes with one unit address."""
    for res, mine in placer.linux_reserved:
        for r in placer.regions:
            if r is mine or r.parent or r.space != mine.space \
                    or not (r.base < mine.end and mine.base < r.end):
                continue
            fix = "leave base out to have it allocated around it, or give a base outside it"
            if res.core:
                fix += (f" (the firmware of {res.core} may be it: base {res.base:#x}, "
                        f"size {res.size:#x})")
            raise placer.err(r.origin, f"{r.name} {r.span()} overlaps {res.label} "
                             f"{mine.span()}, which the Linux devicetree of board "
                             f"{placer.board.name} reserves already", fix)


def _check_tcm_shadow(placer: Placer, anc: dict, used: dict) -> None:
    """An R5 sees its TCM, not DDR, in the low addresses of its view."""
    for name, dl in placer.domains.items():
        tcm = [r for r in dl.load_regions if r.kind == "tcm"]
        if not tcm:
            continue
        low_end = max(r.view(name) + r.size for r in tcm)
        names = {t.name for t in tcm}
        for r in used[name]:
            if r.kind != "tcm" and not r.views and r.base < low_end \
                    and not (anc[r.name] & names):
                raise placer.err(r.origin, f"{r.name} {r.span()} is hidden behind the TCM "
                                 f"of {name} (local addresses below {low_end:#x})",
                                 f"place it at or above {low_end:#x}")


def _check_4g(placer: Placer, used: dict) -> None:
    """A 32-bit core reaches only its low 4 GiB; resource-table fields are 32-bit."""
    for name, dl in placer.domains.items():
        in_table = {r.name for r in [dl.trace, *dl.carveouts] if r} if dl.rsc_table else set()
        narrow = dl.domain.arch != "aarch64"
        for r in used[name]:
            if (narrow or r.name in in_table) \
                    and r.view(name) + r.size > ADDR32:
                why = (f"the 32-bit cores of {name} cannot reach it" if narrow else
                       "resource-table addresses are 32-bit")
                raise placer.err(r.origin, f"{r.name} {r.span()} is above 4 GiB; {why}",
                                 "place it below 4 GiB")
