"""Zephyr devicetree -> ZephyrFacts: chosen zephyr,ipc_shm, zephyr,sram, zephyr,ipc,
zephyr,ram-console, reserved-memory and the IPI mailboxes.

An overlay is read on top of its board DTS, preprocessed as Zephyr's
dts.cmake does (the board DTS, then each overlay with -include). The board
DTS comes from a Zephyr tree: --zephyr-dts DIR, else $ZEPHYR_BASE, else the
west workspace's zephyr/. A generated build/zephyr/zephyr.dts is complete and
read alone.
"""

import os
import subprocess
from pathlib import Path

from .. import facts as F
from ..errors import InputError
from . import dts
from .linux import Locator

CHOSEN = ("zephyr,ipc_shm", "zephyr,sram", "zephyr,ipc", "zephyr,ram-console",
          "zephyr,ipc_rsc_table")
HVL_COMPATIBLE = "openamp,virtio-hvl"
HVL_AREAS = ("windows", "vrings", "pool")
_KIND = {"zephyr,ipc_shm": "ipc_shm", "zephyr,sram": "sram", "zephyr,ram-console": "trace",
         "zephyr,ipc_rsc_table": "reserved"}


def zephyr_root(explicit=None):
    """The Zephyr tree that has the board DTS files, or None."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ZEPHYR_BASE")
    if env and (Path(env) / "boards").is_dir():
        return Path(env)
    try:
        from west.util import west_topdir
        top = Path(west_topdir())
    except Exception:       # noqa: BLE001 - not in a workspace (west raises its own errors)
        return None
    z = top / "zephyr"
    return z if (z / "boards").is_dir() else None


def board_dts(root: Path, target: str):
    hits = sorted(root.glob(f"boards/**/{target}.dts"))
    return hits[0] if hits else None


def targets(root: Path):
    return sorted({p.stem for p in root.glob("boards/**/*.dts")})


def preprocess(root: Path, board: Path, overlays, work: Path, arch: str) -> Path:
    cmd = [dts.tool("cpp"), "-x", "assembler-with-cpp", "-nostdinc"]
    for sub in ("include", "include/zephyr", "dts/common", f"dts/{arch}", "dts"):
        if (root / sub).is_dir():
            cmd += ["-isystem", str(root / sub)]
    cmd += ["-include", str(board)]
    for ov in overlays:
        cmd += ["-include", str(ov)]
    out = Path(work) / "zephyr.dts.pre"
    cmd += ["-undef", "-D__DTS__", "-o", str(out), os.devnull]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if res.returncode:
        lines = [ln for ln in res.stderr.splitlines() if "error" in ln] or \
            res.stderr.splitlines() or ["cpp failed"]
        raise InputError(str(overlays[0]) if overlays else str(board), 0, 0, "",
                         f"cpp could not preprocess it with {board}: {lines[0].strip()}",
                         "fix the #include or the overlay")
    return out


def load(overlays, displays, target, root, work, arches=("arm", "arm64")):
    """dtlib tree of board DTS + overlays; tries each arch's include directory."""
    board = board_dts(root, target)
    if board is None:
        raise InputError(displays[0], 0, 0, "", f"Zephyr has no board target '{target}' "
                         f"in {root}", "give --target with one of: "
                         + ", ".join(targets(root)[:12]))
    last = None
    for arch in arches:
        pre = preprocess(root, board, overlays, work, arch)
        try:
            return dts.parse(pre), board
        except dts.DTError as e:
            last = e
    renames = {str(o): d for o, d in zip(overlays, displays)}
    err = dts.locate_reference(displays, dts.dtlib_error(last, displays[0]))
    raise InputError(renames.get(err.file, err.file), err.line, 0, "", err.what,
                     err.fix) from None


def read(dt, loc: Locator, files, target=None, board=None) -> F.ZephyrFacts:
    out = F.ZephyrFacts(files=list(files), target=target,
                        board_dts=str(board) if board else None)
    mailboxes = {}
    for node in dt.node_iter():
        if node.parent is not None and "remote-ipi-id" in node.props:
            mb = _mailbox(node, loc)
            mailboxes[node.path] = mb
            out.mailboxes.append(mb)
    chosen = dt.get_node("/chosen") if dt.has_node("/chosen") else None
    for name in CHOSEN:
        if chosen is None or name not in chosen.props:
            continue
        try:
            target_node = chosen.props[name].to_path()
        except dts.DTError:
            continue
        if name == "zephyr,ipc":
            if target_node.path in mailboxes:
                out.chosen[name] = mailboxes[target_node.path]
            continue
        rs = dts.regs(target_node)
        if rs:
            base, size = rs[0]
            out.chosen[name] = F.Region(target_node.name.split("@")[0], base, size,
                                        _KIND[name], loc.node(target_node, "reg"),
                                        label=(target_node.labels or [None])[0],
                                        path=target_node.path, owner=out.name)
    hvl_nodes = set()
    for node in dt.node_iter():
        if HVL_COMPATIBLE in dts.strings(node, "compatible") and dts.status_ok(node):
            out.hvl.append(_hvl(dt, node, loc))
            hvl_nodes.add(node.path)
        elif "qemu,ivshmem" in dts.strings(node, "compatible") and dts.status_ok(node):
            out.ivshmem.append(F.ZephyrIvshmem((node.labels or [node.name])[0], node.path,
                                               loc.node(node)))
    for node in dt.node_iter():
        if "virtio,mmio" in dts.strings(node, "compatible") and dts.status_ok(node) and \
                (node.parent is None or node.parent.path not in hvl_nodes):
            out.virtio += _virtio(node, loc)
    for node in dt.node_iter():
        if node.name == "reserved-memory" and dts.status_ok(node):
            for child in node.nodes.values():
                rs = dts.regs(child)
                if rs and dts.status_ok(child):
                    out.regions.append(F.Region(
                        child.name.split("@")[0], rs[0][0], rs[0][1], "reserved",
                        loc.node(child, "reg"), label=(child.labels or [None])[0],
                        path=child.path, owner=out.name, no_map="no-map" in child.props))
    return out


