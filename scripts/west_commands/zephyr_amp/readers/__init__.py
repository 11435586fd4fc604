"""Readers: the files of an existing AMP setup -> facts.Facts.

read_files() sorts the inputs by what they are, not by their names alone:
an ELF (by magic), a flattened devicetree (.dtb/.dtbo, by magic), an HVL
device file (.json, or JSON text), a C header (.h), QEMU or ivshmem-server
arguments (.args, or text whose first word is an option or the program), a
Zephyr devicetree (.overlay, zephyr.dts, or a source that sets zephyr,*
properties) or a Linux devicetree (.dts/.dtso). Several Linux files with exactly one full
tree among them are that base with the others as overlays, applied with
fdtoverlay; each Zephyr overlay is one Zephyr image, read on top of its board
DTS.
"""

from dataclasses import dataclass, field
from pathlib import Path

from .. import facts as F
from ..errors import InputError, UsageError
from . import dts, elf, files, linux, qemu, zephyr

DT_SUFFIXES = (".dts", ".dtsi", ".dtso", ".overlay")


@dataclass
class Options:
    zephyr_dts: str = None         # a Zephyr tree with boards/ (else $ZEPHYR_BASE, workspace)
    target: str = None             # Zephyr board target of the overlays
    board: object = None           # boards.Board, when known: targets and arch
    include_dirs: list = field(default_factory=list)   # cpp -I for Linux sources
    infer: object = None           # facts -> boards.Board: for overlays when board is None


def read_files(paths, opts: Options = None) -> F.Facts:
    opts = opts or Options()
    if not paths:
        raise UsageError("no input files: give the Linux devicetree, the Zephyr overlay "
                         "and/or the firmware ELF of the setup")
    out = F.Facts()
    lin, zeph = [], []
    with dts.workdir() as tmp:
        work = Path(tmp)
        for p in paths:
            kind, text = _classify(Path(p), str(p))
            if kind == "elf":
                out.elves.append(elf.read(p, str(p)))
            elif kind in _TEXT:
                _TEXT[kind](out, text, str(p))
            elif kind == "zephyr":
                zeph.append(Path(p))
            else:
                lin.append((Path(p), kind, text))
        out.linux = _linux(lin, opts, work)
        if zeph and opts.board is None and opts.target is None and opts.infer:
            out.board = opts.infer(out)
        for k, p in enumerate(zeph):
            sub = work / f"z{k}"
            sub.mkdir()
            out.zephyr.append(_zephyr(p, opts, sub, opts.board or out.board))
    return out


def _classify(path: Path, display: str):
    if not path.is_file():
        raise InputError(display, 0, 0, "", "no such file" if not path.exists() else
                         "is not a file", "give the path of a devicetree file or an ELF")
    if elf.is_elf(path):
        return "elf", None
    if dts.is_dtb(path):
        return "dtb", None
    raw = path.read_bytes()[:1 << 20]
    if b"\0" in raw[:4096]:
        raise InputError(display, 0, 0, "", "is a binary file that is neither an ELF nor a "
                         "flattened devicetree (.dtb/.dtbo)",
                         "give a .dts/.dtso/.overlay, a .dtb/.dtbo or a firmware ELF")
    text = raw.decode("utf-8", "replace")
    if path.suffix not in DT_SUFFIXES:
        kind = _other_kind(path, text)
        if kind:
            return kind, text
    if path.suffix not in DT_SUFFIXES and "/dts-v1/" not in text:
        raise InputError(display, 0, 0, "", "is not a devicetree source (no /dts-v1/, and "
                         "not named .dts, .dtso or .overlay), a .dtb/.dtbo, an ELF, QEMU or "
                         "ivshmem-server arguments (.args), an HVL device file (.hvl.json) "
                         "or a C header (.h)",
                         "give the Linux devicetree, the Zephyr overlay, the firmware ELF "
                         "or one of those")
    if zephyr.is_zephyr_source(path, text):
        return "zephyr", text
    return "source", text


def _other_kind(path: Path, text: str):
    """The kinds that are not devicetree: by name first, then by content."""
    if path.suffix == ".json" or files.is_json(text) and path.suffix not in (".yaml", ".yml"):
        return "hvl"
    if path.suffix == ".h":
        return "header"
    if qemu.looks_like_args(path, text):
        return "args"
    return None


