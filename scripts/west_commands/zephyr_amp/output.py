"""Generated files -> an output directory, all or nothing, never over the user's data.

write_outputs(files, out_dir) puts a whole set of generated files at out_dir.

Whose directory.  An output directory carries MARKER, an empty directory named
`.zephyr-amp-output` (a directory, not a file, so that every listing of the
generated *files* -- golden tests, amp-build's "unchanged?" check -- sees exactly
what render() made).  An existing out_dir is replaced only when it is
  - empty, or
  - marked, or
  - written by an amp-config older than the marker: its layout.json is one of
    ours (JSON, "format": "zephyr-amp-layout") AND every file in it has a name
    amp-config writes (the new set, or GENERATED_NAMES).  A folder of the user's
    that merely holds a layout.json -- a copy kept beside their notes -- fails the
    second test and is refused; what such a legacy directory can lose is only
    files amp-config itself would write again.
A symbolic link at out_dir is refused, never followed or replaced: the link's
target is named in the message so that the user can pass it as -o.

The swap.  New files go into a sibling temporary directory .NAME.amp-tmp-XXXX
(marker first, then every file).  When out_dir exists the two
directories are exchanged with one renameat2(RENAME_EXCHANGE) (Linux; macOS:
renamex_np(RENAME_SWAP)): at every instant out_dir is the whole old or the whole
new output.  The temporary directory then holds the old output and is removed.
Where the exchange is not available (another OS, a file system without it) the
swap is two renames: out_dir -> .NAME.amp-old-XXXX, then tmp -> out_dir; between
them out_dir is missing, and the next run puts the old one back first.

Leftovers.  Every run first removes (or, for a stranded old output, restores)
the siblings an interrupted run left: .NAME.amp-tmp-*, .NAME.amp-old-*, and the
.NAME.XXXXXXXX / .NAME.old.XXXXXXXX folders of earlier versions -- each only when
it is provably ours (empty, marked, or holding our layout.json).

No fsync(): it made a write 12 times slower (21 ms against 1.7 ms for the
12 files of kv260-rpmsg on ext4) and guards only against a power cut, after
which a file may be short; the outputs are reproducible and the next run, which
compares bytes before it skips a write, replaces them.

Writes into one parent directory are serialised with flock() on that directory,
so that two runs cannot clean up each other's temporary directory.
"""

import ctypes
import errno
import json
import os
import platform
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from . import names
from .errors import OutputError, UsageError, shown

MARKER = ".zephyr-amp-output"
LEGACY_MARKER = "layout.json"
LAYOUT_FORMAT = "zephyr-amp-layout"
# Every name amp-config has written into an output directory (for legacy outputs).
GENERATED_NAMES = frozenset({
    "amp.overlay", "amp.conf", "resource_table.c", "resource_table.h", "amp_layout.h",
    "amp_sections.ld", "amp_memory.ld", "amp.cmake", "amp.dtso", "amp_hvl.ld", "qemu.args",
    "ivshmem-server.args", "run-qemu.sh", "layout.json", "memory-map.svg", "memory-map.txt"})
_GENERATED_SUFFIXES = (".hvl.json",)
_TMP, _OLD = "amp-tmp-", "amp-old-"
_LEGACY_TMP = re.compile(r"[a-z0-9_]{8}")


