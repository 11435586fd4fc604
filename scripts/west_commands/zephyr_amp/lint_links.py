"""amp-lint's checks of hypervisorless virtio and ivshmem links (lint.py calls them).

HVL: the Zephyr overlay's openamp,virtio-hvl node and the device process's
<link>.hvl.json describe one pre-shared region; the driver and the device find
each window, vring and the pool by these addresses, so any difference is a
device the driver does not find or a ring the two read in different places.
ivshmem: the two QEMUs and the ivshmem-server (doorbell) must name one socket or
one memory file, one size and one vector count, and the two firmwares' layout
headers one BAR layout.
"""

from pathlib import Path

from . import facts as F
from .layout import vring_size
from .links.virtio_mmio import VRING_ALIGN
from .lint import Finding

_finding = Finding


def hvl(facts: F.Facts) -> list:
    out = []
    by = {}
    for h in facts.hvl_links():
        by.setdefault(h.link, {}).setdefault(h.side, h)
    for name, sides in by.items():
        z, d = sides.get("zephyr"), sides.get("device")
        for h in (z, d):
            if h is not None:
                out += _hvl_inside(name, h)
        if z is not None and d is not None:
            out += _hvl_areas(name, z, d) + _hvl_windows(name, z, d) + _hvl_ipi(name, z, d)
        if d is not None:
            out += _hvl_queues(name, d)
        out += _hvl_reserved(name, z or d, facts.linux)
    return out


def _hvl_inside(name, h):
    """One file's areas inside its region without overlap, each window inside the
    windows area (the device file has none: inside the region)."""
    region = (h.shm.base, h.shm.size)
    parts = [(k, v) for k, v in h.areas().items() if v is not None]
    boxes = [(f"the {k}", v, "the region", region, h.where) for k, v in parts]
    win, win_name = (h.windows, "the windows area") if h.windows else (region, "the region")
    boxes += [(f"the window of {dev.name}", (dev.base, dev.size), win_name, win, dev.where)
              for dev in h.devices]
    out = []
    for what, (base, size), box_name, box, where in boxes:
        if base < box[0] or base + size > box[0] + box[1]:
            effect = "the driver or the device process reaches past the memory both share" \
                if box is region else "its registers lie over the vrings or the pool, and " \
                "the rings and buffers overwrite them"
            out.append(_finding(
                "HVL-AREA", f"HVL link {name}: {what} {F.span(base, size)} is not inside "
                f"{box_name} {F.span(*box)}", [where], effect, f"put it inside "
                f"{F.span(*box)}", [F.span(base, size), F.span(*box)]))
    areas = sorted((v[0], v[1], k) for k, v in parts)
    for (b1, s1, k1), (b2, _s2, k2) in zip(areas, areas[1:]):
        if b1 + s1 > b2:
            out.append(_finding(
                "HVL-AREA", f"HVL link {name}: the {k1} {F.span(b1, s1)} run into the {k2} "
                f"from {b2:#x}", [h.where], "rings, windows and bounce buffers overwrite "
                "each other", f"end the {k1} at {b2:#x} or move the {k2}",
                [F.span(b1, s1)]))
    return out


def _hvl_areas(name, z, d):
    out = []
    want = {"region": (z.shm.base, z.shm.size), "vrings": z.vrings, "pool": z.pool}
    got = {"region": (d.shm.base, d.shm.size), "vrings": d.vrings, "pool": d.pool}
    wheres = {"region": (z.shm.where, d.shm.where)}
    for key in want:
        a, b = want[key], got[key]
        if a is None or b is None or tuple(a) == tuple(b):
            continue
        wz, wd = wheres.get(key, (z.where, F.Where(d.file, 0, key)))
        out.append(_finding(
            "HVL-AREA", f"the {key} of HVL link {name} is {F.span(*a)} in the Zephyr "
            f"overlay, {F.span(*b)} in the device file", [wz, wd],
            f"the driver and the device process look for the {key} in different places "
            "(the driver's bounce buffers or rings are not where the device reads them)",
            "generate both from one system (west amp-config), or make them the same range",
            [F.span(*a), F.span(*b)]))
    return out


