"""A remote's firmware memory and its resource table (layout stage).

At the top of the firmware memory (the highest TCM bank, or the DDR region) a
slot holds the trace buffer, then the resource table; tables() fills in the
table's entries once every link is placed: carveouts, the links' vdevs, trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import (
    CARVEOUT_SIZE,
    FW_DEFAULT_SIZE,
    HDR_SIZE,
    REGION_ALIGN,
    SLOT_ALIGN,
    TRACE_SIZE,
    VDEV_SIZE,
    VRING_ENTRY_SIZE,
    Entry,
    Placer,
    Region,
    ResourceTable,
    align_up,
    rsc_table_size,
)

if TYPE_CHECKING:
    from .model import Domain


def table_shape(placer: Placer, dom: Domain) -> int:
    """Bytes of a remote's resource table: its carveouts, vdevs and trace."""
    vdevs = sum(placer.kind(lk).vdevs_for(lk, dom.name)
                for lk in placer.joining.get(dom.name, ()))
    return rsc_table_size(len(_in_table(dom.carveouts)), vdevs, 2, dom.trace)


def _tcm_slot(placer: Placer, dom, dl, slot: int):
    """Firmware in TCM: zephyr,sram is the contiguous run of banks from the lowest
    view; the slot is at the top of the highest bank. -> (slot base, parent, views)"""
    banks = sorted(dl.load_regions, key=lambda r: r.view(dom.name))
    top = banks[-1]
    run_start = banks[0].view(dom.name)
    run_end = run_start
    run = []
    for b in banks:
        if b.view(dom.name) != run_end:
            break
        run_end += b.size
        run.append(b)
    if top.size < slot:
        raise placer.err(dom.path + ("trace",) if dom.trace else dom.path + ("firmware",),
                         f"the resource table and trace buffer ({slot:#x} bytes) "
                         f"do not fit {top.name} ({top.size:#x})", "shrink the trace")
    slot_base, slot_view = top.end - slot, top.view(dom.name) + top.size - slot
    if top in run:
        dl.sram = (run_start, slot_view - run_start)
    else:
        dl.sram = (run_start, run_end - run_start)
        dl.extra_ram.append((top.name, top.view(dom.name), top.size - slot))
    for b in banks:
        if b not in run and b is not top:
            dl.extra_ram.append((b.name, b.view(dom.name), b.size))
    return slot_base, top.name, lambda off: {dom.name: slot_view + off}


def _ddr_slot(placer: Placer, dom, dl, slot: int):
    """Firmware in DDR (or a named memory): one region, the slot at its top."""
    fw = dom.firmware
    fpath = dom.path + ("firmware",)
    mem = placer.memory_for(fw.memory, fpath + ("memory",))
    size = fw.size or FW_DEFAULT_SIZE
    if size < slot + SLOT_ALIGN:
        given = fw.size is not None
        raise placer.err(fpath + ("size",) if given else dom.path + ("trace",),
                         f"firmware memory of {size:#x} bytes"
                         + ("" if given else " (the default size)") + " leaves "
                         f"no room beside the {slot:#x}-byte table and trace slot",
                         f"use at least {slot + SLOT_ALIGN:#x}" if given else
                         f"give firmware a size of at least {slot + SLOT_ALIGN:#x}")
    base = fw.base if fw.base is not None else placer.alloc(
        mem, size, REGION_ALIGN, fpath, f"the firmware of {dom.name}")
    r = placer.add(Region(f"{dom.name}_fw", "firmware", dom.name, base, size,
                          users=[dom.name], origin=fpath, dt_name="memory",
                          space=placer.space(dom.name)))
    dl.load_regions.insert(0, r)
    dl.sram = (base, size - slot)
    return r.end - slot, r.name, lambda off: {}


def place(placer: Placer, dom: Domain) -> None:
    """A remote's firmware memory, and at its top the slot: trace buffer first (for
    the RAM console), then the resource table."""
    dl = placer.domains[dom.name]
    table_size = table_shape(placer, dom)
    table_room = align_up(table_size, 64)
    slot = align_up(table_room + align_up(dom.trace, 64), SLOT_ALIGN)
    place_slot = _tcm_slot if dom.firmware.memory == "tcm" else _ddr_slot
    slot_base, parent, views = place_slot(placer, dom, dl, slot)
    trace_room = align_up(dom.trace, 64)
    if dom.firmware.table is not None:
        slot_base, views = _fixed_table(placer, dom, dl, (slot_base, slot, views),
                                        table_room, trace_room)
    space = placer.space(dom.name)
    if dom.trace:
        dl.trace = placer.add(Region(f"{dom.name}_trace", "trace", dom.name, slot_base,
                                     dom.trace, users=[dom.name], views=views(0),
                                     parent=parent, space=space, origin=dom.path + ("trace",)))
    rt = placer.add(Region(f"{dom.name}_rsc_table", "rsc_table", dom.name,
                           slot_base + trace_room, table_room, users=[dom.name],
                           views=views(trace_room), parent=parent, space=space,
                           origin=dom.path + ("firmware",)))
    dl.rsc_table = ResourceTable(dom.name, rt, rt.view(dom.name), table_size, [])


