"""The system YAML text amp-import writes: every value with a comment naming the file
and line it came from, sizes only where they differ from what the format derives."""

import os
import tempfile
from pathlib import Path

from . import facts as F
from . import layout as layout_mod
from .links.rpmsg import MAX_RPMSG_NUM_BUFS
from .links.rpmsg import buffer_count as rpmsg_buffer_count

RPMSG_BUF = 512


def num_align(v):
    """(num, align) of an imported vdev: its resource table's, else the format's defaults."""
    return v["num"] or 8, v["align"] or 16


def fmt_size(n):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return f"{n:#x}"


def system_text(imp, pools) -> str:
    """The YAML text of an Importer's decisions (imp.specs, imp.res, the links)."""
    files = imp.facts.files()
    out = ["# Imported by west amp-import from:"] + [f"#   {f}" for f in files]
    out += ["# Addresses are pinned with base: where the format takes one; each comment",
            "# names the file and line a value came from.", ""]
    for n in imp.res.changes:
        out.append(f"# changed (--prefer {imp.prefer}): {n.line()}")
    for n in imp.res.losses:
        out.append(f"# NOT EXPRESSED (--lossy): {n.line()}")
    if imp.res.changes or imp.res.losses:
        out.append("")
    out += [f"name: {imp.name}", f"board: {imp.board.name}",
            f"description: imported from {', '.join(Path(f).name for f in files)}", "",
            "domains:"]
    linux = [c for c in sorted(imp.board.cores) if "linux" in imp.board.cores[c].os]
    if linux and (imp.links() or imp.facts.linux or imp.hvl):
        out += ["  - name: linux", "    os: linux", f"    cores: [{', '.join(linux)}]", ""]
    for s in imp.specs:
        out += _domain(s)
    pool_of = {}
    if pools or imp.hvl:
        out.append("shared-memory:")
    if pools:
        for name, base, size, names in pools:
            first = next(v for n, s, v in imp.links() if n == names[0])
            src = first.get("vring0", first.get("shm"))
            out += [f"  - name: {name}",
                    f"    base: {base:#x}    # {src.where}: {src.name}@{src.base:x}"]
            derived = sum(_need(imp.page, v) for n, s, v in imp.links() if n in names)
            if size != derived:
                out.append(f"    size: {fmt_size(size)}    # explicit: the links "
                           f"derive {derived:#x}")
            pool_of.update({n: name for n in names})
    if pools or imp.hvl:
        out += imp.hvl_pool_text() + [""]
    out.append("links:")
    for name, s, v in imp.links():
        out += _link(imp, name, s, v, pool_of.get(name))
    for s in imp.specs:
        out += _virtio_links(s)
    out += imp.hvl_link_text() + imp.ivshmem_link_text()
    return "\n".join(out).rstrip() + "\n"


def _virtio_links(s):
    out = []
    for link in dict.fromkeys(name for name, _d in s.devices):
        out += [f"  - name: {link}", "    type: virtio-mmio", "    transport: native",
                f"    driver: {s.name}", "    devices:"]
        for name, d in s.devices:
            if name == link:
                out.append(f"      - {{name: {d['name']}, type: {d['type']}, slot: "
                           f"{d['slot']}}}    # {d['where']}: queue-size is not in the "
                           "files (the default)")
        out.append("")
    return out

def _domain(s):
    c = s.comments
    out = [f"  - name: {s.name}", "    os: zephyr",
           f"    cores: [{s.core}]" + (f"    # {s.remote.path} ({s.remote.where})"
                                       if s.remote else "")]
    if s.mode:
        out.append(f"    mode: {s.mode}" + (f"    # {c['mode']}" if "mode" in c else ""))
    if s.zephyr and s.zephyr.target:
        out.append(f"    target: {s.zephyr.target}    # {s.zephyr.name}")
    fw = s.firmware or {"memory": "tcm"}
    out += ["    firmware:", f"      memory: {fw['memory']}" +
            (f"    # {c['firmware']}" if "firmware" in c else "")]
    if "base" in fw:
        out += [f"      base: {fw['base']:#x}", f"      size: {fmt_size(fw['size'])}"]
    if "table" in fw:
        out.append(f"      table: {fw['table']:#x}    # {c['table']}")
    if s.trace and s.trace_name:
        out.append(f"    trace: {{size: {fmt_size(s.trace)}, name: {_quoted(s.trace_name)}}}"
                   f"    # {c['trace']}")
    elif s.trace:
        out.append(f"    trace: {fmt_size(s.trace)}    # {c['trace']}")
    if s.carveouts:
        out.append("    carveouts:")
        for r, name, in_table, why in s.carveouts:
            extra = f", dt-name: {r.name}" if name != r.name else ""
            extra += "" if in_table else ", in-table: false"
            out.append(f"      - {{name: {name}, base: {r.base:#x}, size: "
                       f"{fmt_size(r.size)}{extra}}}    # {r.where}: {r.label or r.name}"
                       + (f"; {why}" if why else ""))
    return out + [""]

def _quoted(text):
    """A YAML double-quoted scalar (trace names are printable ASCII without '"' or '\\')."""
    return f'"{text}"'