def _hvl_windows(name, z, d):
    out = []
    theirs = {x.name: x for x in d.devices}
    for dev in z.devices:
        other = theirs.pop(dev.name, None)
        if other is None:
            out.append(_finding(
                "HVL-WINDOW", f"HVL link {name}: the Zephyr overlay has device {dev.name} "
                f"{dev.span()}, the device file has none", [dev.where, d.where],
                "the driver probes a window nobody serves: that device never appears",
                f"add {dev.name} to the device side, or remove its virtio,mmio node"))
        elif (dev.base, dev.size) != (other.base, other.size) or \
                dev.device_id != other.device_id:
            out.append(_finding(
                "HVL-WINDOW", f"HVL link {name}: {dev.name} is {dev.span()} (device ID "
                f"{dev.device_id}) in the Zephyr overlay, {other.span()} (device ID "
                f"{other.device_id}) in the device file", [dev.where, other.where],
                "the driver reads MagicValue/DeviceID at an address the device process does "
                "not serve, or finds another device there", f"give {dev.name} the same "
                "window and device ID on both sides", [dev.span(), other.span()]))
    for other in theirs.values():
        out.append(_finding(
            "HVL-WINDOW", f"HVL link {name}: the device file serves {other.name} "
            f"{other.span()}, the Zephyr overlay has no virtio,mmio node for it",
            [other.where, z.where], "the driver never probes it", "add its virtio,mmio "
            "node to the HVL node, or remove the device"))
    return out


def _hvl_ipi(name, z, d):
    if not z.ipi or not d.ipi or z.ipi == d.ipi:
        return []
    return [_finding(
        "HVL-IPI", f"HVL link {name}: the Zephyr overlay kicks through {z.ipi}, the device "
        f"file through {d.ipi}", [z.ipi_where or z.where, d.ipi_where],
        "notifications go to an IPI the other side does not listen on: the queues stall",
        f"use {z.ipi} on both sides")]


def _hvl_queues(name, d):
    """Each queue's vring fits before the next one and inside the vrings area; the
    buffers of all queues fit the pool."""
    out = []
    queues = sorted(((q, dev) for dev in d.devices for q in dev.queues),
                    key=lambda x: x[0].base)
    lo, hi = d.vrings[0], d.vrings[0] + d.vrings[1]
    for k, (q, dev) in enumerate(queues):
        need = vring_size(dev.queue_size, VRING_ALIGN)
        end = queues[k + 1][0].base if k + 1 < len(queues) else hi
        if q.base < lo or q.base + need > end:
            out.append(_finding(
                "HVL-QUEUE", f"HVL link {name}: vring {q.index} of {dev.name} ({dev.queue_size}"
                f" descriptors, {need:#x} bytes) at {q.base:#x} does not fit "
                f"{F.span(q.base, max(end - q.base, 0))} before the next vring or the end of "
                f"the vrings {F.span(*d.vrings)}", [q.where],
                "the rings overlap: the driver and the device overwrite each other's "
                "descriptors", "use a smaller queue_size, or move the vrings apart",
                [F.span(q.base, need)]))
    need = sum(len(dev.queues) * dev.queue_size * dev.buffer_size for dev in d.devices)
    if need > d.pool[1]:
        out.append(_finding(
            "HVL-QUEUE", f"HVL link {name}: the queues' buffers take {need:#x} bytes, the "
            f"pool {F.span(*d.pool)} has {d.pool[1]:#x}", [F.Where(d.file, 0, "pool")],
            "the driver's bounce-buffer allocation fails once the queues fill",
            "make the pool larger, or the queues or buffers smaller", [F.span(*d.pool)]))
    return out


def _hvl_reserved(name, h, linux):
    """The pre-shared region is reserved as it is by the Linux side (the device's)."""
    regs = [r for lf in linux for r in lf.regions]
    if not linux or any((r.base, r.size) == (h.shm.base, h.shm.size) for r in regs):
        return []
    hits = [r for r in regs if r.overlaps(h.shm)]
    if any(r.base <= h.shm.base and h.shm.end <= r.end for r in hits):
        return []
    what = "no Linux reservation covers it" if not hits else \
        "Linux reserves " + ", ".join(r.title() for r in hits)
    side = "Zephyr overlay" if h.side == "zephyr" else "device file"
    return [_finding(
        "HVL-SHM", f"the pre-shared region of HVL link {name} is {h.shm.title()} in the "
        f"{side}; {what}", [h.shm.where] + [r.where for r in hits],
        "Linux may give those pages to anything else, under the driver's rings and buffers",
        f"reserve reg = <{h.shm.base:#x} {h.shm.size:#x}> (no-map) in the Linux devicetree",
        [h.shm.span()] + [r.span() for r in hits])]


# -- ivshmem ----------------------------------------------------------------------------

def ivshmem(facts: F.Facts) -> list:
    out = []
    by = {}
    for q in facts.qemu:
        for dev in q.ivshmem:
            by.setdefault(dev.id, []).append(dev)
    for name, devs in by.items():
        out += _ivshmem_peers(name, devs, facts.servers)
        out += _ivshmem_size(name, devs, facts.servers, facts.headers)
    out += _ivshmem_layout(facts.headers)
    return out