def _fixed_table(placer: Placer, dom, dl, top: tuple, table_room: int, trace_room: int):
    """firmware: {table: ADDR}: the slot moves down so that the table starts at ADDR
    (the remote's view), the trace buffer right below it; zephyr,sram (or the RAM
    range that ended at the slot) ends at the 4 KiB below the trace buffer.
    -> (slot base, views) as place_slot gives them."""
    slot_base, slot, views = top
    path = dom.path + ("firmware", "table")
    addr = dom.firmware.table
    top_view = views(0).get(dom.name, slot_base)
    start = addr - trace_room
    region = next(r for r in dl.load_regions if r.base <= slot_base < r.end)
    region_view = region.view(dom.name)
    if not (region_view <= start and addr + table_room <= top_view + slot):
        raise placer.err(path, f"the resource table at {addr:#x} ({table_room:#x} bytes"
                         + (f", the {trace_room:#x}-byte trace buffer below it" if trace_room
                            else "") + f") is not inside {region.name} "
                         f"[{region_view:#x}, {top_view + slot:#x})",
                         f"give an address between {region_view + trace_room:#x} and "
                         f"{top_view + slot - table_room:#x}, or remove table")
    delta = top_view - (start - start % SLOT_ALIGN)
    if dl.sram and dl.sram[0] + dl.sram[1] == top_view:
        if dl.sram[1] <= delta:
            raise placer.err(path, f"the resource table at {addr:#x} leaves no zephyr,sram "
                             f"below it (the firmware memory starts at {dl.sram[0]:#x})",
                             "give a higher address, or remove table")
        dl.sram = (dl.sram[0], dl.sram[1] - delta)
    else:
        ram = [(n, v, s - delta if v + s == top_view else s) for n, v, s in dl.extra_ram]
        dl.extra_ram = [x for x in ram if x[2] > 0]
    shift = top_view - start
    return slot_base - shift, lambda off: {k: v - shift for k, v in views(off).items()}


def entry_c_name(entry: str, name: str = "", index: int = 0) -> str:
    """Member name of an entry (carveout, vdev, trace) in struct fw_resource_table."""
    if entry == "carveout":
        return f"carveout_{name}"
    if entry == "vdev":
        return "vdev" if index == 0 else f"vdev{index}"
    return "cm_trace"


def tables(placer: Placer) -> None:
    """The entries of every resource table: carveouts, the links' vdevs, trace."""
    joining = placer.by_domain(placer.links, lambda ll: ll.link)
    for name, dl in placer.domains.items():
        t = dl.rsc_table
        if t is None:
            continue
        dom = dl.domain
        vdevs = [v for lk in joining.get(name, ()) for v in lk.vdevs(name)]
        carveouts = [(cv, r) for cv, r in zip(dom.carveouts, dl.carveouts) if cv.in_table]
        offset = HDR_SIZE + 4 * (len(carveouts) + len(vdevs) + (1 if dom.trace else 0))
        for cv, r in carveouts:
            t.entries.append(Entry("carveout", offset, {
                "da": r.view(name), "pa": r.base, "len": r.size, "flags": 0,
                "reserved": 0, "name": cv.name}, entry_c_name("carveout", cv.name)))
            offset += CARVEOUT_SIZE
        for v in vdevs:
            t.entries.append(Entry("vdev", offset, {
                "id": v.id, "notifyid": v.notifyid, "dfeatures": v.dfeatures,
                "gfeatures": 0, "config_len": 0, "status": 0,
                "num_of_vrings": len(v.vrings)}, entry_c_name("vdev", index=v.index), vdev=v))
            offset += VDEV_SIZE + VRING_ENTRY_SIZE * len(v.vrings)
        if dom.trace:
            t.entries.append(Entry("trace", offset, {
                "da": dl.trace.view(name), "len": dl.trace.size, "reserved": 0,
                "name": dom.trace_name or "Zephyr_log"}, entry_c_name("trace")))
            offset += TRACE_SIZE
        assert offset == t.size, (offset, t.size)


def _in_table(carveouts: list) -> list:
    """The carveouts with a resource-table entry (in-table: false ones have none)."""
    return [cv for cv in carveouts if cv.in_table]


def table_from_json(name: str, t: dict, regions: dict, links: list) -> ResourceTable:
    """A resource table of layout.json read back; vdev entries point at the links' vdevs."""
    vdevs = {v.notifyid: v for lk in links for v in lk.vdevs(name)}
    entries = []
    for e in t["entries"]:
        fields = {k: v for k, v in e.items() if k not in ("type", "offset", "vrings")}
        vdev = vdevs.get(fields["notifyid"]) if e["type"] == "vdev" else None
        entries.append(Entry(e["type"], e["offset"], fields, entry_c_name(
            e["type"], fields.get("name", ""), vdev.index if vdev else 0), vdev))
    return ResourceTable(name, regions[t["region"]], t["address"], t["size"], entries)