def write_outputs(files: dict, out_dir) -> list:
    """Write every file of {relative path: text} at out_dir, or none; returns their paths."""
    shown_dir = out_dir
    out = Path(os.path.abspath(out_dir))
    rels = sorted(files)
    for rel in rels:
        _check_rel(rel)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {shown(shown_dir)}: {e.strerror}") from None
    with _Lock(parent):
        _clean_leftovers(parent, out.name)
        exists = _inspect(out, shown_dir, files)
        if exists and _is_ours(out) and _unchanged(out, files):
            return [Path(out_dir) / rel for rel in rels]
        tmp = None
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{_TMP}", dir=parent))
            _fill(tmp, files)
            _swap(tmp, out, exists)
        except OSError as e:
            if tmp is not None and tmp.exists() and _is_ours(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            raise UsageError(f"cannot write {shown(shown_dir)}: {e.strerror}") from None
        shutil.rmtree(tmp, ignore_errors=True)     # now the old output, if there was one
    return [Path(out_dir) / rel for rel in rels]


def is_output_dir(path) -> bool:
    """True if path is a (real, not linked) directory amp-config marked as its output."""
    return _is_ours(Path(path))


# -- checks --------------------------------------------------------------------

def _check_rel(rel):
    """Every generated path is relative, inside the output, of file names every
    file system takes (the model checks names first; this is the last line)."""
    parts = rel.split("/")
    problem = "" if parts[-1] != MARKER else "is the output marker's name"
    for part in parts:
        problem = problem or names.file_name_problem(part)
    if problem:
        raise OutputError(f"refusing to write '{shown(rel)}': the file name {problem}")


def _inspect(out, shown_dir, files):
    """False when out is absent; True when it may be replaced; raises OutputError otherwise."""
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise UsageError(f"cannot read {shown(shown_dir)}: {e.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(out)
        raise OutputError(f"{shown(shown_dir)} is a symbolic link to {shown(target)}; amp-config "
                          "replaces its output directory whole and does not follow links; give "
                          f"-o {shown(target)} (the directory itself) or another DIR")
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{shown(shown_dir)} exists and is not a directory; choose another -o")
    if _is_ours(out) or not any(out.iterdir()):
        return True
    if _is_legacy_dir(out):
        foreign = _first_foreign(out, files)
        if foreign is None:
            return True
    else:
        foreign = _first_foreign(out, files) if not (out / LEGACY_MARKER).exists() \
            else LEGACY_MARKER
    raise OutputError(f"{shown(shown_dir)} is not empty and was not written by west amp-config"
                      + (f" (it holds {shown(foreign)})" if foreign else "")
                      + "; choose another -o DIR")


def _is_ours(path):
    marker = path / MARKER
    try:
        return (stat.S_ISDIR(os.lstat(path).st_mode) and stat.S_ISDIR(os.lstat(marker).st_mode)
                and not os.listdir(marker))
    except OSError:
        return False


def _first_foreign(out, files):
    """The first entry (in sorted order) that amp-config would not have written."""
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(base / d)]:
            path = base / name
            rel = path.relative_to(out).as_posix()
            generated = name in GENERATED_NAMES or name.endswith(_GENERATED_SUFFIXES)
            if (rel in files or generated) and path.is_file() and not path.is_symlink():
                continue
            return rel
    return None


def _unchanged(out, files):
    """The output already holds exactly these bytes (nothing to do; mtimes stay)."""
    on_disk = set()
    for p in out.rglob("*"):
        if p.is_file() or p.is_symlink():
            on_disk.add(p.relative_to(out).as_posix())
    if on_disk != set(files):
        return False
    for rel, text in files.items():
        path = out / rel
        if path.is_symlink() or path.read_bytes() != text.encode("utf-8"):
            return False
        if rel.endswith(".sh") and stat.S_IMODE(path.stat().st_mode) != 0o755:
            return False
    return True


# -- writing -------------------------------------------------------------------

def _fill(tmp, files):
    os.chmod(tmp, 0o755)
    os.mkdir(tmp / MARKER)
    made = {tmp}
    for rel in sorted(files):
        path = tmp / rel
        for d in reversed(path.parents):
            if d not in made and tmp in d.parents:
                os.mkdir(d)
                made.add(d)
        _write_file(path, files[rel].encode("utf-8"), rel.endswith(".sh"))


def _write_file(path, data, executable):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o777 if executable else 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    if executable:
        os.chmod(path, 0o755)


def _swap(tmp, out, exists):
    if not exists:
        os.rename(tmp, out)
    else:
        try:
            _exchange(tmp, out)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.{_OLD}", dir=out.parent))
            os.rmdir(old)
            os.rename(out, old)     # from here to the next line out is missing: the
            os.rename(tmp, out)     # next run restores `old` (see _clean_leftovers)
            os.rename(old, tmp)


_AT_FDCWD = -100
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "riscv64": 276, "armv7l": 382, "i686": 353,
                  "ppc64le": 357, "s390x": 347}


def _exchange(a, b):
    """Atomically exchange two directory entries (both must exist)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fa, fb = os.fsencode(a), os.fsencode(b)
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        result = libc.renamex_np(fa, fb, ctypes.c_uint(0x2))           # RENAME_SWAP
    elif sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        result = libc.renameat2(_AT_FDCWD, fa, _AT_FDCWD, fb, ctypes.c_uint(2))  # EXCHANGE
    elif sys.platform.startswith("linux") and platform.machine() in _SYS_RENAMEAT2:
        result = libc.syscall(ctypes.c_long(_SYS_RENAMEAT2[platform.machine()]),
                              _AT_FDCWD, fa, _AT_FDCWD, fb, ctypes.c_uint(2))
    else:
        raise OSError(errno.ENOSYS, "no atomic exchange of directories here")
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


# -- leftovers and locking ---------------------------------------------------------

def _clean_leftovers(parent, name):
    """Remove what an interrupted run left beside out_dir; put a stranded old output back."""
    out = parent / name
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        return
    lead = f".{name}."
    for entry in entries:
        if not entry.startswith(lead):
            continue
        rest = entry[len(lead):]
        path = parent / entry
        if rest.startswith(_OLD) and not os.path.lexists(out) and _is_ours(path):
            os.rename(path, out)                      # the fallback swap was cut short
        elif rest.startswith((_TMP, _OLD)) and (_is_ours(path) or _is_empty_dir(path)
                                                 or _is_legacy_dir(path)):
            shutil.rmtree(path, ignore_errors=True)
        elif rest.startswith("old.") and _is_legacy_dir(path / "x"):
            if not os.path.lexists(out):
                os.rename(path / "x", out)
            shutil.rmtree(path, ignore_errors=True)
        elif _LEGACY_TMP.fullmatch(rest) and (_is_empty_dir(path) or _is_legacy_dir(path)):
            shutil.rmtree(path, ignore_errors=True)


def _is_empty_dir(path):
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode) and not os.listdir(path)
    except OSError:
        return False


def _is_legacy_dir(path):
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return False
        with open(path / LEGACY_MARKER, encoding="utf-8") as f:
            doc = json.load(f)
        return isinstance(doc, dict) and doc.get("format") == LAYOUT_FORMAT
    except (OSError, ValueError):
        return False


class _Lock:
    """flock() on the parent directory for the duration of one write (POSIX only)."""

    def __init__(self, parent):
        self.parent = parent
        self.fd = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:         # pragma: no cover - Windows
            return self
        try:
            self.fd = os.open(self.parent, os.O_RDONLY)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            self.__exit__()
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