def _read_args(out, text, display):
    args = qemu.tokens(text, display)
    if qemu.is_server(Path(display), args):
        out.servers.append(qemu.read_server(text, display))
    else:
        out.qemu.append(qemu.read_qemu(text, display))


_TEXT = {"hvl": lambda out, text, d: out.hvl.append(files.read_hvl(text, d)),
         "header": lambda out, text, d: out.headers.append(files.read_header(text, d)),
         "args": _read_args}


def _linux(items, opts, work):
    """LinuxFacts per tree: one merged tree when there is one base and overlays."""
    bases = [i for i in items if not _is_overlay(i, work)]
    overlays = [i for i in items if i not in bases]
    if len(bases) == 1 and overlays:
        return [_merged(bases[0], overlays, opts, work)]
    out = []
    for k, (p, kind, _text) in enumerate(items):
        sub = work / f"l{k}"
        sub.mkdir()
        out.append(_single(p, kind, opts, sub))
    return out


def _is_overlay(item, work):
    p, kind, text = item
    if kind == "source":
        return dts.is_plugin_source(text)
    out = dts.decompile(p, str(p), work)
    t = out.read_text(errors="replace")
    return "__fixups__" in t or "fragment@" in t or "__overlay__" in t


def _single(p, kind, opts, work):
    display = str(p)
    if kind == "dtb":
        src = dts.decompile(p, display, work)
        dt = dts.load_source(src, display, work=work)
        renames = {str(src): display, str(work / (src.name + ".plugin.dts")): display}
        return linux.read(dt, linux.Locator(renames, binary=[display]), [display])
    else:
        dt = dts.load_source(p, display, opts.include_dirs, work, known=_base_labels(opts))
        renames = {str(work / (p.name + ".plugin.dts")): display,
                   str(work / (p.name + ".pre")): display}
    return linux.read(dt, linux.Locator(renames), [display])


def _base_labels(opts) -> dict:
    """{label: (node name, base, size)} of what the board's base Linux devicetree
    reserves, for an overlay read on its own that references them."""
    board = getattr(opts, "board", None)
    return {r.label: (r.name, r.base, r.size) for r in board.linux_reserved} if board else {}


def _merged(base, overlays, opts, work):
    """Base + overlays with fdtoverlay; facts from the merged tree, each fact located in
    the overlay (or base) that states it when that file is a source."""
    blobs = []
    for k, (p, kind, _t) in enumerate([base, *overlays]):
        sub = work / f"m{k}"
        sub.mkdir()
        blobs.append(p if kind == "dtb" else dts.compile_dtb(p, str(p), sub, opts.include_dirs))
    merged = dts.merge(blobs[0], blobs[1:], work)
    dt = dts.load_source(merged, str(base[0]), work=work)
    display = " + ".join(str(i[0]) for i in [base, *overlays])
    facts = linux.read(dt, linux.Locator({str(merged): display}, binary=[display]),
                       [str(i[0]) for i in [base, *overlays]], merged=True)
    _relocate(facts, [base, *overlays], opts, work)
    return facts


def _relocate(facts, items, opts, work):
    """Point merged facts at the source file and line that last stated them."""
    places = {}
    for k, (p, kind, _t) in enumerate(items):
        if kind == "dtb":
            continue
        sub = work / f"r{k}"
        sub.mkdir()
        try:
            one = _single(p, kind, opts, sub)
        except InputError:
            continue
        for r in one.regions:
            places[(r.name, r.base, r.size)] = r.where
        for m in one.mailboxes:
            places[("mbox", m.label)] = m.where
        for rm in one.remotes:
            places[("remote", _cluster(rm), rm.name)] = rm.where
        if k == 0:
            facts.base_regions = {(r.name, r.base, r.size) for r in one.regions}
    for rm in facts.remotes:
        rm.where = places.get(("remote", _cluster(rm), rm.name), rm.where)
    for r in facts.regions + [x for rm in facts.remotes for x in rm.regions]:
        r.where = places.get((r.name, r.base, r.size), r.where)
    for m in facts.mailboxes:
        m.where = places.get(("mbox", m.label), m.where)


def _cluster(rm):
    return (rm.cluster or "").rsplit("/", 1)[-1]


