"""The system YAML text amp-import writes: every value with a comment naming the file
and line it came from, sizes only where they differ from what the format derives."""

import os
import tempfile
from pathlib import Path

from . import facts as F
from . import layout as layout_mod
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
    if linux and (imp.links() or imp.facts.linux):
        out += ["  - name: linux", "    os: linux", f"    cores: [{', '.join(linux)}]", ""]
    for s in imp.specs:
        out += _domain(s)
    pool_of = {}
    if pools:
        out.append("shared-memory:")
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
        out.append("")
    out.append("links:")
    for name, s, v in imp.links():
        out += _link(imp, name, s, v, pool_of.get(name))
    for s in imp.specs:
        out += _virtio_links(s)
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
    if s.trace:
        out.append(f"    trace: {fmt_size(s.trace)}    # {c['trace']}")
    if s.carveouts:
        out.append("    carveouts:")
        for r in s.carveouts:
            out.append(f"      - {{name: {r.name}, base: {r.base:#x}, size: "
                       f"{fmt_size(r.size)}}}    # {r.where}: {r.label or r.name}")
    return out + [""]

def _need(page, v):
    num, align = num_align(v)
    valloc = layout_mod.align_up(layout_mod.vring_size(num, align), page)
    return 2 * valloc + _buffer_bytes(page, v, num)

def _buffer_bytes(page, v, num):
    count = buffer_count(page, v, num)
    return layout_mod.align_up((count or rpmsg_buffer_count(num)) * RPMSG_BUF,
                               page)

def buffer_count(page, v, num):
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
    if pool:
        out.append(f"    shm: {pool}")
    elif "vring0" in v:
        r = v["vring0"]
        out.append(f"    # {r.name} at {r.base:#x} ({r.where}): where amp-config allocates "
                   "it; a link's base is pinned only through a shared-memory pool (which "
                   "adds a pool region)")
    src = f"    # {v['src']}: resource table" if v.get("src") else \
        "    # not in the inputs (no firmware ELF): the defaults"
    out.append(f"    vring: {{num: {num}, align: {align}}}{src}")
    count = buffer_count(imp.page, v, num)
    if count is not None:
        b = v.get("buffer") or v["shm"]
        out.append(f"    buffers: {{count: {count}}}    # {b.where}: {b.name} is "
                   f"{F.size_text(b.size)}, {count} x {RPMSG_BUF}")
    return out + [""]


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
