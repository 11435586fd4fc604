"""What `west amp-build` remembers between runs, and the digests that decide it.

Two records live in the build root, both plain JSON:

    amp/.<system>.configured.json   which inputs produced amp/<system>/: the
                                    system YAML's bytes, the board roots and
                                    their board files, this library's code and
                                    templates; and the sha256 of every file
    <entry>/amp-build.json          the stamp of an entry's last passing build
                                    (written by build.py)

A run whose system, boards and library are the ones recorded, and whose
generated files are still the recorded bytes, takes the files from disk
instead of configuring the system again: an up-to-date run reads YAML only
for the matrix and imports neither the amp-config pipeline (jinja2,
pykwalify) nor the ELF checker (pyelftools).

Nothing here imports the pipeline; everything is hashing, reading and
`git status`.
"""

import functools
import hashlib
import json
import os
import subprocess
import threading
from pathlib import Path

from . import REPO_ROOT

LIBRARY = Path(__file__).resolve().parent          # zephyr_amp/
CONFIGURED_FORMAT = "zephyr-amp-build-configured"
MARKER = "layout.json"      # the file amp-config writes into every output folder


# -- digests ------------------------------------------------------------------

def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tree_digest(*folders, suffixes=None) -> str:
    """sha256 over the relative paths and bytes of every file under the folders
    (sorted; __pycache__ and dot folders left out; only `suffixes` when given)."""
    h = hashlib.sha256()
    for folder in folders:
        folder = Path(folder)
        h.update(f"\0{folder.name}\0".encode())
        for rel, path in _files(folder, suffixes):
            h.update(rel.encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def _files(folder, suffixes=None):
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
        for name in filenames:
            if suffixes is None or name.endswith(suffixes):
                path = os.path.join(dirpath, name)
                out.append((os.path.relpath(path, folder).replace(os.sep, "/"), path))
    return sorted(out)


@functools.cache
def library_digest() -> str:
    """This library's code and templates: what turns a system into files and
    checks an ELF. A change to either makes every record stale."""
    return tree_digest(LIBRARY, REPO_ROOT / "templates")


def boards_digest(roots) -> str:
    """The board files (*.yaml) of every board root, in search order."""
    h = hashlib.sha256()
    for root in roots:
        h.update(f"\0{root}\0".encode())
        if Path(root).is_dir():
            for rel, path in _files(root, (".yaml", ".yml")):
                if "/" not in rel:
                    h.update(rel.encode() + b"\0")
                    with open(path, "rb") as f:
                        h.update(f.read())
    return h.hexdigest()


# -- the configure record -------------------------------------------------------

def configured_key(system, board_roots, zephyr_version=None) -> str:
    """What decides a system's generated files, short of its board files: the
    system's path and bytes, the --board-root list, the targeted Zephyr version
    and this library."""
    doc = {"system": str(system), "system_sha256": sha256_file(system),
           "board_roots": [str(r) for r in board_roots], "library": library_digest()}
    if zephyr_version:
        doc["zephyr_version"] = zephyr_version
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def record_path(out_dir) -> Path:
    out_dir = Path(out_dir)
    return out_dir.parent / f".{out_dir.name}.configured.json"


def recall(out_dir, key):
    """{relative path: text} of out_dir when its record says `key` made it, its
    board files are unchanged and every file is still the recorded bytes; else
    None (configure again)."""
    try:
        rec = json.loads(record_path(out_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("format") != CONFIGURED_FORMAT \
            or rec.get("key") != key or not isinstance(rec.get("files"), dict):
        return None
    if rec.get("boards") != boards_digest(rec.get("board_roots") or []):
        return None
    out_dir = Path(out_dir)
    try:
        on_disk = {rel for rel, _ in _files(out_dir)}
        if on_disk != set(rec["files"]):
            return None
        files = {}
        for rel, digest in rec["files"].items():
            text = (out_dir / rel).read_text(encoding="utf-8")
            if sha256_text(text) != digest:
                return None
            files[rel] = text
    except (OSError, UnicodeDecodeError):
        return None
    return files


def remember(out_dir, key, board_roots, files):
    """Record that `key` (with these board roots: all of them, in search order)
    made out_dir's `files`. Best effort: a record that cannot be written only
    costs a configure next time."""
    rec = {"format": CONFIGURED_FORMAT, "key": key,
           "board_roots": [str(r) for r in board_roots],
           "boards": boards_digest(board_roots),
           "files": {rel: sha256_text(text) for rel, text in sorted(files.items())}}
    path = record_path(out_dir)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def forget(out_dir):
    record_path(out_dir).unlink(missing_ok=True)


# -- revisions of source trees ----------------------------------------------------

class Revisions:
    """Revision of the tree that holds a path, once per git repository per run:
    'git:<HEAD>' when clean, plus '+dirty:<hash of the diff and untracked files>'
    when not; a content hash of the folder when it is not in a git repository
    (or git cannot read it)."""

    def __init__(self, zephyr, exclude=None):
        self._cache = {}
        self.exclude = Path(exclude) if exclude else None   # the build root, if in a repo
        self._lock = threading.Lock()       # jobs ask from several threads: compute once
        self.zephyr = Path(zephyr)

    def of(self, path):
        path = Path(path)
        with self._lock:
            if path not in self._cache:
                top = git_toplevel(path)
                rev = None
                if top is not None:
                    if top not in self._cache:
                        self._cache[top] = git_revision(top, self.exclude)
                    rev = self._cache[top]
                self._cache[path] = rev or "content:" + tree_digest(path)[:16]
            return self._cache[path]

    def of_zephyr(self):
        """The revision of the tree `west build` comes from."""
        return self.of(self.zephyr) if self.zephyr.is_dir() else "absent"


def git_toplevel(path):
    """The work tree holding path: the nearest folder upwards with a .git entry
    (a folder, or the file of a worktree or submodule); None outside git."""
    path = Path(path).resolve()
    for folder in (path, *path.parents):
        if os.path.lexists(folder / ".git"):
            return folder
    return None


def _git(cwd, *args):
    try:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError:
        return None
    return r.stdout if r.returncode == 0 else None


def git_revision(top, exclude=None):
    """HEAD, and a hash of the changes when the tree is dirty, from one `git
    status` (a second command, `git diff`, only when dirty). Our own build root
    is left out when it lies inside the repository (its outputs are not
    inputs). None when git cannot read the tree."""
    spec = []
    if exclude is not None and exclude.is_relative_to(top):
        spec = ["--", ".", f":(exclude){exclude.relative_to(top).as_posix()}"]
    status = _git(top, "status", "--porcelain=v2", "--branch", "-z",
                  "--untracked-files=all", *spec)
    if status is None:
        return None
    head, changes, untracked = "no-commit", [], []
    items = iter(status.split(b"\0"))
    for item in items:
        if item.startswith(b"# branch.oid "):
            oid = item[len(b"# branch.oid "):].decode()
            head = oid if oid != "(initial)" else "no-commit"
        elif item.startswith(b"# ") or not item:
            continue
        else:
            changes.append(item)
            if item.startswith(b"2 "):              # a rename: its origin path follows
                changes.append(next(items, b""))
            elif item.startswith(b"? "):
                untracked.append(item[2:])
    if not changes:
        return f"git:{head}"
    h = hashlib.sha256(b"\0".join(changes))
    h.update(_git(top, "diff", "HEAD", "--binary", *spec) or b"")
    for rel in untracked:
        p = top / os.fsdecode(rel)
        if p.is_file():
            h.update(rel + b"\0" + p.read_bytes())
    return f"git:{head}+dirty:{h.hexdigest()[:16]}"