def _hvl(dt, node, loc) -> F.HvlLink:
    """An openamp,virtio-hvl node: reg windows, vrings, pool (by reg-names), the
    pre-shared region its memory-region names, the ipm mailbox, and a device per
    enabled virtio,mmio child."""
    where = loc.node(node, "reg")
    label = (node.labels or [node.name.split("@")[0]])[0]
    name = label[len("amp_"):] if label.startswith("amp_") else label
    areas = dict(zip(dts.strings(node, "reg-names"), dts.regs(node)))
    missing = [n for n in HVL_AREAS if n not in areas]
    if missing:
        raise InputError(where.file, where.line, 0, "", f"the {HVL_COMPATIBLE} node "
                         f"{node.path} has no {', '.join(missing)} in reg / reg-names",
                         "give reg = <windows>, <vrings>, <pool> with reg-names = "
                         '"windows", "vrings", "pool"')
    shm = next(iter(dts.phandles(dt, node, "memory-region")), None)
    shm_regs = dts.regs(shm) if shm is not None else []
    if not shm_regs:
        w = loc.node(node)
        raise InputError(w.file, w.line, 0, "", f"the {HVL_COMPATIBLE} node {node.path} "
                         "has no memory-region (the pre-shared region it lies in)",
                         "add memory-region = <&the pre-shared region's node>")
    ipm = next(iter(dts.phandles(dt, node, "ipm")), None)
    if ipm is None:
        w = loc.node(node)
        raise InputError(w.file, w.line, 0, "", f"the {HVL_COMPATIBLE} node {node.path} "
                         "has no ipm (the IPI mailbox that carries the kicks)",
                         "add ipm = <&the driver's IPI mailbox>")
    region = F.Region((shm.labels or [shm.name.split("@")[0]])[0], *shm_regs[0], "hvl_shm",
                      loc.node(shm, "reg"), label=(shm.labels or [None])[0], path=shm.path)
    out = F.HvlLink(name, "zephyr", where.file, where, shm=region,
                    windows=areas["windows"], vrings=areas["vrings"], pool=areas["pool"],
                    ipi=(ipm.labels or [ipm.name])[0], ipi_where=loc.node(node, "ipm"))
    for child in node.nodes.values():
        if "virtio,mmio" in dts.strings(child, "compatible") and dts.status_ok(child):
            out.devices.append(_hvl_device(child, name, loc))
    out.devices.sort(key=lambda d: d.base)
    return out


def _hvl_device(node, link, loc) -> F.HvlDevice:
    found = _virtio(node, loc)
    if not found:
        w = loc.node(node)
        raise InputError(w.file, w.line, 0, "", f"virtio,mmio node {node.path} has no reg "
                         "(its window in the pre-shared region)",
                         "add reg = <address 0x200>")
    t = found[0]
    dev = next(iter(node.nodes.values()), None)
    name = dev.name if dev is not None else node.name.split("@")[0]
    if t.label and t.label.startswith(f"amp_{link}_"):
        name = t.label[len(f"amp_{link}_"):]
    return F.HvlDevice(name, t.base, t.size, t.where, device_id=t.device_id)


def _virtio(node, loc):
    rs = dts.regs(node)
    if not rs:
        return []
    dev = next(iter(node.nodes.values()), None)
    compat = dts.strings(dev, "compatible") if dev is not None else []
    ids = [int(c[len("virtio,device"):], 16) for c in compat
           if c.startswith("virtio,device") and c[len("virtio,device"):].isalnum()]
    return [F.VirtioMmio(rs[0][0], rs[0][1], loc.node(node, "reg"),
                         device_id=ids[0] if ids else None,
                         label=(dev.labels or [None])[0] if dev is not None else None)]


def _mailbox(node, loc):
    names = dts.strings(node, "reg-names")
    rs = dts.regs(node)
    return F.Mailbox((node.labels or [node.name])[0], node.path, loc.node(node),
                     local_id=dts.num(node.parent, "local-ipi-id"),
                     ipi_id=dts.num(node, "remote-ipi-id"),
                     buffers={n: a for n, (a, _) in zip(names, rs)})


def is_zephyr_source(path: Path, text: str) -> bool:
    """A Zephyr devicetree (overlay or generated zephyr.dts), not a Linux one."""
    if path.suffix == ".overlay" or path.name in ("zephyr.dts", "zephyr.dts.pre"):
        return True
    return "zephyr," in text and "/plugin/" not in text