def _need(page, v):
    num, align = num_align(v)
    valloc = vring_reserve(page, v) or \
        layout_mod.align_up(layout_mod.vring_size(num, align), page)
    return 2 * valloc + _buffer_bytes(page, v, num)

def _buffer_bytes(page, v, num):
    reserve = buffer_reserve(page, v)
    if reserve:
        return reserve
    count = buffer_count(page, v, num)
    return layout_mod.align_up((count or rpmsg_buffer_count(num)) * RPMSG_BUF,
                               page)

def vring_reserve(page, v):
    """vring: {reserve: SIZE} when both vdevNvringM are larger than the derived
    PAGE_ALIGN(vring_size(num, align)) and whole pages; else None."""
    if "vring0" not in v:
        return None
    num, align = num_align(v)
    size = v["vring0"].size
    derived = layout_mod.align_up(layout_mod.vring_size(num, align), page)
    if size != v["vring1"].size or size <= derived or size % page:
        return None
    return size

def buffer_reserve(page, v):
    """buffers: {reserve: SIZE} when vdevNbuffer (or what zephyr,ipc_shm leaves after
    the vrings) holds more than the most buffers Linux takes (MAX_RPMSG_NUM_BUFS), or
    not a whole number of them; else None."""
    size = v["buffer"].size if "buffer" in v else 0
    if "shm" in v:
        num, align = num_align(v)
        size = v["shm"].size - 2 * layout_mod.align_up(layout_mod.vring_size(num, align),
                                                       page)
    if not size or size % page:
        return None
    if size // RPMSG_BUF > MAX_RPMSG_NUM_BUFS or size % RPMSG_BUF:
        return size
    return None

def buffer_count(page, v, num):
    if buffer_reserve(page, v):
        return None
    if "buffer" in v:
        count = v["buffer"].size // RPMSG_BUF
    else:
        valloc = layout_mod.align_up(layout_mod.vring_size(num, v["align"] or 16),
                                     page)
        count = (v["shm"].size - 2 * valloc) // RPMSG_BUF
    return None if count == rpmsg_buffer_count(num) else count

def _link(imp, name, s, v, pool):
    num, align = num_align(v)
    out = [f"  - name: {name}", "    type: rpmsg", "    host: linux", f"    remote: {s.name}"]
    parts = pinned_parts(imp, v) if not pool else None
    if pool:
        out.append(f"    shm: {pool}")
    elif parts is None and "vring0" in v and imp.pin:
        r = v["vring0"]
        out.append(f"    base: {r.base:#x}    # {r.where}: {r.name}@{r.base:x}")
    elif "shm" in v and imp.pin:
        r = v["shm"]
        out.append(f"    base: {r.base:#x}    # {r.where}: zephyr,ipc_shm {r.name}@{r.base:x}")
    elif "vring0" in v and not imp.pin:
        r = v["vring0"]
        out.append(f"    # {r.name} at {r.base:#x} ({r.where}): where amp-config allocates "
                   "it")
    src = f"    # {v['src']}: resource table" if v.get("src") else \
        "    # not in the inputs (no firmware ELF): the defaults"
    extra = ""
    reserve = vring_reserve(imp.page, v)
    if reserve:
        extra += f", reserve: {fmt_size(reserve)}"
    if parts:
        extra += f", base: [{parts[0]:#x}, {parts[1]:#x}]"
    out.append(f"    vring: {{num: {num}, align: {align}{extra}}}{src}")
    if reserve:
        r = v["vring0"]
        out.append(f"    # vring reserve: {r.where}: {r.name} is {F.size_text(r.size)}, more "
                   "than the vrings take")
    out += _buffers(imp, v, num, parts)
    return out + [""]


def pinned_parts(imp, v):
    """(vring0, vring1, buffer) bases when the link is pinned part by part: its parts
    are not vring0, vring1, buffer one after the other. None: one base pins it."""
    if not imp.pin or "vring0" not in v:
        return None
    num, align = num_align(v)
    valloc = vring_reserve(imp.page, v) or \
        layout_mod.align_up(layout_mod.vring_size(num, align), imp.page)
    r0, r1, b = v["vring0"], v["vring1"], v["buffer"]
    if r1.base == r0.base + valloc and b.base == r1.base + valloc:
        return None
    return r0.base, r1.base, b.base


def _buffers(imp, v, num, parts):
    b = v.get("buffer") or v.get("shm")
    keys, why = [], []
    count = buffer_count(imp.page, v, num)
    if count is not None:
        keys.append(f"count: {count}")
        why.append(f"{b.name} is {F.size_text(b.size)}, {count} x {RPMSG_BUF}")
    reserve = buffer_reserve(imp.page, v)
    if reserve:
        keys.append(f"reserve: {fmt_size(reserve)}")
        why.append(f"{b.name} is {F.size_text(b.size)}, more than the "
                   f"{rpmsg_buffer_count(num)} x {RPMSG_BUF} Linux takes")
    if parts:
        keys.append(f"base: {parts[2]:#x}")
        why.append(f"{b.name}@{b.base:x}")
    if not keys:
        return []
    return [f"    buffers: {{{', '.join(keys)}}}    # {b.where}: {'; '.join(why)}"]


def write_atomic(path, text) -> None:
    """Write the whole file or nothing: a temporary file beside it, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