def _zephyr(p, opts, work, board):
    display = str(p)
    text = p.read_text(errors="replace")
    if p.name == "zephyr.dts" or ("/dts-v1/" in text and "#include" not in text
                                  and p.suffix != ".overlay"):
        dt = dts.load_source(p, display, work=work)
        return zephyr.read(dt, linux.Locator({}), [display], target=opts.target)
    root = zephyr.zephyr_root(opts.zephyr_dts)
    if root is None:
        raise UsageError(f"{display}: a Zephyr overlay is read on top of its board DTS, and "
                         "no Zephyr tree was found: pass --zephyr-dts DIR (a Zephyr tree, or "
                         "its devicetree files), set ZEPHYR_BASE, or run in a west workspace")
    target = opts.target or _target_for(p, root, board)
    if target is None:
        raise InputError(display, 0, 0, "", "cannot tell which Zephyr board this overlay "
                         "is for", "give --target (e.g. kv260_r5), or --board")
    arches = _arches(board, target)
    dt, board = zephyr.load([p], [display], target, root, work, arches)
    return zephyr.read(dt, linux.Locator({}), [display], target=target, board=board)


def _target_for(p, root, board):
    if zephyr.board_dts(root, p.stem):
        return p.stem
    if board is not None:
        found = sorted({c.zephyr_target for c in board.cores.values() if c.zephyr_target})
        if len(found) == 1:
            return found[0]
    return None


def _arches(board, target):
    if board is not None:
        for c in board.cores.values():
            if c.zephyr_target == target:
                return ("arm64",) if c.arch == "aarch64" else ("arm",)
    return ("arm", "arm64")


def resolve_board(name, board_roots=()):
    """boards.Board for --board NAME, or None; InputError when unknown."""
    if not name:
        return None
    from .. import boards
    try:
        return boards.load_board(name, board_roots)
    except LookupError:
        raise InputError("--board", 0, 0, "", f"unknown board '{name}'",
                         boards.unknown_board_hint(name, board_roots)) from None


def add_arguments(parser) -> None:
    """The input options amp-lint and amp-import share."""
    parser.add_argument("files", metavar="FILE", nargs="+",
                        help="Linux .dts/.dtso/.dtb/.dtbo, Zephyr .overlay or zephyr.dts, "
                        "firmware ELF, HVL device file <link>.hvl.json, QEMU or "
                        "ivshmem-server arguments (qemu.args, ivshmem-server.args: one "
                        "per line, or shell words), C header with the layout's #defines "
                        "(amp_layout.h)")
    parser.add_argument("--board", metavar="NAME",
                        help="the board (boards/NAME.yaml): TCM banks, mailboxes, Zephyr "
                        "targets")
    parser.add_argument("--board-root", metavar="DIR", action="append", default=[],
                        help="also look for NAME.yaml in DIR (may be given more than once)")
    parser.add_argument("--zephyr-dts", metavar="DIR",
                        help="a Zephyr tree (or its devicetree files) with the board DTS "
                        "(default: $ZEPHYR_BASE, else the west workspace's zephyr/)")
    parser.add_argument("--target", metavar="BOARD",
                        help="Zephyr board target of the overlays (default: the overlay's "
                        "file name, e.g. kv260_r5.overlay, or the --board's)")
    parser.add_argument("-I", "--include-dir", metavar="DIR", action="append", default=[],
                        help="cpp include directory for Linux sources (e.g. the kernel's "
                        "include/ and arch/arm64/boot/dts)")


def options(args, board, infer=None) -> Options:
    return Options(infer=infer, zephyr_dts=args.zephyr_dts, target=args.target, board=board,
                   include_dirs=list(args.include_dir))


def infer_board(facts, board_roots=()):
    """The bundled (or --board-root) board the facts name, or None."""
    from .. import boards
    cands = []
    for name in boards.known_boards(board_roots):
        try:
            b = boards.load_board(name, board_roots)
        except (LookupError, InputError):
            continue
        targets = {c.zephyr_target for c in b.cores.values()}
        compat = {cl.linux_node.compatible for cl in b.clusters.values() if cl.linux_node}
        if any(z.target in targets for z in facts.zephyr if z.target) or \
                any(compat & {c for rm in lf.remotes for c in
                              _cluster_compat(lf, rm)} for lf in facts.linux):
            cands.append(b)
    return cands[0] if len(cands) == 1 else None


def _cluster_compat(lf, rm):
    return {"xlnx,zynqmp-r5fss"} if "xlnx,zynqmp-r5f" in rm.compatible or \
        (rm.name.startswith("r5f@")) else set()
