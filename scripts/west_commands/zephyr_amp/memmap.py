"""Layout -> a picture (SVG) and a terminal table of the memory map.

One section per address space: physical, then the physical space of each
QEMU instance (boards that run every domain in its own QEMU), then the
offsets in each ivshmem BAR, then each domain whose view differs (an R5
sees its TCM at 0x0). Rows are regions in address order, nested regions
indented under their parent, gaps shown with their size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .names import comment, one_line
from .names import xml_text as escape

if TYPE_CHECKING:
    from .layout import Layout

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
SHARED = "#8c8c8c"


def human(n: int) -> str:
    """4096 -> '4 KiB', 0x3000c0 -> '3.0 MiB' (one decimal when not whole)."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{int(v)} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


def _depths(layout):
    by_name = {r.name: r for r in layout.regions}
    depth = {}
    for r in layout.regions:
        d, p = 0, r.parent
        while p:
            d, p = d + 1, by_name[p].parent
        depth[r.name] = d
    return depth


def _space_title(space):
    kind, _, name = space.partition(":")
    if space == "phys":
        return "physical addresses"
    if kind == "qemu":
        return f"QEMU instance of {name}: physical addresses"
    if kind == "ivshmem":
        return f"ivshmem link {name}: offsets in its shared-memory BAR"
    return f"address space {space}"


def _space_order(space):
    return ({"phys": 0, "qemu": 1, "ivshmem": 2}.get(space.partition(":")[0], 3), space)


def sections(layout: Layout) -> list:
    """[(title, [(address, region, depth)])]: physical first, then each QEMU instance,
    then ivshmem BARs, then local views."""
    depth = _depths(layout)
    by_space, by_view = {}, {name: [] for name in layout.domains}   # one pass
    for r in layout.regions:
        by_space.setdefault(r.space, []).append((r.base, r, depth[r.name]))
        for name in r.views:
            if name in by_view:
                by_view[name].append((r.view(name), r, depth[r.name]))
    out = [(_space_title(space), _ordered(by_space[space]))
           for space in sorted(by_space, key=_space_order)]
    for name in sorted(layout.domains):
        if by_view[name]:
            out.append((f"as {name} sees them (local view)", _ordered(by_view[name])))
    return out


def _ordered(rows):
    return sorted(rows, key=lambda x: (x[0], -x[1].size, x[2], x[1].name))


def owners(layout: Layout) -> dict:
    names = sorted(layout.domains)
    colours = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    colours["shared"] = SHARED
    return colours


def table(layout: Layout) -> str:
    lines = [one_line(f"memory map of {layout.system.name} (board {layout.system.board.name}, "
                      f"page {layout.page_size:#x})")]
    depth = _depths(layout)
    # columns grow for long names (mmio_window, nested HVL regions), never shrink
    nw = max([28] + [len(r.name) + 2 * depth[r.name] + 1 for r in layout.regions])
    kw = max([10] + [len(r.kind) + 1 for r in layout.regions])
    for title, rows in sections(layout):
        lines.append("")
        lines.append(title)
        lines.append(f"  {'base':<12}{'end':<12}{'size':>10}  {'region':<{nw}}{'kind':<{kw}}"
                     f"{'owner':<10}users")
        prev_end = None
        for addr, r, d in rows:
            if prev_end is not None and d == 0 and addr > prev_end:
                lines.append(f"  {'':<12}{'':<12}{human(addr - prev_end):>10}  "
                             f"{'(gap)':<{nw}}")
            lines.append(f"  {addr:<#12x}{addr + r.size:<#12x}{human(r.size):>10}  "
                         f"{'  ' * d + r.name:<{nw}}{r.kind:<{kw}}{r.owner:<10}"
                         f"{', '.join(sorted(r.users))}")
            if d == 0:
                prev_end = max(prev_end or 0, addr + r.size)
    return "\n".join(lines)


def svg(layout: Layout, banner: str) -> str:
    colours = owners(layout)
    row_h, width, left = 22, 760, 150
    y = 40
    body = []
    for title, rows in sections(layout):
        y += 10
        body.append(f'<text x="10" y="{y}" class="h">{escape(title)}</text>')
        y += 10
        prev_end = None
        for addr, r, d in rows:
            if prev_end is not None and d == 0 and addr > prev_end:
                body.append(f'<text x="{left + 8}" y="{y + 14}" class="gap">'
                            f'… {escape(human(addr - prev_end))} not used by this system'
                            f'</text>')
                y += row_h
            x = left + 18 * d
            fill = colours.get(r.owner, SHARED)
            body.append(f'<text x="{left - 8}" y="{y + 15}" class="a">{addr:#010x}</text>')
            body.append(f'<rect x="{x}" y="{y + 2}" width="{width - x - 10}" '
                        f'height="{row_h - 4}" rx="3" fill="{fill}" '
                        f'fill-opacity="{0.9 - 0.25 * d:.2f}"/>')
            label = (f"{r.name}  [{addr:#x}, {addr + r.size:#x})  {human(r.size)}"
                     f"  {r.kind}, {r.owner}")
            body.append(f'<text x="{x + 6}" y="{y + 15}" class="l">{escape(label)}</text>')
            y += row_h
            if d == 0:
                prev_end = max(prev_end or 0, addr + r.size)
    legend_y = y + 20
    legend = []
    for i, (owner, colour) in enumerate(sorted(colours.items())):
        lx = 10 + 130 * i
        legend.append(f'<rect x="{lx}" y="{legend_y}" width="14" height="14" fill="{colour}"/>')
        legend.append(f'<text x="{lx + 20}" y="{legend_y + 12}" class="l2">{escape(owner)}</text>')
    height = legend_y + 30
    title = escape(f"{layout.system.name}: memory map (board {layout.system.board.name})")
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<!-- {comment(banner, 'xml')} -->",
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace">',
        "<style>.h{font-size:14px;font-weight:bold}.a{font-size:11px;text-anchor:end}"
        ".l{font-size:11px;fill:#fff}.l2{font-size:12px}.gap{font-size:11px;fill:#666;"
        "font-style:italic}</style>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="10" y="22" class="h">{title}</text>',
        *body, *legend, "</svg>", ""])