def _server_of(dev, servers):
    return next((s for s in servers if s.socket == dev.socket), None)


def _ivshmem_peers(name, devs, servers):
    out = []
    first = devs[0]
    for dev in devs[1:]:
        same = dev.kind == first.kind and (dev.socket, dev.mem_path) == \
            (first.socket, first.mem_path)
        if not same:
            what = dev.socket or dev.mem_path
            out.append(_finding(
                "IVSHMEM-PEER", f"ivshmem {name}: {first.kind} on "
                f"{first.socket or first.mem_path} here, {dev.kind} on {what} there",
                [dev.where, first.where], "the two QEMUs do not share memory: each peer "
                "sees its own BAR and no message arrives", "give both the same ivshmem "
                "device and the same socket (doorbell) or mem-path (plain)"))
    for dev in devs:
        if dev.kind != "doorbell" or not servers:
            continue
        server = _server_of(dev, servers)
        if server is None:
            out.append(_finding(
                "IVSHMEM-PEER", f"ivshmem {name}: the doorbell connects to {dev.socket}, no "
                "ivshmem-server given listens there (-S " +
                ", ".join(s.socket for s in servers) + ")", [dev.where, servers[0].at("S")],
                "QEMU cannot connect to the server and does not start",
                "give the server's -S path as the chardev's path="))
        elif server.vectors != dev.vectors:
            out.append(_finding(
                "IVSHMEM-PEER", f"ivshmem {name}: the device has vectors={dev.vectors}, the "
                f"server hands out -n {server.vectors}", [dev.where, server.at("n")],
                "QEMU refuses more eventfds than vectors ('Too many eventfd received'), and "
                "vectors the server does not give are never raised",
                f"use the same count on both (vectors={server.vectors})"))
    return out


def _ivshmem_size(name, devs, servers, headers):
    """The shared memory's size, as each file that states it says."""
    stated = []
    for dev in devs:
        if dev.kind == "plain" and dev.size is not None:
            short = "/".join(Path(dev.where.file).parts[-2:])
            stated.append((dev.size, dev.size_where, f"the memory backend of {short}"))
        server = _server_of(dev, servers) if dev.kind == "doorbell" else None
        if server is not None:
            stated.append((server.size, server.at("l"), "ivshmem-server -l"))
    key = f"AMP_{name.upper().replace('-', '_')}_SIZE"
    for h in headers:
        if h.get(key) is not None and f"{key[:-5]}_VRING0_OFFSET" in h.defines:
            stated.append((h.get(key), h.where(key), key))
    sizes = {s for s, _w, _what in stated}
    if len(sizes) < 2:
        return []
    first = stated[0]
    odd = [x for x in stated if x[0] != first[0]]
    return [_finding(
        "IVSHMEM-SIZE", f"ivshmem {name}: {first[2]} gives {first[0]:#x} bytes, " +
        ", ".join(f"{what} {size:#x}" for size, _w, what in odd), [odd[0][1], first[1]],
        "the firmware maps or lays out a BAR of another size than QEMU gives it (ivshmem_"
        "get_mem reports the real one): rings or buffers past its end fault",
        f"use one size everywhere ({max(sizes):#x})", [])]


def _ivshmem_layout(headers):
    """Two firmwares' headers describe one ivshmem link's BAR alike."""
    out = []
    links = {}
    for h in headers:
        for pre in h.ivshmem_links():
            links.setdefault(pre, []).append(h)
    keys = ("STATUS_SIZE", "VRING0_OFFSET", "VRING1_OFFSET", "VRING_NUM", "VRING_ALIGN",
            "BUFFERS_OFFSET", "BUF_COUNT", "BUF_SIZE")
    for pre, hs in links.items():
        a = hs[0]
        for b in hs[1:]:
            bad = [k for k in keys if a.get(f"AMP_{pre}_{k}") != b.get(f"AMP_{pre}_{k}")]
            if bad:
                k = f"AMP_{pre}_{bad[0]}"
                out.append(_finding(
                    "IVSHMEM-LAYOUT", f"the two sides lay out ivshmem {pre.lower()} "
                    f"differently: " + ", ".join(
                        f"AMP_{pre}_{x} {a.get(f'AMP_{pre}_{x}')} vs "
                        f"{b.get(f'AMP_{pre}_{x}')}" for x in bad), [b.where(k), a.where(k)],
                    "host and remote read the vrings and buffers at different offsets: "
                    "the rpmsg channel never comes up", "build both firmwares with one "
                    "layout (one west amp-config run)"))
    return out
