"""Devicetree files in, dtlib trees out: cpp where a source has includes, dtc for
.dtb/.dtbo, fdtoverlay for a base plus overlays.

dtlib keeps the file and line of every node and property (through cpp's line
markers too). It does not take /plugin/ overlays, so an overlay source is
given to it with that one directive replaced, on its own line, by empty
placeholder nodes for the labels the overlay refers to but does not define
(the base tree's zynqmp_ipi, zynqmp_firmware, ...): the line numbers stay the
overlay's own.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import InputError, UsageError

try:
    from devicetree import dtlib
    DTError = dtlib.DTError
except ImportError:             # checked in parse(): amp-config does not need it
    dtlib = None

    class DTError(Exception):
        """Stands in for dtlib.DTError; never raised."""

DTB_MAGIC = b"\xd0\x0d\xfe\xed"
_UNDEFINED = re.compile(r"undefined (?:node )?label '([^']+)'")
_PLUGIN = re.compile(r"/plugin/\s*;")
_INCLUDE = re.compile(r"^\s*#\s*include\b", re.MULTILINE)
_DTLIB_WHERE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+) \(column \d+\): (?P<what>.*)$",
                          re.DOTALL)
MAX_STUBS = 200


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UsageError(f"{name} is not installed; amp-lint and amp-import need it to read "
                         "devicetree files (Debian: apt-get install device-tree-compiler cpp)")
    return path


def _run(cmd, what, display):
    res = subprocess.run([str(c) for c in cmd], check=False, capture_output=True, text=True)
    if res.returncode:
        msg = (res.stderr or res.stdout).strip().splitlines()
        first = next((ln for ln in msg if "rror" in ln), msg[0] if msg else "failed")
        raise InputError(display, 0, 0, "", f"{what}: {first.strip()}",
                         "fix the devicetree source")
    return res


def parse(path: Path):
    """dtlib.DT(path): the one place the devicetree package is needed."""
    if dtlib is None:
        raise UsageError("amp-lint and amp-import read devicetree with python-devicetree "
                         "(the package 'devicetree', shipped in the dtsh wheel): "
                         "pip install dtsh")
    return dtlib.DT(str(path))


def dtlib_error(e: Exception, display: str, real: "str | None" = None) -> InputError:
    """An InputError from a dtlib message 'file:line (column c): what'."""
    text = str(e).strip()
    m = _DTLIB_WHERE.match(text)
    if m:
        file = str(Path(m["file"]))
        if real and Path(file).resolve() == Path(real).resolve():
            file = display
        return InputError(file, int(m["line"]), 0, "", m["what"].strip(),
                          "fix the devicetree source")
    return InputError(display, 0, 0, "", text, "fix the devicetree source")


def locate_reference(files, err: InputError) -> InputError:
    """dtlib names no line for an undefined label in a property ('/chosen: undefined node
    label 'x''): point at the first '&x' in the files the user gave."""
    m = _UNDEFINED.search(err.what)
    if err.line or not m:
        return err
    ref = re.compile(r"&" + re.escape(m[1]) + r"\b")
    for f in files:
        try:
            lines = Path(f).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for n, text in enumerate(lines, 1):
            if ref.search(text):
                return InputError(str(f), n, 0, "", err.what, err.fix)
    return err


def is_dtb(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == DTB_MAGIC


def is_plugin_source(text: str) -> bool:
    return bool(_PLUGIN.search(text))


def preprocess(path: Path, include_dirs=(), out_dir: "Path | None" = None) -> Path:
    """cpp a source that has #include lines (as Linux's and Zephyr's builds do)."""
    cmd = [tool("cpp"), "-nostdinc", "-undef", "-x", "assembler-with-cpp", "-D__DTS__"]
    for d in [path.parent, *include_dirs]:
        cmd += ["-I", str(d)]
    out = Path(out_dir) / (path.name + ".pre")
    _run(cmd + [str(path), "-o", str(out)], f"cpp could not preprocess {path.name}",
         str(path))
    return out


def load_source(path: Path, display: str, include_dirs=(),
                work: "Path | None" = None, known: "dict | None" = None) -> "dtlib.DT":
    """A .dts/.dtso/.overlay as a dtlib tree, line numbers those of the files. An
    overlay's references to labels it does not define become placeholder nodes; known
    ({label: (node name, base, size)}: the board's base devicetree reservations) makes
    those labels the reserved-memory nodes the base has."""
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise InputError(display, 0, 0, "", f"cannot read it: {e.strerror}") from None
    src = path
    if _INCLUDE.search(text):
        src = preprocess(path, include_dirs, work)
        text = src.read_text(errors="replace")
    if not is_plugin_source(text):
        return _parse(src, display, path)
    stubs = []
    body = text
    for _ in range(MAX_STUBS):
        holder = _holder(stubs, known or {})
        tmp = Path(work) / (path.name + ".plugin.dts")
        tmp.write_text(_PLUGIN.sub(lambda _m, h=holder: h, body, count=1))
        try:
            return parse(tmp)
        except DTError as e:
            m = _UNDEFINED.search(str(e))
            if not m or m[1] in stubs:
                raise _fix_name(dtlib_error(e, display, str(tmp)), tmp, display, path) from None
            stubs.append(m[1])
    raise InputError(display, 0, 0, "", "refers to too many labels it does not define")


def _holder(stubs: list, known: dict) -> str:
    """The text that stands for the base tree an overlay is applied to."""
    base = [s for s in stubs if s in known]
    text = " / { __amp_base__ { " + "".join(f"{s}: {s} {{ }}; " for s in stubs
                                            if s not in known) + "}; "
    if base:
        text += "reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges; "
        for s in base:
            name, addr, size = known[s]
            text += (f"{s}: {name}@{addr:x} {{ no-map; reg = <{addr >> 32:#x} "
                     f"{addr & 0xffffffff:#x} {size >> 32:#x} {size & 0xffffffff:#x}>; }}; ")
        text += "}; "
    return text + "};"


def _fix_name(err, tmp, display, path):
    if err.file in (str(tmp), tmp.name):
        return InputError(display, err.line, 0, "", err.what, err.fix)
    return err


def _parse(src, display, real):
    try:
        dt = parse(src)
    except DTError as e:
        raise dtlib_error(e, display, str(real)) from None
    return dt


def decompile(path: Path, display: str, work: Path) -> Path:
    out = Path(work) / (path.name + ".dts")
    _run([tool("dtc"), "-q", "-I", "dtb", "-O", "dts", "-o", out, path],
         f"dtc could not read {path.name} as a flattened devicetree", display)
    return out


def compile_dtb(src: Path, display: str, work: Path, include_dirs=()) -> Path:
    """A source (cpp'd when it includes) to a .dtb/.dtbo with symbols (-@)."""
    text = src.read_text(errors="replace")
    if _INCLUDE.search(text):
        src = preprocess(src, include_dirs, work)
    out = Path(work) / (Path(display).name + ".dtb")
    _run([tool("dtc"), "-q", "-@", "-I", "dts", "-O", "dtb", "-o", out, src],
         f"dtc could not compile {Path(display).name}", display)
    return out


def merge(base: Path, overlays, work: Path) -> Path:
    """fdtoverlay base + overlays (all .dtb/.dtbo) into one decompiled source."""
    out = Path(work) / "merged.dtb"
    _run([tool("fdtoverlay"), "-i", base, "-o", out, *overlays],
         "fdtoverlay could not apply the overlays", str(base))
    return decompile(out, str(base), work)


def workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="amp-import-")


# -- reading a tree -------------------------------------------------------------

def cells(node, name, default):
    p = node.props.get(name)
    try:
        return p.to_num() if p is not None else default
    except DTError:
        return default


def regs(node):
    """[(address, size)] of a node's reg, with its parent's cell counts."""
    p = node.props.get("reg")
    if p is None or node.parent is None:
        return []
    ac = cells(node.parent, "#address-cells", 2)
    sc = cells(node.parent, "#size-cells", 1)
    nums = _cells32(p)
    step = ac + sc
    if step == 0 or len(nums) % step:
        return []
    out = []
    for i in range(0, len(nums), step):
        addr = _join(nums[i:i + ac])
        size = _join(nums[i + ac:i + step])
        out.append((addr, size))
    return out


def _cells32(prop):
    v = prop.value
    return [int.from_bytes(v[i:i + 4], "big") for i in range(0, len(v) - len(v) % 4, 4)]


def _join(cs):
    n = 0
    for c in cs:
        n = (n << 32) | c
    return n


def strings(node, name):
    p = node.props.get(name)
    if p is None:
        return []
    try:
        return p.to_strings()
    except DTError:
        return []


def num(node, name):
    p = node.props.get(name)
    if p is None:
        return None
    try:
        return p.to_num()
    except DTError:
        return None


def status_ok(node):
    while node is not None:
        st = strings(node, "status")
        if st and st[0] not in ("okay", "ok"):
            return False
        node = node.parent
    return True


def phandle_args(dt, node, name, cells_prop):
    """[(target node, [args])] of a phandle-with-args property (mboxes, ...)."""
    p = node.props.get(name)
    if p is None:
        return []
    nums = _cells32(p)
    out, i = [], 0
    while i < len(nums):
        target = dt.phandle2node.get(nums[i])
        if target is None:
            break
        n = cells(target, cells_prop, 0)
        out.append((target, nums[i + 1:i + 1 + n]))
        i += 1 + n
    return out


def phandles(dt, node, name):
    """The nodes a phandle list property names (memory-region), from &label references
    or, in a decompiled .dtb, from the phandle numbers."""
    p = node.props.get(name)
    if p is None:
        return []
    try:
        return p.to_nodes()
    except DTError:
        return [dt.phandle2node[n] for n in _cells32(p) if n in dt.phandle2node]
