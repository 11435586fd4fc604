"""What the board's base Linux devicetree reserves itself (layout stage).

A board file's linux-reserved lists the /reserved-memory nodes of the Linux
devicetree the generated overlay is applied to (boards.LinuxReserved). In a
system with a Linux domain they are regions of that domain, of kind
"reserved": layout.json lists them, as the merged devicetree has them, and
allocation goes around them. A region given a base on one is checks.py's
error, except a remote's firmware given exactly the range the base reserves as
that core's firmware image: that firmware is the base's node (docs/linux-overlay.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import Region

if TYPE_CHECKING:
    from .layout import Placer


# what a remote may have on its core's firmware image of the base devicetree
REUSABLE = ("firmware", "carveout")


def reserve(placer: Placer) -> None:
    """The base's reservations as regions of the first Linux domain, and holes in
    the allocators of the memories they lie in; placer.linux_reserved lists them."""
    linux = next((d.name for d in placer.system.domains if d.os == "linux"), None)
    if linux is None:
        return
    for res in placer.board.linux_reserved:
        for mem in placer.board.memory:
            if mem.base <= res.base and res.end <= mem.end:
                placer.allocators[mem.name].take(res.base, res.size)
        region = placer.add(Region(f"{linux}_{res.label}", "reserved", linux, res.base,
                                   res.size, users=[linux], dt_name=res.name,
                                   space=placer.space(linux)))
        placer.linux_reserved.append((res, region))


def reuse(placer: Placer) -> None:
    """A remote's DDR firmware (or carveout) placed exactly on the range the base
    reserves as that core's firmware image (rproc_0_fw_image) is that node: one
    region (the remote's, named as the base node), which the overlay references by
    the base's label instead of adding a node (render.py)."""
    for res, mine in list(placer.linux_reserved):
        fw = next((r for dl in placer.domains.values() if res.core in dl.domain.cores
                   for r in dl.load_regions if r.kind in REUSABLE
                   and (r.base, r.size, r.space) == (res.base, res.size, mine.space)), None)
        if fw is not None:
            fw.dt_name = res.name
            placer.regions.remove(mine)
            placer.linux_reserved.remove((res, mine))
